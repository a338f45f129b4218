"""The pair, as a client sees it: a client on this host goes through the
virtual service address every 50 ms while the master fails in several ways;
the backup takes the address over and serves within a bounded time, the
master takes it back when it returns (preempt), or does not (nopreempt), and
stickiness survives because the two haproxy share their stick tables.

Every wait is bounded in time; each failover prints what it measured."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import testinfra

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # molecule/: the shared clients
from clients import assert_check_mode_is_clean, converge  # noqa: E402

VIP = "10.89.60.50"
MASTER, BACKUP = "exlb-mol-ha-lb1", "exlb-mol-ha-lb2"
CLIENT_ADDRESS = "10.89.60.1"  # this host, on the lab bridge
# A backup takes over after 3 missed adverts of 1 s plus a skew; a failure of
# haproxy is seen after 2 failed checks, 1 s apart. The client must be
# answered again well within this.
MAX_GAP_S = 5.0


def podman(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], check=check, capture_output=True, text=True, timeout=timeout)


def on(node: str, command: str, check: bool = True) -> str:
    return podman("exec", node, "sh", "-c", command, check=check).stdout


def holds_vip(node: str) -> bool:
    result = podman("exec", node, "ip", "-4", "-o", "addr", "show", check=False, timeout=10)
    return f" {VIP}/" in result.stdout


def wait_until(predicate, timeout: float, interval: float = 0.05) -> float | None:
    """Seconds until predicate() held, or None after timeout seconds."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    return None


def where_is_vip() -> list[str]:
    return [node for node in (MASTER, BACKUP) if holds_vip(node)]


