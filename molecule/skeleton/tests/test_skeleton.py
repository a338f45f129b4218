"""The walking skeleton, as a client sees it: HTTP through the appliance node
reaches both stand-in CAS servers in turn, a CAS that stops answering leaves
the rotation, and check mode shows a change without making it."""

from __future__ import annotations

import glob
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # molecule/: the shared clients
from clients import assert_check_mode_is_clean, connect_from, server_states, standin  # noqa: E402

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
CAS_CONTAINERS = {cas: standin(cas).container for cas in ("cas1", "cas2")}


def node_address(host) -> str:
    return host.ansible.get_variables()["exchange_network_address"]


def served_by(address: str, path: str = "/owa/", port: int = 80) -> str:
    conn = http.client.HTTPConnection(address, port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": "mail.mydomain.local"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, f"{path} answered {response.status}"
        return response.getheader("X-Served-By", "")
    finally:
        conn.close()


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], check=True, capture_output=True, text=True, timeout=60)


def test_check_mode_on_the_converged_node_shows_no_pending_change():
    """First, on the node as converge and idempotence left it (molecule/clients.py): the last test
    re-runs it with other settings."""
    assert_check_mode_is_clean()


def _python_for_the_newest_core() -> str | None:
    """A CPython >= 3.12 on this machine (the newest ansible-core needs one; Debian 12's is 3.11):
    on PATH, or one of pyenv's versions."""
    candidates = [shutil.which(name) for name in ("python3.14", "python3.13", "python3.12")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3")), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys, venv; print(sys.version_info >= (3, 12))"],
                               capture_output=True, text=True, check=False)
        if probe.stdout.strip() == "True":
            return candidate
    return None


def test_the_newest_ansible_core_converges_the_node_with_no_change(host):
    """The collection has no upper bound on ansible-core (meta/runtime.yml): the newest ansible-core that
    PyPI offers, on Python 3.12+, through the same closure as converge (tools/ee_closure.py: a clean venv
    of what the EE declares, the built tarball, ansible-runner) finds the node converged, fails nothing,
    changes nothing, and the node still serves."""
    python = _python_for_the_newest_core()
    assert python, "no Python >= 3.12 on this machine, which the newest ansible-core needs"
    result = subprocess.run(
        [sys.executable, str(PROJECT / "tools/ee_closure.py"), "--inventory",
         str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent), "--python", python, "--core", "ansible-core",
         "--name", "ee-closure-newest"],
        capture_output=True, text=True, timeout=1200, check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = json.loads(result.stdout.splitlines()[-1])
    print(f"newest ansible-core {summary['ansible-core']} on Python {summary['python']}")
    core = tuple(int(part) for part in summary["ansible-core"].split(".")[:2])
    assert core > (2, 19), f"pip gave ansible-core {summary['ansible-core']}, not a newer one than the pinned 2.19"
    assert summary["failed"] == 0 and summary["changed"] == 0, Path(summary["log"]).read_text()[-4000:]
    assert summary["hosts"], summary
    assert served_by(node_address(host)) in {"cas1", "cas2"}


def test_haproxy_is_the_distribution_package_run_by_systemd(host):
    assert host.package("haproxy").is_installed
    service = host.service("haproxy")
    try:
        assert service.is_running
        assert service.is_enabled
    except AssertionError:
        print(host.run("journalctl -u haproxy --no-pager -n 50").stdout)
        raise


def test_config_is_rendered_from_the_plan_and_valid(host):
    cfg = host.file("/etc/haproxy/haproxy.cfg")
    assert cfg.mode == 0o640
    assert "backend bk_owa" in cfg.content_string
    assert host.run("haproxy -c -f /etc/haproxy/haproxy.cfg").rc == 0


def test_client_reaches_both_cas_in_turn(host):
    address = node_address(host)
    answers = [served_by(address, "/owa/") for _ in range(4)]
    assert sorted(set(answers)) == ["cas1", "cas2"], answers
    # round robin: consecutive requests without a persistence cookie alternate
    assert answers[0] != answers[1] and answers[1] != answers[2], answers


def test_client_address_is_forwarded_to_the_cas(host):
    conn = http.client.HTTPConnection(node_address(host), 80, timeout=5)
    conn.request("GET", "/whoami", headers={"Host": "mail.mydomain.local"})
    body = conn.getresponse().read().decode()
    conn.close()
    # The CAS sees haproxy's connection, and the client's own address in X-Forwarded-For.
    assert "x_forwarded_for=10.89.60.1\n" in body, body


