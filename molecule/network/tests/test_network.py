"""The network role and the first-boot wizard, as an administrator sees them.

The role configured eth1 of two nodes (ifupdown; systemd-networkd with a VLAN
sub-interface). A peer on the same wire checks with real traffic: sshd's
banner over TCP at the new addresses, untagged and on VLAN 20. A change that
cuts the node off is undone by the node itself; bad input is refused naming
the field; and the wizard is driven in a terminal (tmux) as a person would:
no key (DHCP, no lease, the guide's 192.168.0.200 fallback), then ``s`` with
a mistyped address, then good values. Every wait is bounded."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # molecule/: the shared clients
from clients import assert_check_mode_is_clean, lab_ssh  # noqa: E402

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
SCENARIO = Path(__file__).resolve().parents[1]
IFUPDOWN, NETWORKD, PEER = "exlb-mol-network-ifupdown", "exlb-mol-network-networkd", "exlb-mol-network-peer"
TMUX = "exlb-mol-network-wizard"


def podman(*args: str, check: bool = True, timeout: float = 60, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], check=check, capture_output=True, text=True, timeout=timeout, input=stdin)


def on(node: str, command: str, check: bool = True, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return podman("exec", "-i", node, "sh", "-c", command, check=check, stdin=stdin, timeout=timeout)


def banner(address: str, timeout: float = 3) -> str:
    """sshd's banner read by the peer over TCP at ``address`` ("" when nothing answers)."""
    probe = (
        "import socket,sys\n"
        "try:\n"
        f"    s=socket.create_connection(('{address}',22),timeout={timeout}); print(s.recv(64).decode(errors='replace'))\n"
        "except OSError as e: print('ERROR',e)\n"
    )
    return on(PEER, "python3 -", stdin=probe, timeout=timeout + 20).stdout.strip()


def addresses(node: str, dev: str) -> list[str]:
    return re.findall(r"inet (\S+)", on(node, f"ip -4 -o addr show dev {dev}", check=False).stdout)


