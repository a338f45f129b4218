"""Real clients for the scenarios' verifier tests, run from this machine (the lab's
client place): curl for HTTP(S), TLS contexts that verify the lab's certificates,
mail to the stand-in Hubs and a look in their mailboxes.

A test module imports it with:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # molecule/
"""

from __future__ import annotations

import difflib
import json
import os
import poplib
import shlex
import ssl
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from typing import NamedTuple

HOST = "mail.mydomain.local"
CLIENT = "10.89.60.1"  # this machine, on the lab bridge
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))
from nodessh import ssh_vars as lab_ssh  # noqa: E402,F401  (the tests' own inventories reach nodes as molecule does)


class Standin(NamedTuple):
    container: str
    address: str
    network_alias: tuple[str, ...]  # its name on the lab network: the first set's only


def standin(host: str) -> Standin:
    """The container and address of stand-in ``host`` (cas1, hub2 ...) in this scenario's set.

    make test runs the scenarios in lanes: those that disturb a CAS (stop, freeze, cut off) use a set
    of stand-ins of their lane's own (lab/env.sh LAB_STANDINS_B, _C; the scenario's verifier env
    LAB_STANDIN_SET: b or c), the others the first set; the host names are the same in every set."""
    which = os.environ.get("LAB_STANDIN_SET", "a").lower()
    variable = "LAB_STANDINS" if which == "a" else f"LAB_STANDINS_{which.upper()}"
    for entry in os.environ[variable].split():
        name, hostname, address, _role, _kind = entry.split(":")
        if hostname == host:
            return Standin(name, address, (host,) if which == "a" else ())
    raise KeyError(f"no stand-in {host!r} in {variable}")


class NamedContext(ssl.SSLContext):
    """Verifies the server's certificate for ``expected_name``, whatever address we dial."""

    expected_name = HOST

    def wrap_socket(self, sock, *args, **kwargs):  # type: ignore[override]
        kwargs["server_hostname"] = self.expected_name
        return super().wrap_socket(sock, *args, **kwargs)


def tls_context(name: str = HOST) -> ssl.SSLContext:
    context = NamedContext(ssl.PROTOCOL_TLS_CLIENT)
    context.expected_name = name
    context.load_verify_locations(os.environ["LAB_CA_CERT"])
    return context


def curl(node: str, url: str, *args: str) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of one request through the appliance at ``node``, as a browser makes it."""
    out = subprocess.run(
        ["curl", "-sS", "-D", "-", "--max-time", "30", "--cacert", os.environ["LAB_CA_CERT"],
         "--resolve", f"{HOST}:443:{node}", "--resolve", f"{HOST}:80:{node}", *args, url],
        capture_output=True, text=True, timeout=40, check=True,
    ).stdout
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def pop3_login(node: str, port: int = 110, secure: bool = False) -> bytes:
    """Log the lab user in over POP3 (POP3S when ``secure``) through ``node``; the CAS's welcome line."""
    client = poplib.POP3_SSL(node, port, context=tls_context(), timeout=10) if secure else poplib.POP3(node, port, timeout=10)
    try:
        welcome = client.getwelcome()
        assert welcome.startswith(b"+OK") and b"cas" in welcome, welcome
        client.user("lab")
        assert client.pass_("labpass").startswith(b"+OK")
        assert client.stat()[0] >= 0
    finally:
        client.quit()
    return welcome


def message(subject: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "lab@mydomain.local"
    mail["To"] = "hubuser@mydomain.local"
    mail["Subject"] = subject
    mail.set_content("through the appliance\n")
    return mail


def delivered(subject: str, limit: float = 20) -> set[str]:
    """The stand-in Hubs whose mailbox received ``subject`` (waits up to ``limit`` seconds)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        hubs = {
            hub for hub in ("hub1", "hub2")
            if subprocess.run(["podman", "exec", standin(hub).container, "grep", "-q", subject, "/var/mail/hubuser"],
                              check=False, timeout=30).returncode == 0
        }
        if hubs:
            return hubs
        time.sleep(0.5)
    return set()


def connect_from(container: str, address: str, port: int) -> str:
    """Open a TCP connection from inside a lab container (another client address than
    this machine's): 'open', 'refused' or 'timeout' (the firewall dropped it)."""
    probe = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(({address!r}, {port}), timeout=2).close(); print('open')\n"
        "except ConnectionRefusedError: print('refused')\n"
        "except OSError: print('timeout')\n"
    )
    result = subprocess.run(["podman", "exec", container, "python3", "-c", probe], capture_output=True, text=True, timeout=30, check=True)
    return result.stdout.strip()


def haproxy_command(host, command: str) -> str:
    """Ask haproxy on the node (a testinfra host) over its admin socket, as an operator would."""
    script = (
        "import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/haproxy/admin.sock'); "
        f"s.sendall({(command + chr(10)).encode()!r}); print(s.makefile().read())"
    )
    result = host.run(f"python3 -c {shlex.quote(script)}")
    assert result.rc == 0, result.stderr
    return result.stdout


def server_states(host, backend: str) -> dict[str, str]:
    """{server: 'UP' | 'DOWN' | ...} of one backend, from haproxy's own view."""
    states = {}
    for line in haproxy_command(host, "show stat").splitlines():
        fields = line.split(",")
        if len(fields) > 17 and fields[0] == backend and fields[1] not in ("FRONTEND", "BACKEND"):
            states[fields[1]] = fields[17]
    return states


def run_converge(*extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The scenario's converge playbook against its own inventory, as molecule runs it (extra:
    ansible-playbook arguments; env: variables of the run's environment, e.g. its stdout callback)."""
    project = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[1]))
    return subprocess.run(
        # the inventory directory, as molecule passes it: with a switched engine (switch_tls_engine.yml)
        ["ansible-playbook", "-i", str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent),
         str(project / ".config/molecule/converge.yml"),
         *extra],
        capture_output=True, text=True, timeout=300, check=False,
        # molecule exports ANSIBLE_FORCE_COLOR, which wins over NOCOLOR: plain text for the tests' matches
        env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(project / ".build/collections"), "ANSIBLE_NOCOLOR": "1",
             "ANSIBLE_FORCE_COLOR": "0", **env},
    )