def test_a_dead_cas_leaves_the_rotation_and_comes_back(host):
    address = node_address(host)
    podman("exec", CAS_CONTAINERS["cas1"], "systemctl", "stop", "nginx")
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                answers = {served_by(address) for _ in range(4)}
            except (AssertionError, OSError):
                answers = set()
            if answers == {"cas2"}:
                break
            time.sleep(0.5)
        else:
            pytest.fail("cas1 was not taken out of rotation within 15 s")
        # while cas1 is down, no request fails
        assert {served_by(address) for _ in range(10)} == {"cas2"}
    finally:
        podman("exec", CAS_CONTAINERS["cas1"], "systemctl", "start", "nginx")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if "cas1" in {served_by(address) for _ in range(4)}:
            break
        time.sleep(0.5)
    else:
        pytest.fail("cas1 did not come back into rotation within 20 s")


def test_check_mode_shows_the_change_and_changes_nothing(host):
    before = host.file("/etc/haproxy/haproxy.cfg").sha256sum
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(PROJECT / ".build/collections"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            str(PROJECT / ".config/molecule/converge.yml"),
            "--check",
            "--diff",
            "-e",
            "exchange_http_redirect_port=8080",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"+    bind {node_address(host)}:8080" in result.stdout, result.stdout
    assert f"-    bind {node_address(host)}:80" in result.stdout, result.stdout
    assert host.file("/etc/haproxy/haproxy.cfg").sha256sum == before
    assert served_by(node_address(host)) in {"cas1", "cas2"}


@pytest.mark.parametrize("port", [443, 143, 993, 110, 995, 25, 587])
def test_disabled_services_keep_their_ports_closed(host, port):
    # HTTP is in clear mode here (no 443); IMAP, POP3 and SMTP are disabled, the guide's default.
    # Nothing listens there, and the firewall drops the attempt (a time-out, not a refusal).
    assert host.run(f"ss -Htln 'sport = :{port}'").stdout.strip() == ""
    with pytest.raises(TimeoutError):
        socket.create_connection((node_address(host), port), timeout=2).close()


def test_the_firewall_drops_a_port_the_plan_does_not_list(host):
    # a program of the node's own listens on 8088: the node reaches it, a client does not
    unit = "exlb-test-listener"
    host.run(f"systemctl stop {unit} 2>/dev/null; systemctl reset-failed {unit} 2>/dev/null")
    started = host.run(f"systemd-run --unit {unit} python3 -m http.server --bind 0.0.0.0 8088")
    assert started.rc == 0, started.stderr
    try:
        for _ in range(50):
            if host.run("ss -Htln 'sport = :8088'").stdout.strip():
                break
            time.sleep(0.1)
        local = host.run(f"python3 -c \"import urllib.request; print(urllib.request.urlopen('http://{node_address(host)}:8088/').status)\"")
        assert local.stdout.strip() == "200", local.stderr
        with pytest.raises(TimeoutError):
            socket.create_connection((node_address(host), 8088), timeout=2).close()
        # the rule set says why each port is open, and nothing opens 8088
        ruleset = host.run("nft list table inet exchange_lb").stdout
        assert "dport 8088" not in ruleset and "dport 80 accept" in ruleset
    finally:
        host.run(f"systemctl stop {unit}")


def test_ssh_only_from_the_admin_networks_while_the_services_are_open_to_all(host):
    # exchange_admin_networks is this machine only (10.89.60.1/32); cas1 is another lab address
    with socket.create_connection((node_address(host), 22), timeout=5) as conn:
        assert conn.recv(64).startswith(b"SSH-2.0-")
    assert connect_from(CAS_CONTAINERS["cas1"], node_address(host), 22) == "timeout"
    assert connect_from(CAS_CONTAINERS["cas1"], node_address(host), 80) == "open"


def test_with_every_cas_gone_http_answers_a_clear_page_and_imap_closes_at_once(host):
    # Last test of the scenario: the node is re-run with two CAS that do not exist (and IMAP on)
    dead = {"exchange_cas_servers": [{"name": "cas1", "address": "10.89.60.97"}, {"name": "cas2", "address": "10.89.60.98"}],
            "exchange_imap_mode": "clear"}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(PROJECT / ".build/collections"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(PROJECT / ".config/molecule/converge.yml"),
         "-e", json.dumps(dead)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # both services' checks must have marked the missing CAS down (each backend checks on its own
    # schedule: a client that arrives while a server still counts as up waits for its connect time-outs)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all({state[:4] for state in server_states(host, backend).values()} == {"DOWN"} for backend in ("bk_owa", "bk_imap")):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the missing CAS were not marked down: {server_states(host, 'bk_owa')} {server_states(host, 'bk_imap')}")
    started = time.monotonic()
    conn = http.client.HTTPConnection(node_address(host), 80, timeout=10)
    conn.request("GET", "/owa/", headers={"Host": "mail.mydomain.local"})
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    assert response.status == 503 and response.getheader("Retry-After") == "60"
    assert body.startswith("No Exchange Client Access server behind this load balancer is answering"), body
    assert time.monotonic() - started < 2  # at once, not after connect time-outs
    started = time.monotonic()
    with socket.create_connection((node_address(host), 143), timeout=10) as imap:
        assert imap.recv(1024) == b""  # closed by the appliance, no banner, no hang
    assert time.monotonic() - started < 2