def wait_until(predicate: Any, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def scenario_inventory() -> dict[str, Any]:
    return yaml.safe_load((SCENARIO / "molecule.yml").read_text(encoding="utf-8"))["provisioner"]["inventory"]


def host_vars(name: str) -> dict[str, Any]:
    """The node's appliance settings in the scenario (how molecule reaches it left out)."""
    inventory = scenario_inventory()
    found = {**inventory["group_vars"]["exchange_lb"], **inventory["host_vars"][name]}
    return {key: value for key, value in found.items() if not key.startswith("ansible_")}


def lab_connection(name: str) -> dict[str, Any]:
    """SSH to the node's eth0 on the lab network, as molecule's own inventory reaches it."""
    return lab_ssh(scenario_inventory()["host_vars"][name]["ansible_host"])


def converge(tmp: Path, name: str, connection: dict[str, Any] | None = None, **overrides: Any) -> subprocess.CompletedProcess[str]:
    """The site playbook on one node, with the scenario's variables and ``overrides``."""
    inventory = tmp / f"{name}.yml"
    hosts = {name: {**(connection or lab_connection(name)), **host_vars(name), **overrides}}
    inventory.write_text(yaml.safe_dump({"all": {"children": {"exchange_lb": {"hosts": hosts}}}}), encoding="utf-8")
    return playbook(inventory, PROJECT / ".config" / "molecule" / "converge.yml", "--diff")


def playbook(inventory: Path, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """ansible-playbook; stdout is its whole output (stderr too), colourless."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(PROJECT / ".build" / "collections"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    result = subprocess.run(["ansible-playbook", "-i", str(inventory), str(path), *extra],
                            capture_output=True, text=True, timeout=600, env=env, check=False)
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    return subprocess.CompletedProcess(result.args, result.returncode, text, "")


def says(result: subprocess.CompletedProcess[str], message: str) -> bool:
    """``message`` is in the output, however the output wrapped it."""
    return " ".join(message.split()) in " ".join(result.stdout.split())


def recap(result: subprocess.CompletedProcess[str], name: str) -> dict[str, int]:
    line = re.search(rf"^{re.escape(name)}\s*:(.*)$", result.stdout, re.M)
    assert line, result.stdout[-3000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line.group(1))}


def files_digest(node: str, resolv_conf: bool = True) -> str:
    files = "/etc/network/interfaces /etc/network/interfaces.d/* /etc/exchange-lb/network.json"
    return on(node, f"cat {files} {'/etc/resolv.conf' if resolv_conf else ''} | sha256sum").stdout


# --- what the role configured ---------------------------------------------------------------
def test_a_check_run_after_converge_has_nothing_to_do() -> None:
    """First, while the nodes are as converge and idempotence left them: --check --diff reports no
    change on either stack (an honest check mode; the rollback guard is not armed for nothing)."""
    assert_check_mode_is_clean()


def test_ifupdown_node_answers_at_its_new_address() -> None:
    assert "10.89.61.60/24" in addresses(IFUPDOWN, "eth1")
    assert "10.89.61.10/24" not in addresses(IFUPDOWN, "eth1"), "podman's address was not replaced"
    assert banner("10.89.61.60").startswith("SSH-2.0"), "no sshd banner over eth1's new address"
    assert "iface eth1 inet static" in on(IFUPDOWN, "cat /etc/network/interfaces.d/exchange-lb").stdout


def test_ifupdown_node_has_gateway_routes_dns_hostname() -> None:
    routes = on(IFUPDOWN, "ip -4 route show").stdout
    print(routes)
    assert re.search(r"^default via 10\.89\.61\.69 dev eth1", routes, re.M)
    assert re.search(r"^172\.16\.0\.0/16 via 10\.89\.61\.69 dev eth1", routes, re.M)
    assert re.search(r"^192\.168\.50\.0/24 via 10\.89\.61\.69 dev eth1", routes, re.M)
    assert "nameserver 10.89.61.69" in on(IFUPDOWN, "cat /etc/resolv.conf").stdout
    assert on(IFUPDOWN, "hostname").stdout.strip() == "lb-net1"
    fact = json.loads(on(IFUPDOWN, "cat /etc/ansible/facts.d/exchange_network.fact").stdout)
    assert fact["exchange_network_address"] == "10.89.61.60" and fact["exchange_network_gateway"] == "10.89.61.69"


def test_networkd_node_answers_at_its_new_address() -> None:
    assert not on(NETWORKD, "command -v ifup", check=False).stdout.strip(), "this node must have no ifupdown"
    assert "10.89.61.61/24" in addresses(NETWORKD, "eth1")
    assert banner("10.89.61.61").startswith("SSH-2.0"), "no sshd banner over eth1's new address"
    routes = on(NETWORKD, "ip -4 route show").stdout
    assert re.search(r"^172\.17\.0\.0/16 via 10\.89\.61\.69 dev eth1", routes, re.M), routes
    assert re.search(r"^default via 10\.89\.61\.69 dev eth1", routes, re.M), routes
    assert "Address=10.89.61.61/24" in on(NETWORKD, "cat /etc/systemd/network/10-exchange-lb-eth1.network").stdout


def test_vlan_is_rendered_for_each_stack() -> None:
    """The lab's kernel has no 802.1Q: the rendering is checked (plan), the apply refused naming the field."""
    for node, path, text in (
        (IFUPDOWN, "/etc/network/interfaces.d/exchange-lb", "iface eth1.20 inet static"),
        (NETWORKD, "/etc/systemd/network/10-exchange-lb-eth1.20.netdev", "Kind=vlan"),
    ):
        config = json.loads(on(node, "cat /etc/exchange-lb/network.json").stdout)
        config["exchange_network_vlan_id"] = 20
        planned = json.loads(on(node, "exlb-netcfg plan --config -", stdin=json.dumps(config)).stdout)
        after = {change["path"]: change["after"] for change in planned["files"]}
        assert text in (after.get(path) or ""), after
        if not Path("/proc/net/vlan").exists():
            refused = on(node, "exlb-netcfg apply --config -", stdin=json.dumps(config), check=False)
            assert refused.returncode == 2
            assert "Network › vLAN Identifier: this host's kernel has no 802.1Q VLAN support" in refused.stderr


# --- changes that cut the node off are undone ------------------------------------------------
def test_gateway_that_does_not_answer_is_rolled_back(tmp_path: Path) -> None:
    before = files_digest(IFUPDOWN)
    result = converge(tmp_path, IFUPDOWN, exchange_network_gateway="10.89.61.68")
    assert result.returncode != 0
    assert says(result, "Network › Gateway: 10.89.61.68 does not answer on eth1; the previous network configuration was restored")
    assert files_digest(IFUPDOWN) == before
    assert banner("10.89.61.60").startswith("SSH-2.0")
    assert re.search(r"^default via 10\.89\.61\.69 dev eth1", on(IFUPDOWN, "ip -4 route show").stdout, re.M)


def test_change_without_confirmation_is_rolled_back() -> None:
    """A new address works at once, but nobody confirms it: the node goes back by itself."""
    config = json.loads(on(IFUPDOWN, "cat /etc/exchange-lb/network.json").stdout)
    config["exchange_network_address"] = "10.89.61.65"
    before = files_digest(IFUPDOWN)
    applied = json.loads(on(IFUPDOWN, "exlb-netcfg apply --config - --confirm-timeout 8", stdin=json.dumps(config)).stdout)
    assert applied["token"] and applied["address"] == "10.89.61.65"
    assert banner("10.89.61.65").startswith("SSH-2.0"), "the new address did not answer"
    started = time.monotonic()
    assert wait_until(lambda: "10.89.61.60/24" in addresses(IFUPDOWN, "eth1"), timeout=40), "not rolled back"
    print(f"rolled back {time.monotonic() - started:.1f} s after the change answered")
    assert "10.89.61.65/24" not in addresses(IFUPDOWN, "eth1")
    assert files_digest(IFUPDOWN) == before
    assert banner("10.89.61.60").startswith("SSH-2.0")
    refused = on(IFUPDOWN, f"exlb-netcfg confirm {applied['token']}", check=False)
    assert refused.returncode == 1 and "rolled back" in refused.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # named by its field: site.yml checks the plan before the role's argument spec
        ({"exchange_network_mode": "bootp"}, "Network › mode (exchange_network_mode): unknown value"),
        ({"exchange_network_interface": "eth9"}, "Network › interface (exchange_network_interface): this host has no network interface 'eth9'"),
        ({"exchange_network_static_routes": [{"network": "172.16.0.0", "netmask": "16", "router": "10.1.1.1"}]},
         "Network › Static Routes › Route 1 › Router: 10.1.1.1 is not in the node's subnet 10.89.61.0/24"),
        ({"exchange_network_dns_servers": ["10.89.61.300"]}, "Network › DNS server 1: '10.89.61.300' is not an IPv4 address"),
    ],
)
def test_bad_input_is_refused_naming_the_field(tmp_path: Path, overrides: dict[str, Any], message: str) -> None:
    before = files_digest(IFUPDOWN)
    result = converge(tmp_path, IFUPDOWN, **overrides)
    assert result.returncode != 0
    assert says(result, message), result.stdout[-2000:]
    assert files_digest(IFUPDOWN) == before