def converge(*extra: str) -> subprocess.CompletedProcess[str]:
    """The scenario's converge playbook again, as a user re-runs it (extra: ansible-playbook arguments)."""
    result = run_converge(*extra)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result


def _diff_lines(diff: object, limit: int = 30) -> list[str]:
    """A task result's --diff as the default callback would show it, shortened to ``limit`` lines."""
    lines: list[str] = []
    for one in diff if isinstance(diff, list) else [diff]:
        if not isinstance(one, dict):
            continue
        if "prepared" in one:
            lines += str(one["prepared"]).splitlines()
        before, after = one.get("before", ""), one.get("after", "")
        if isinstance(before, str) and isinstance(after, str):
            lines += difflib.unified_diff(before.splitlines(), after.splitlines(), str(one.get("before_header", "before")),
                                          str(one.get("after_header", "after")), lineterm="")
        elif before != after:
            lines += [f"- {before}", f"+ {after}"]
    return lines[:limit] + ([f"... {len(lines) - limit} more lines"] if len(lines) > limit else [])


def _item_label(index: int, item: dict) -> str:
    """A loop item's label, its own words only when they are a plain value (a dict may hold a password)."""
    label = item.get("_ansible_item_label", item.get("item"))
    return str(label)[:200] if isinstance(label, (str, int, float)) else f"item {index}"


def assert_check_mode_is_clean() -> float:
    """The scenario's converge playbook in check mode (``--check --diff``) against its converged nodes
    reports nothing to do: changed=0, failed=0, unreachable=0 on every node. A converged node shows no
    pending change, or check mode is not honest (a task that always reports changed in check mode, or
    a converge that leaves something it would change again). The seconds the run took.

    Each scenario's verify calls it once, where its nodes are as converge (and idempotence) left them;
    a scenario that converges twice (the TLS engine switched by side_effect) verifies after each."""
    __tracebackhide__ = True  # a failure shows the test's line and the report, not this function's source
    started = time.monotonic()
    result = run_converge("--check", "--diff", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                          ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    seconds = time.monotonic() - started
    output = result.stdout
    try:
        report = json.loads(output[output.index("{"):])
    except ValueError as exc:
        raise AssertionError(f"check run: no JSON report (rc {result.returncode}):\n{output[-3000:]}\n{result.stderr[-3000:]}") from exc
    stats = report["stats"]
    counts = {node: {key: stats[node].get(key, 0) for key in ("changed", "failures", "unreachable")} for node in stats}
    problems: list[str] = []
    for play in report["plays"]:
        for task in play["tasks"]:
            name = task["task"]["name"]
            for node, outcome in task["hosts"].items():
                items = outcome.get("results") if isinstance(outcome.get("results"), list) else []
                # the JSON report does not say which failure was ignored (the preflight's warnings):
                # the failed tasks of a node that the stats count as failed or unreachable
                if (outcome.get("failed") or outcome.get("unreachable")) and (
                        counts.get(node, {}).get("failures") or counts.get(node, {}).get("unreachable")):
                    what = "unreachable" if outcome.get("unreachable") else "failed"
                    messages = [str(item.get("msg", "")) for item in items if item.get("failed")] or [str(outcome.get("msg", ""))]
                    problems.append(f"{node}: {name}: {what}: {'; '.join(messages)[:1500]}")
                elif outcome.get("changed"):
                    changed = [item for item in items if item.get("changed")]
                    labels = [_item_label(index, item) for index, item in enumerate(items) if item.get("changed")]
                    diffs = [line for one in (changed or [outcome]) for line in _diff_lines(one.get("diff"))]
                    problems.append("\n    ".join([f"{node}: {name}: changed" + (f" ({', '.join(labels)})" if labels else ""),
                                                   *diffs]))
    print(f"check run after converge: {seconds:.1f} s, {counts}")
    assert stats and all(not any(count.values()) for count in counts.values()) and result.returncode == 0 and not problems, (
        f"the converged nodes are not clean in check mode (rc {result.returncode}), {counts}:\n"
        + "\n".join(problems or [result.stderr[-3000:]]))
    return seconds


def wait_all_up(host, backends: tuple[str, ...], seconds: float = 30) -> None:
    """Wait (bounded) until the node's haproxy has checked every server of ``backends`` UP: a client
    right after a converge talks to servers the appliance has seen healthy, not ones it assumes so."""
    deadline = time.monotonic() + seconds
    states: dict[str, dict[str, str]] = {}
    while time.monotonic() < deadline:
        states = {backend: server_states(host, backend) for backend in backends}
        if all(found and all(state.startswith("UP") for state in found.values()) for found in states.values()):
            return
        time.sleep(0.5)
    raise AssertionError(f"not every server UP within {seconds:.0f} s: {states}")