def get(path: str = "/owa/", timeout: float = 0.5) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(VIP, 80, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": "mail.mydomain.local"})
        response = conn.getresponse()
        response.read()
        return response
    finally:
        conn.close()


class Client:
    """GETs http://VIP/owa/ every 50 ms on a thread (bounded to limit_s) and
    records when each answer (or failure) came."""

    def __init__(self, limit_s: float = 90) -> None:
        self.limit_s = limit_s
        self.samples: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Client:
        self._thread.start()
        wait_until(lambda: any(ok for _, ok in self.samples), 5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit_s
        while not self._stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            try:
                ok = get().status == 200
            except OSError:
                ok = False
            self.samples.append((time.monotonic(), ok))
            self._stop.wait(max(0.0, 0.05 - (time.monotonic() - started)))

    def report(self, since: float) -> tuple[float, int, int]:
        """(longest time without an answer, failed requests, answered) after since."""
        window = [(t, ok) for t, ok in self.samples if t >= since]
        answered = [since] + [t for t, ok in window if ok]
        if window and not window[-1][1]:
            answered.append(window[-1][0])  # still failing at the end counts as a gap
        gap = max(b - a for a, b in zip(answered, answered[1:])) if len(answered) > 1 else float("inf")
        return gap, sum(1 for _, ok in window if not ok), sum(1 for _, ok in window if ok)


def failover(label: str, action) -> float:
    """Runs action while the client goes through the VIP; asserts the backup
    takes the address and the client is answered again within MAX_GAP_S.
    Returns when the action started (time.monotonic())."""
    assert where_is_vip() == [MASTER], "the master must hold the address before " + label
    with Client() as client:
        t0 = time.monotonic()
        action()
        moved = wait_until(lambda: holds_vip(BACKUP), 15)
        assert moved is not None, f"{label}: the backup did not take the address within 15 s"
        time.sleep(1.0)  # let the client see a few answers from the backup
        gap, failed, answered = client.report(t0)
    print(
        f"\n[failover] {label}: address on the backup after {moved:.2f} s; "
        f"client's longest time without an answer {gap:.2f} s ({failed} failed, {answered} answered)"
    )
    assert not holds_vip(MASTER), f"{label}: the address is on both nodes"
    assert gap < MAX_GAP_S, f"{label}: the client had no answer for {gap:.2f} s"
    return t0


def wait_for_failback(label: str, since: float, timeout: float = 30) -> None:
    """Waits for the address on the master alone; prints the time since `since`."""
    back = wait_until(lambda: where_is_vip() == [MASTER], timeout, interval=0.2)
    assert back is not None, f"{label}: the address did not return to the master within {timeout} s: {where_is_vip()}"
    print(f"[failback] {label}: address back on the master {time.monotonic() - since:.2f} s after it")
    assert get().status == 200


def haproxy_cli(node: str, command: str) -> str:
    script = (
        "import socket\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "s.connect('/run/haproxy/admin.sock')\n"
        f"s.sendall({command!r}.encode() + b'\\n')\n"
        "print(s.makefile().read())\n"
    )
    return podman("exec", node, "python3", "-c", script).stdout


# --- the nodes -------------------------------------------------------------------


def test_check_mode_on_the_converged_pair_shows_no_pending_change():
    """First, on the pair as converge and idempotence left it (molecule/clients.py): later tests
    re-run it with other settings (keepalived_preempt: false stays)."""
    assert_check_mode_is_clean()


@pytest.mark.parametrize("node", [MASTER, BACKUP])
def test_keepalived_is_the_distribution_package_run_by_systemd(node):
    host = testinfra.get_host(f"podman://{node}")  # podman exec: fast enough for timing loops too
    assert host.package("keepalived").is_installed
    service = host.service("keepalived")
    try:
        assert service.is_running
        assert service.is_enabled
    except AssertionError:
        print(host.run("journalctl -u keepalived --no-pager -n 50").stdout)
        raise
    config = host.file("/etc/keepalived/keepalived.conf")
    assert config.mode == 0o644
    assert "virtual_router_id 60\n" in config.content_string
    assert f"{VIP}/24 dev eth0" in config.content_string
    assert "track_haproxy" in config.content_string
    assert host.run("keepalived --config-test --use-file /etc/keepalived/keepalived.conf").rc == 0


def test_the_address_is_on_the_master_only_and_both_nodes_listen_on_it():
    # keepalived starts in BACKUP and waits 3 adverts before it becomes master
    assert wait_until(lambda: where_is_vip() == [MASTER], 15, interval=0.2) is not None, where_is_vip()
    for node in (MASTER, BACKUP):
        assert f"{VIP}:80 " in on(node, "ss -ltnH"), f"haproxy on {node} does not listen on the virtual address"
    assert get().status == 200


def test_stickiness_follows_the_client_to_the_other_node():
    # Outlook Anywhere (/rpc) sticks on the client's source address (st_src);
    # the entry made on the master is pushed to the backup by haproxy peers.
    assert get("/rpc/rpcproxy.dll", timeout=5).status < 500
    key = f"key={CLIENT_ADDRESS} "
    assert key in haproxy_cli(MASTER, "show table st_src")
    synced = wait_until(lambda: key in haproxy_cli(BACKUP, "show table st_src"), 5, interval=0.2)
    assert synced is not None, haproxy_cli(BACKUP, "show table st_src")
    print(f"\n[peers] the st_src entry of {CLIENT_ADDRESS} reached the backup within {synced:.2f} s")
    master_entry = next(line for line in haproxy_cli(MASTER, "show table st_src").splitlines() if key in line)
    backup_entry = next(line for line in haproxy_cli(BACKUP, "show table st_src").splitlines() if key in line)
    assert master_entry.split("server_id=")[1].split()[0] == backup_entry.split("server_id=")[1].split()[0]


# --- failovers, as the client sees them -------------------------------------------


def stop_on_the_master_then_start(unit: str, failback_label: str) -> None:
    """`systemctl stop unit` on the master: the backup takes over; then start it: the address returns."""
    try:
        failover(f"systemctl stop {unit}", lambda: on(MASTER, f"systemctl stop {unit}"))
    finally:
        started = time.monotonic()
        on(MASTER, f"systemctl start {unit}")
    wait_for_failback(f"systemctl start {unit} ({failback_label})", started)


def test_stopping_keepalived_on_the_master_moves_the_address_and_it_returns():
    stop_on_the_master_then_start("keepalived", "preempt")


def kill_haproxy_and_watch(seconds: float = 4.0) -> tuple[float, int, int, list[list[str]], str, str]:
    """SIGKILL to every haproxy process of the master while the client runs; watches `seconds`
    (two tracking checks, 1 s apart, and then some). (gap, failed, answered, address holders
    seen, main pid before, main pid after)."""
    before = on(MASTER, "systemctl show -P MainPID haproxy").strip()
    holders: list[list[str]] = []
    with Client() as client:
        t0 = time.monotonic()
        on(MASTER, "systemctl kill -s KILL haproxy")
        while time.monotonic() - t0 < seconds:
            holders.append(where_is_vip())
            time.sleep(0.2)
        gap, failed, answered = client.report(t0)
    after = on(MASTER, "systemctl show -P MainPID haproxy").strip()
    return gap, failed, answered, holders, before, after


def test_a_killed_haproxy_is_restarted_in_place_and_the_address_stays():
    # keepalived_track_settle 0 (default): systemd restarts haproxy at once (Restart=always),
    # the check never sees it down twice in a row, the address does not move.
    gap, failed, answered, holders, before, after = kill_haproxy_and_watch()
    print(f"\n[haproxy killed] restarted in place, main pid {before} -> {after}; client's longest time without "
          f"an answer {gap:.2f} s ({failed} failed, {answered} answered)")
    assert after not in ("", "0", before), (before, after)
    assert all(seen == [MASTER] for seen in holders), f"the address moved: {holders}"
    assert gap < MAX_GAP_S / 2, f"the client had no answer for {gap:.2f} s"
    assert get().status == 200


def test_haproxy_that_stays_down_moves_the_address_and_it_returns():
    stop_on_the_master_then_start("haproxy", "checks rise, preempt")


def test_with_a_settle_time_a_killed_haproxy_moves_the_address():
    changed = converge("--diff", "-e", json.dumps({"keepalived_track_settle": 3}))
    try:
        assert "restarted less than 3 s ago" in changed.stdout, changed.stdout
        assert wait_until(lambda: where_is_vip() == [MASTER], 15, interval=0.2) is not None, where_is_vip()
        # systemd restarts haproxy within 0.1 s (Restart=always); the check sees the restarted
        # main process as not settled yet and the master gives the address away.
        killed = failover("systemctl kill -s KILL haproxy, settle 3 s",
                          lambda: on(MASTER, "systemctl kill -s KILL haproxy"))
        assert on(MASTER, "systemctl is-active haproxy", check=False).strip() == "active"
        wait_for_failback("the kill, haproxy restarted and settled (preempt)", killed)
    finally:
        converge()
    assert "restarted less than" not in on(MASTER, "cat /etc/keepalived/keepalived.conf")
    assert wait_until(lambda: where_is_vip() == [MASTER], 30, interval=0.2) is not None, where_is_vip()


def test_stopping_the_master_machine_moves_the_address_and_it_returns():
    try:
        failover("podman stop (the master shuts down)", lambda: podman("stop", "--time", "20", MASTER))
    finally:
        started = time.monotonic()
        podman("start", MASTER)
    # A reboot keeps the settings: haproxy binds the address it does not hold.
    wait_until(lambda: on(MASTER, "systemctl is-system-running", check=False).strip() in ("running", "degraded"), 30, 0.5)
    assert on(MASTER, "sysctl -n net.ipv4.ip_nonlocal_bind").strip() == "1"
    wait_for_failback("podman start (preempt)", started)
    assert f"{VIP}:80 " in on(MASTER, "ss -ltnH")


def test_without_preempt_the_address_stays_where_it_is():
    changed = converge("--diff", "-e", json.dumps({"keepalived_preempt": False}))
    assert "+    nopreempt" in changed.stdout and "-    state MASTER" in changed.stdout, changed.stdout
    assert "nopreempt" in on(MASTER, "cat /etc/keepalived/keepalived.conf")
    assert wait_until(lambda: where_is_vip() == [MASTER], 10, interval=0.2) is not None, where_is_vip()
    try:
        failover("systemctl stop keepalived, nopreempt", lambda: on(MASTER, "systemctl stop keepalived"))
    finally:
        on(MASTER, "systemctl start keepalived")
    # Long enough for the master to have taken it back if it would: its
    # checks rise (2 s) plus 3 adverts and the skew (3.6 s), with margin.
    time.sleep(8)
    assert where_is_vip() == [BACKUP], "the returning master took the address back despite keepalived_preempt: false"
    assert get().status == 200
    print("[nopreempt] the address stayed on the backup 8 s after the master returned")


# --- a Cluster Identifier that is taken ---------------------------------------------------

sys.path.insert(0, str(PROJECT / ".build/collections"))
from ansible_collections.exchange_lb.appliance.plugins.module_utils._vrrp import build_advert  # noqa: E402

TAKEN = 199  # a router id no scenario of the lab uses


def run_playbook(*extra: str) -> subprocess.CompletedProcess[str]:
    """ansible-playbook as a user runs it; its output without colours and with every run of
    white space made one space (ansible wraps long messages at the terminal's width)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(PROJECT / ".build/collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    result = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], *extra, str(PROJECT / ".config/molecule/converge.yml")],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )
    plain = [" ".join(re.sub(r"\x1b\[[0-9;]*m", "", text).split()) for text in (result.stdout, result.stderr)]
    return subprocess.CompletedProcess(result.args, result.returncode, plain[0], plain[1])


def test_a_cluster_identifier_another_router_advertises_is_refused_before_anything_changes():
    # Another VRRP router on the lab network: this host sends VRRPv3 adverts for router id
    # 199 (lowest priority, so no router of the lab would yield to it) while the master is
    # re-run with that Cluster Identifier.
    before = on(MASTER, "sha256sum /etc/keepalived/keepalived.conf /etc/haproxy/haproxy.cfg")
    stop = threading.Event()

    def advertise() -> None:
        sender = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
        sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(CLIENT_ADDRESS))
        sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
        try:
            for _ in range(600):  # at most 2 minutes
                sender.sendto(build_advert(TAKEN, 1, ["10.89.60.199"]), ("224.0.0.18", 0))
                if stop.wait(0.2):
                    break
        finally:
            sender.close()

    speaker = threading.Thread(target=advertise, daemon=True)
    speaker.start()
    try:
        result = run_playbook("--limit", MASTER, "-e", json.dumps({"exchange_cluster_identifier": TAKEN}))
    finally:
        stop.set()
        speaker.join(5)
    output = result.stdout + " " + result.stderr  # ansible-core 2.19 writes the failure to stderr
    assert result.returncode != 0, output
    message = f"High Availability › Cluster Identifier: {TAKEN} is already used on this network by {CLIENT_ADDRESS}"
    assert message in output, output
    assert "10.89.60.199" in output  # the other router's virtual address is named too
    assert on(MASTER, "sha256sum /etc/keepalived/keepalived.conf /etc/haproxy/haproxy.cfg") == before
    # the pair serves on as before (the address where the previous test left it)
    assert len(where_is_vip()) == 1 and get().status == 200


# What a run may change on a node: the time zone, the daemons' files, the network's.
NODE_STATE = "readlink /etc/localtime || true; sha256sum /etc/keepalived/keepalived.conf /etc/haproxy/haproxy.cfg /etc/exchange-lb/firewall.nft"


def test_a_configuration_a_daemon_refuses_on_the_node_changes_nothing():
    # The plan accepts the change; keepalived's own check (run on the staged files, at their real
    # paths) refuses the node as it is: an administrator made the folder of the track script writable
    # by everyone, and keepalived's script security disables such scripts. The run stops while staging:
    # the time zone, haproxy's new timeout and every file in force stay as they were.
    before = on(MASTER, NODE_STATE)
    on(MASTER, "chmod 0777 /usr/local/sbin")
    try:
        result = run_playbook("--limit", MASTER, "-e", json.dumps({"exchange_timezone": "Pacific/Auckland", "exchange_http_timeout": 77}))
    finally:
        on(MASTER, "chmod 0755 /usr/local/sbin")
    output = result.stdout + " " + result.stderr
    assert result.returncode != 0, output
    # refused where keepalived.conf is staged, in keepalived's own words
    assert "Stage the keepalived configuration rendered from the plan, checked with keepalived --config-test" in output, output
    assert "failed to validate" in output and "insecure" in output, output
    assert on(MASTER, NODE_STATE) == before
    assert len(where_is_vip()) == 1 and get().status == 200


def test_a_failed_reload_puts_the_previous_configuration_back():
    # Everything passed its check, the files are replaced, then haproxy cannot reload: its unit was
    # masked under the run by an administrator. The run puts the files it replaced back, reloads what
    # runs, fails saying so, and the pair serves on with the previous configuration.
    before = on(MASTER, NODE_STATE)
    on(MASTER, "systemctl mask --runtime haproxy.service")
    try:
        result = run_playbook("--limit", MASTER, "-e", json.dumps({"exchange_http_timeout": 78}))
    finally:
        on(MASTER, "systemctl unmask --runtime haproxy.service")
    output = result.stdout + " " + result.stderr
    assert result.returncode != 0, output
    # (keepalived.conf too when a test before left another keepalived_preempt in force)
    restored = re.search(r"the previous configuration is back in force \(([^)]*)\)", output)
    assert restored and "/etc/haproxy/haproxy.cfg" in restored.group(1).split(", "), output
    assert "Unit haproxy.service is masked" in output  # what failed, in systemd's words
    assert on(MASTER, NODE_STATE) == before
    assert len(where_is_vip()) == 1 and get().status == 200
    # the last known good set is what is in force
    assert on(MASTER, "cmp /var/lib/exchange-lb/good/etc/haproxy/haproxy.cfg /etc/haproxy/haproxy.cfg && echo same").strip() == "same"


def test_a_cluster_identifier_another_pair_of_the_inventory_uses_is_refused(tmp_path):
    other = tmp_path / "other-pair.yml"
    other.write_text(
        "exchange_lb:\n  hosts:\n    other-lb1:\n      ansible_host: 10.89.60.250\n"
        "      exchange_ha_role: master\n      exchange_cluster_identifier: 60\n"
        "      exchange_virtual_service_address: 10.89.60.240\n",
        encoding="utf-8",
    )
    before = on(MASTER, "sha256sum /etc/keepalived/keepalived.conf")
    result = run_playbook("-i", str(other), "--limit", MASTER, "-e", json.dumps({"exchange_vrrp_survey_seconds": 0}))
    output = result.stdout + " " + result.stderr
    assert result.returncode != 0, output
    assert "High Availability › Cluster Identifier: 60 is also the identifier of other-lb1 (10.89.60.240)" in output, output
    assert on(MASTER, "sha256sum /etc/keepalived/keepalived.conf") == before