# --- over SSH, through the interface being changed ------------------------------------------
@pytest.fixture(scope="module")
def ssh_key() -> Path:
    """The lab's key: the image takes key logins as `ansible` (sudo), no root login; molecule mounts
    this key as the user's authorized_keys."""
    return Path(os.environ["LAB_SSH_KEY"])


def over_ssh(key: Path, address: str) -> dict[str, Any]:
    """Ansible reaches the node over SSH at ``address`` on eth1, from this host's bridge address 10.89.61.1."""
    return {
        "ansible_connection": "ssh", "ansible_host": address, "ansible_user": "ansible", "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
    }


def test_over_ssh_the_run_follows_the_address_it_changes(ssh_key: Path, tmp_path: Path) -> None:
    moved = converge(tmp_path, IFUPDOWN, over_ssh(ssh_key, "10.89.61.60"), exchange_network_address="10.89.61.65")
    assert moved.returncode == 0, moved.stdout[-3000:]
    assert says(moved, "Follow the connection to the node's new address")
    assert addresses(IFUPDOWN, "eth1") == ["10.89.61.65/24"]
    assert json.loads(on(IFUPDOWN, "cat /etc/exchange-lb/network.json").stdout)["exchange_network_address"] == "10.89.61.65"
    time.sleep(5)  # past any guard: the change was confirmed, so it stays
    assert addresses(IFUPDOWN, "eth1") == ["10.89.61.65/24"]
    back = converge(tmp_path, IFUPDOWN, over_ssh(ssh_key, "10.89.61.65"))
    assert back.returncode == 0, back.stdout[-3000:]
    assert addresses(IFUPDOWN, "eth1") == ["10.89.61.60/24"]


def test_over_ssh_an_address_the_controller_cannot_reach_is_undone(ssh_key: Path, tmp_path: Path) -> None:
    """A /32 without a gateway: the node takes it, but cannot answer this host; nobody confirms, so it goes back."""
    before = files_digest(IFUPDOWN)
    started = time.monotonic()
    result = converge(
        tmp_path, IFUPDOWN, over_ssh(ssh_key, "10.89.61.60"),
        exchange_network_address="10.89.61.66", exchange_network_netmask="32", exchange_network_gateway="",
        exchange_network_static_routes=[], exchange_network_dns_servers=[], exchange_network_rollback_timeout=15,
    )
    print(f"failed and back in {time.monotonic() - started:.0f} s")
    assert result.returncode != 0
    assert says(result, "Network: the node did not answer at 10.89.61.66 within 15 s after the change; it put its previous "
                        "network configuration back and answers at 10.89.61.60 again."), result.stdout[-3000:]
    assert addresses(IFUPDOWN, "eth1") == ["10.89.61.60/24"]
    assert files_digest(IFUPDOWN) == before
    assert banner("10.89.61.60").startswith("SSH-2.0")
    assert "rolled back: no confirmation" in on(IFUPDOWN, "cat /var/lib/exchange-lb/netcfg/netcfg.log").stdout


# --- the first-boot wizard in a terminal -----------------------------------------------------
def tmux(*args: str, check: bool = True) -> str:
    return subprocess.run(["tmux", *args], check=check, capture_output=True, text=True, timeout=30).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", TMUX)


def wait_screen(text: str, timeout: float) -> str:
    assert wait_until(lambda: text in screen(), timeout), f"{text!r} never showed:\n{screen()}"
    return screen()


@pytest.fixture()
def wizard_terminal() -> Any:
    tmux("kill-session", "-t", TMUX, check=False)
    command = f"podman exec -it {IFUPDOWN} exlb-netcfg wizard --interface eth1 --dhcp-wait 5; echo WIZARD-EXIT=$?; sleep 600"
    tmux("new-session", "-d", "-s", TMUX, "-x", "160", "-y", "50", command)
    yield
    tmux("kill-session", "-t", TMUX, check=False)


@pytest.fixture()
def unconfigured() -> None:
    on(IFUPDOWN, "rm -f /etc/exchange-lb/configured")


def test_firstboot_role_installs_the_wizard(tmp_path: Path) -> None:
    inventory = tmp_path / "template.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {IFUPDOWN: {**lab_connection(IFUPDOWN),
                                                                       "firstboot_interface": "eth1"}}}}), encoding="utf-8")
    for _ in range(2):
        result = playbook(inventory, PROJECT / "playbooks" / "firstboot.yml", "-e", f"firstboot_hosts={IFUPDOWN}")
        assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result, IFUPDOWN)["changed"] == 0
    unit = on(IFUPDOWN, "systemctl cat exlb-firstboot.service").stdout
    assert "ConditionPathExists=!/etc/exchange-lb/configured" in unit and "TTYPath=/dev/tty1" in unit and "--interface eth1" in unit
    assert on(IFUPDOWN, "systemctl is-enabled exlb-firstboot.service").stdout.strip() == "enabled"
    # The role configured the box: the wizard stays quiet at boot.
    on(IFUPDOWN, "test -e /etc/exchange-lb/configured")
    on(IFUPDOWN, "systemctl start exlb-firstboot.service")
    assert "ConditionResult=no" in on(IFUPDOWN, "systemctl show -p ConditionResult exlb-firstboot.service").stdout


def test_wizard_without_a_key_tries_dhcp_then_falls_back(wizard_terminal: None, unconfigured: None) -> None:
    wait_screen("Retrieve IP using DHCP or configure static ... 10sec (D/s)?", 20)
    started = time.monotonic()
    wait_screen("D (no key pressed)", 20)
    waited = time.monotonic() - started
    assert 8 <= waited <= 14, f"the prompt waited {waited:.1f} s"
    wait_screen("Retrieving an address using DHCP on eth1", 5)
    text = wait_screen("WIZARD-EXIT=", 90)
    print(text)
    assert "no DHCP lease on eth1" in text
    assert "using 192.168.0.200/255.255.255.0" in text
    assert "192.168.0.200 on eth1" in text and "ssh <your account>@192.168.0.200" in text
    assert "WIZARD-EXIT=0" in text
    assert addresses(IFUPDOWN, "eth1") == ["192.168.0.200/24"]
    # Not the administrator's choice: the wizard asks again at the next boot.
    assert on(IFUPDOWN, "test -e /etc/exchange-lb/configured", check=False).returncode == 1


def test_wizard_static_with_a_mistyped_address(wizard_terminal: None, unconfigured: None, tmp_path: Path) -> None:
    wait_screen("(D/s)?", 20)
    tmux("send-keys", "-t", TMUX, "s")
    wait_screen("Use IP address (192.168.0.200)?", 10)
    tmux("send-keys", "-t", TMUX, "10.89.61.300", "Enter")
    wait_screen("Error: Network › Address: '10.89.61.300' is not an IPv4 address", 10)
    assert wait_until(lambda: screen().count("Use IP address (192.168.0.200)?") == 2, 10), screen()
    tmux("send-keys", "-t", TMUX, "10.89.61.60", "Enter")
    wait_screen("Use netmask (255.255.255.0)?", 10)
    tmux("send-keys", "-t", TMUX, "Enter")
    wait_screen("Use default gateway (none)?", 10)
    tmux("send-keys", "-t", TMUX, "10.89.61.69", "Enter")
    wait_screen("Commit and save this configuration (N/y)?", 10)
    tmux("send-keys", "-t", TMUX, "y", "Enter")
    text = wait_screen("WIZARD-EXIT=", 60)
    print(text)
    assert "WIZARD-EXIT=0" in text and "10.89.61.60 on eth1" in text and "ssh <your account>@10.89.61.60" in text
    assert addresses(IFUPDOWN, "eth1") == ["10.89.61.60/24"]
    assert banner("10.89.61.60").startswith("SSH-2.0")
    on(IFUPDOWN, "test -e /etc/exchange-lb/configured")
    stored = json.loads(on(IFUPDOWN, "cat /etc/exchange-lb/network.json").stdout)
    assert stored["exchange_network_gateway"] == "10.89.61.69" and stored["exchange_network_mode"] == "static"
    # Ansible takes over from there: the same values through the role change nothing.
    same = converge(tmp_path, IFUPDOWN, exchange_network_hostname="", exchange_network_static_routes=[], exchange_network_dns_servers=[])
    assert same.returncode == 0, same.stdout[-3000:]
    assert recap(same, IFUPDOWN)["changed"] == 0, same.stdout[-3000:]
    # And the scenario's own values come back through the role.
    back = converge(tmp_path, IFUPDOWN)
    assert back.returncode == 0, back.stdout[-3000:]
    assert on(IFUPDOWN, "hostname").stdout.strip() == "lb-net1"


# --- DHCP with a real DHCP server (dnsmasq on the peer) ------------------------------------------
@pytest.fixture()
def dhcp_server() -> Any:
    """dnsmasq on the peer's eth1, DHCP only, each node's eth1 MAC bound to one address."""
    macs = {node: on(node, "cat /sys/class/net/eth1/address").stdout.strip() for node in (IFUPDOWN, NETWORKD)}
    conf = "\n".join([
        "port=0", "interface=eth1", "bind-interfaces", "dhcp-authoritative", "log-dhcp",
        "dhcp-range=10.89.61.100,10.89.61.109,255.255.255.0,10m", "dhcp-option=option:router,10.89.61.69",
        f"dhcp-host={macs[NETWORKD]},10.89.61.100", f"dhcp-host={macs[IFUPDOWN]},10.89.61.101", "",
    ])
    on(PEER, "cat > /etc/dnsmasq.d/exlb-lab.conf && systemctl restart dnsmasq", stdin=conf)
    yield
    on(PEER, "systemctl stop dnsmasq; rm -f /etc/dnsmasq.d/exlb-lab.conf")


def test_role_in_dhcp_mode_takes_the_lease(dhcp_server: None, tmp_path: Path) -> None:
    result = converge(tmp_path, NETWORKD, exchange_network_mode="dhcp", exchange_network_address="10.89.61.100")
    assert result.returncode == 0, result.stdout[-3000:]
    try:
        assert "10.89.61.100/24" in addresses(NETWORKD, "eth1")
        assert "DHCP=ipv4" in on(NETWORKD, "cat /etc/systemd/network/10-exchange-lb-eth1.network").stdout
        assert banner("10.89.61.100").startswith("SSH-2.0")
        assert re.search(r"^default via 10\.89\.61\.69 dev eth1", on(NETWORKD, "ip -4 route show").stdout, re.M)
        assert "DHCPACK(eth1) 10.89.61.100" in on(PEER, "journalctl -u dnsmasq --no-pager").stdout
    finally:
        back = converge(tmp_path, NETWORKD)
    assert back.returncode == 0, back.stdout[-3000:]
    assert "10.89.61.61/24" in addresses(NETWORKD, "eth1")
    assert "10.89.61.100/24" not in addresses(NETWORKD, "eth1")


def test_wizard_dhcp_with_a_lease(dhcp_server: None, wizard_terminal: None, unconfigured: None, tmp_path: Path) -> None:
    wait_screen("(D/s)?", 20)
    tmux("send-keys", "-t", TMUX, "D")
    text = wait_screen("WIZARD-EXIT=", 60)
    print(text)
    try:
        assert "WIZARD-EXIT=0" in text and "10.89.61.101 on eth1" in text and "ssh <your account>@10.89.61.101" in text
        assert "192.168.0.200" not in text
        assert "10.89.61.101/24" in addresses(IFUPDOWN, "eth1")
        assert banner("10.89.61.101").startswith("SSH-2.0")
        on(IFUPDOWN, "test -e /etc/exchange-lb/configured")
        assert json.loads(on(IFUPDOWN, "cat /etc/exchange-lb/network.json").stdout)["exchange_network_mode"] == "dhcp"
    finally:
        back = converge(tmp_path, IFUPDOWN)
    assert back.returncode == 0, back.stdout[-3000:]
    assert addresses(IFUPDOWN, "eth1") == ["10.89.61.60/24"]


def test_a_reboot_before_the_confirmation_keeps_the_confirmed_configuration() -> None:
    """The guard that undoes an unconfirmed change is a process, which a restart ends. At boot, before
    the network starts, exlb-netcfg-pending.service puts the confirmed files back. Last in this file:
    a container's restart is not a VM's reboot (podman adds its own address to eth1 and writes its own
    /etc/resolv.conf at every start), so the node is left as the restart made it; that the interface
    comes up with the confirmed address after a real reboot is for the VM image's scenario."""
    config = json.loads(on(IFUPDOWN, "cat /etc/exchange-lb/network.json").stdout)
    config["exchange_network_address"] = "10.89.61.66"
    before = files_digest(IFUPDOWN, resolv_conf=False)
    applied = json.loads(on(IFUPDOWN, "exlb-netcfg apply --config - --confirm-timeout 600", stdin=json.dumps(config)).stdout)
    assert applied["token"] and files_digest(IFUPDOWN, resolv_conf=False) != before
    podman("restart", "--time", "10", IFUPDOWN, timeout=120)
    booted = wait_until(lambda: on(IFUPDOWN, "systemctl is-system-running", check=False).stdout.strip() in ("running", "degraded"),
                        timeout=90, interval=1)
    assert booted, on(IFUPDOWN, "systemctl list-jobs", check=False).stdout
    assert files_digest(IFUPDOWN, resolv_conf=False) == before
    assert "rolled back: the node restarted before the change was confirmed" in on(IFUPDOWN, "cat /var/lib/exchange-lb/netcfg/netcfg.log").stdout
    # it ran before the network came up, and nothing is left pending
    put_back, network_up = (int(on(IFUPDOWN, f"systemctl show -P {prop} {unit}").stdout.strip() or 0) for prop, unit in
                            (("ExecMainExitTimestampMonotonic", "exlb-netcfg-pending.service"),
                             ("ExecMainStartTimestampMonotonic", "networking.service")))
    assert 0 < put_back <= network_up
    assert on(IFUPDOWN, "test -e /var/lib/exchange-lb/netcfg/rollback.json", check=False).returncode == 1
    assert "10.89.61.66/24" not in addresses(IFUPDOWN, "eth1")
    assert on(IFUPDOWN, f"exlb-netcfg confirm {applied['token']}", check=False).returncode == 1
