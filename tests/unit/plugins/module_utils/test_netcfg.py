"""exlb-netcfg: validation, rendering for ifupdown and systemd-networkd, the plan's network part."""

from __future__ import annotations

import io
import os
import typing as t

import pytest

from ansible_collections.exchange_lb.appliance.plugins.module_utils import _netcfg
from ansible_collections.exchange_lb.appliance.plugins.module_utils._netcfg import NetError, normalize, render_ifupdown, render_networkd, strip_ifupdown_main
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import PlanError, build_plan

STATIC: dict[str, t.Any] = {
    "exchange_network_interface": "ens18",
    "exchange_network_address": "10.0.0.17",
    "exchange_network_netmask": "255.255.0.0",
    "exchange_network_gateway": "10.0.1.1",
    "exchange_network_static_routes": [
        {"network": "172.16.0.0", "netmask": "255.240.0.0", "router": "10.0.0.254"},
        {"network": "192.168.10.0", "netmask": "24", "router": "10.0.0.253"},
    ],
    "exchange_network_dns_servers": ["10.0.0.2"],
}

PLAN_BASE: dict[str, t.Any] = {
    "network_address": "10.0.0.17",
    "network_netmask": "255.255.0.0",
    "cas_servers": [{"name": "cas1", "address": "10.0.0.15"}, {"name": "cas2", "address": "10.0.0.16"}],
    "http_mode": "clear",
}


def test_normalize_fills_every_key_and_canonical_forms() -> None:
    config = normalize(STATIC)
    assert config["exchange_network_mode"] == "static"
    assert config["exchange_network_netmask"] == "255.255.0.0"
    assert config["exchange_network_vlan_id"] is None
    assert config["exchange_network_static_routes"][1] == {"network": "192.168.10.0", "netmask": "255.255.255.0", "router": "10.0.0.253"}
    assert set(config) == set(_netcfg.KEYS)
    assert normalize(config) == config


def test_dhcp_drops_the_static_values() -> None:
    config = normalize({**STATIC, "exchange_network_mode": "dhcp", "exchange_network_static_routes": []})
    assert (config["exchange_network_address"], config["exchange_network_gateway"]) == ("", "")
    assert "iface ens18 inet dhcp" in render_ifupdown(config)
    assert "DHCP=ipv4" in render_networkd(config)["/etc/systemd/network/10-exchange-lb-ens18.network"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"exchange_network_address": "10.0.0.300"}, "Network › Address: '10.0.0.300' is not an IPv4 address (like 192.168.0.200)"),
        ({"exchange_network_address": ""}, "Network › Address: an IPv4 address is required"),
        ({"exchange_network_netmask": "255.0.255.0"}, "Network › Netmask: '255.0.255.0' is not a netmask"),
        ({"exchange_network_gateway": "10.1.1.1"}, "Network › Gateway: 10.1.1.1 is not in the node's subnet 10.0.0.0/16"),
        ({"exchange_network_gateway": "10.0.0.17"}, "Network › Gateway: 10.0.0.17 is the node's own address"),
        ({"exchange_network_address": "10.0.0.0"}, "Network › Address: 10.0.0.0 is the network or broadcast address of 10.0.0.0/16"),
        ({"exchange_network_vlan_id": 4095}, "Network › vLAN Identifier: '4095' is not a VLAN number (1-4094)"),
        ({"exchange_network_static_routes": [{"network": "172.16.0.1", "netmask": "16", "router": "10.0.0.254"}]},
         "Network › Static Routes › Route 1 › Network: 172.16.0.1 has host bits set for netmask /16"),
        ({"exchange_network_static_routes": [{"network": "172.16.0.0", "netmask": "16", "router": "192.168.1.1"}]},
         "Network › Static Routes › Route 1 › Router: 192.168.1.1 is not in the node's subnet 10.0.0.0/16"),
        ({"exchange_network_dns_servers": ["dns.example"]}, "Network › DNS server 1: 'dns.example' is not an IPv4 address"),
        ({"exchange_network_interface": "eth0; reboot"}, "Network › interface (exchange_network_interface): 'eth0; reboot' is not a network interface name"),
        ({"exchange_network_mode": "bootp"}, "Network › mode (exchange_network_mode): unknown value 'bootp'"),
        ({"exchange_network_hostname": "lb_1"}, "Network › Hostname: 'lb_1' is not a valid host name"),
        ({"exchange_network_color": "blue"}, "settings: unknown key(s): exchange_network_color"),
    ],
)
def test_bad_values_name_the_wui_field(changes: dict[str, t.Any], message: str) -> None:
    with pytest.raises(NetError) as error:
        normalize({**STATIC, **changes})
    assert str(error.value).startswith(message)


def test_ifupdown_static_with_gateway_and_routes() -> None:
    text = render_ifupdown(normalize(STATIC))
    assert text.startswith("# Managed by exchange_lb.appliance")
    assert "auto ens18\niface ens18 inet static\n    address 10.0.0.17/16\n    gateway 10.0.1.1\n" in text
    assert "    up ip route replace 172.16.0.0/12 via 10.0.0.254 dev ens18\n" in text
    assert "    up ip route replace 192.168.10.0/24 via 10.0.0.253 dev ens18\n" in text


def test_ifupdown_vlan_puts_the_address_on_the_sub_interface() -> None:
    text = render_ifupdown(normalize({**STATIC, "exchange_network_vlan_id": 20}))
    assert "iface ens18 inet manual\n" in text
    assert "auto ens18.20\niface ens18.20 inet static\n    address 10.0.0.17/16\n" in text
    assert "    vlan-raw-device ens18\n" in text
    assert "dev ens18.20" in text


def test_networkd_vlan_has_a_netdev_and_the_parent_carries_it() -> None:
    files = render_networkd(normalize({**STATIC, "exchange_network_vlan_id": 20}))
    parent = files["/etc/systemd/network/10-exchange-lb-ens18.network"]
    vlan = files["/etc/systemd/network/10-exchange-lb-ens18.20.network"]
    assert "Name=ens18\n" in parent and "VLAN=ens18.20\n" in parent and "Address=" not in parent
    assert "Kind=vlan\n" in files["/etc/systemd/network/10-exchange-lb-ens18.20.netdev"]
    assert "Id=20\n" in files["/etc/systemd/network/10-exchange-lb-ens18.20.netdev"]
    assert "Address=10.0.0.17/16\nGateway=10.0.1.1\nDNS=10.0.0.2\n" in vlan
    assert "[Route]\nDestination=172.16.0.0/12\nGateway=10.0.0.254\n" in vlan


def test_the_installers_stanza_moves_out_of_the_main_file() -> None:
    installer = (
        "# This file describes the network interfaces available on your system\n"
        "source /etc/network/interfaces.d/*\n\n"
        "# The loopback network interface\nauto lo\niface lo inet loopback\n\n"
        "# The primary network interface\nallow-hotplug ens18\niface ens18 inet dhcp\n"
        "  hostname lb1\n\nauto ens19 ens18\niface ens19 inet manual\n"
    )
    text = strip_ifupdown_main(installer, {"ens18"})
    assert "ens18" not in text
    assert "iface lo inet loopback" in text and "auto ens19\niface ens19 inet manual\n" in text
    assert "hostname lb1" not in text
    assert strip_ifupdown_main(text, {"ens18"}) == text


def test_a_main_file_without_source_gets_one() -> None:
    assert strip_ifupdown_main("auto lo\niface lo inet loopback\n", {"eth0"}).endswith("\nsource /etc/network/interfaces.d/*\n")


def test_the_plan_has_no_network_part_unless_managed() -> None:
    assert build_plan(PLAN_BASE).network is None


def test_the_plan_network_part_is_the_tools_configuration() -> None:
    plan = build_plan(
        {**PLAN_BASE, "network_manage": True, "network_interface": "ens18", "network_gateway": "10.0.1.1", "network_hostname": "lb1",
         "network_vlan_id": 20, "network_static_routes": [{"network": "172.16.0.0", "netmask": "12", "router": "10.0.0.254"}],
         "network_dns_servers": ["10.0.0.2"]}
    )
    assert plan.network == {
        "exchange_network_interface": "ens18",
        "exchange_network_mode": "static",
        "exchange_network_hostname": "lb1",
        "exchange_network_address": "10.0.0.17",
        "exchange_network_netmask": "255.255.0.0",
        "exchange_network_gateway": "10.0.1.1",
        "exchange_network_vlan_id": 20,
        "exchange_network_static_routes": [{"network": "172.16.0.0", "netmask": "255.240.0.0", "router": "10.0.0.254"}],
        "exchange_network_dns_servers": ["10.0.0.2"],
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"network_interface": ""}, "Network › interface (exchange_network_interface): required"),
        ({"network_mode": "bootp"}, "Network › mode (exchange_network_mode): unknown value 'bootp'"),
        ({"network_dns_servers": ["10.0.0.300"]}, "Network › DNS server 1: '10.0.0.300' is not an IPv4 address"),
        ({"network_dns_servers": "10.0.0.2"}, "Network › DNS servers (exchange_network_dns_servers): a list"),
        ({"network_rollback_timeout": 0}, "Network › rollback timeout (exchange_network_rollback_timeout): 0 is out of range"),
        ({"network_static_routes": [{"network": "172.16.0.0", "netmask": "12", "router": "10.9.0.1"}]},
         "Network › Static Routes › Route 1 › Router: 10.9.0.1 is not in the node's subnet 10.0.0.0/16"),
    ],
)
def test_the_plan_refuses_bad_network_settings_naming_the_field(changes: dict[str, t.Any], message: str) -> None:
    with pytest.raises(PlanError) as error:
        build_plan({**PLAN_BASE, "network_manage": True, "network_interface": "ens18", **changes})
    assert str(error.value).startswith(message)


class _Keys(io.StringIO):
    """A console without a terminal: lines for questions; no key for the D/s prompt."""

    def fileno(self) -> int:
        raise OSError("not a terminal")


def test_wizard_reprompts_a_bad_address_and_says_not_saved_on_n(monkeypatch: pytest.MonkeyPatch) -> None:
    applied: list[dict[str, t.Any]] = []

    def fake_key(stream: t.Any, timeout: float) -> str:
        return "s"

    def record(config: dict[str, t.Any], *args: t.Any, **kwargs: t.Any) -> dict[str, t.Any]:
        applied.append(config)
        return {"address": config["exchange_network_address"], "config": config}

    monkeypatch.setattr(_netcfg, "_read_key", fake_key)
    monkeypatch.setattr(_netcfg, "apply", record)
    answers = _Keys("10.0.0.300\n10.0.0.17\n255.0.255.0\n255.255.0.0\n10.9.9.9\n10.0.1.1\nn\n\n\n\ny\n")
    out = io.StringIO()
    assert _netcfg.wizard("ens18", 10, 5, inp=answers, out=out) == 0
    text = out.getvalue()
    assert "Use IP address (192.168.0.200)? Error: Network › Address: '10.0.0.300' is not an IPv4 address" in text
    assert "Error: Network › Netmask: '255.0.255.0' is not a netmask" in text
    assert "Error: Network › Gateway: 10.9.9.9 is not in the node's subnet 10.0.0.0/16. Please type it again." in text
    assert "Not saved." in text
    assert text.count("Configure IP manually") == 2
    assert "Use IP address (10.0.0.17)?" in text  # the values typed before are the defaults
    assert applied == [normalize({"exchange_network_interface": "ens18", "exchange_network_address": "10.0.0.17",
                                  "exchange_network_netmask": "255.255.0.0", "exchange_network_gateway": "10.0.1.1"})]
    assert "10.0.0.17 on ens18" in text


# --- the wizard's branches, pinned as the console shows them ---------------------------------
WARNINGS = (
    "\nWarning: No IP configuration found !\n"
    "Warning: DHCP configuration is available for test purpose only.\n"
    "Warning: A static IP configuration is recommended.\n"
    "Retrieve IP using DHCP or configure static ... 10sec (D/s)? "
)
DHCP_CONFIG = normalize({"exchange_network_interface": "ens18", "exchange_network_mode": "dhcp"})
FALLBACK_CONFIG = normalize({"exchange_network_interface": "ens18", "exchange_network_address": "192.168.0.200", "exchange_network_netmask": "255.255.255.0"})
STATIC_CONFIG = normalize({"exchange_network_interface": "ens18", "exchange_network_address": "10.0.0.17",
                           "exchange_network_netmask": "255.255.0.0", "exchange_network_gateway": "10.0.1.1"})


def _report(address: str, dev: str = "ens18", user: str = "<your account>") -> str:
    return (
        "\nManagement address :\n"
        f"    {address} on {dev}\n"
        f"Reach it with:  ssh {user}@{address}\n"
        f"then let Ansible take over: exchange_network_address: {address} in the inventory (see /etc/exchange-lb/network.json).\n"
    )


def _wizard(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any, key: str, answers: str, outcomes: list[t.Any],
            interface: str = "ens18", out: io.StringIO | None = None, **options: str) -> tuple[int, str, list[dict[str, t.Any]], bool]:
    """Run the wizard with ``key`` at the D/s prompt and ``answers`` typed; each apply takes the next of
    ``outcomes`` (an address it got, or the NetError it raises). Returns (code, console, applied, marker kept)."""
    applied: list[dict[str, t.Any]] = []
    marker = tmp_path / "configured"
    marker.write_text("configured by exlb-netcfg\n")

    def fake_apply(config: dict[str, t.Any], *args: t.Any, **kwargs: t.Any) -> dict[str, t.Any]:
        assert kwargs == {"dhcp_wait": 5} and not args
        applied.append(config)
        outcome = outcomes.pop(0)
        if isinstance(outcome, NetError):
            raise outcome
        return {"stack": "ifupdown", "changed": True, "files": [], "config": dict(config), "address": outcome, "token": ""}

    monkeypatch.setattr(_netcfg, "_read_key", lambda stream, timeout: key)
    monkeypatch.setattr(_netcfg, "apply", fake_apply)
    monkeypatch.setattr(_netcfg, "MARKER", str(marker))
    out = out or io.StringIO()
    code = _netcfg.wizard(interface, 10, 5, inp=_Keys(answers), out=out, **options)
    assert not outcomes
    return code, out.getvalue(), applied, marker.exists()


def test_wizard_static_applied(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    code, text, applied, marker = _wizard(monkeypatch, tmp_path, "s", "10.0.0.17\n255.255.0.0\n10.0.1.1\ny\n", ["10.0.0.17"])
    assert (code, applied, marker) == (0, [STATIC_CONFIG], True)
    assert text == (
        WARNINGS + "s\n"
        "Configure IP manually\n"
        "Use IP address (192.168.0.200)? Use netmask (255.255.255.0)? Use default gateway (none)? "
        "Commit and save this configuration (N/y)? " + _report("10.0.0.17")
    )


def test_a_key_typed_right_after_the_prompt_is_not_lost() -> None:
    # A console (a serial line, a script, a fast typist) may answer before the wizard sets the
    # terminal to single keys: that key counts.
    main, console = os.openpty()
    try:
        os.write(main, b"s")
        with os.fdopen(os.dup(console), "r") as stream:
            assert _netcfg._read_key(stream, 1.0) == "s"
    finally:
        os.close(main)
        os.close(console)


def test_wizard_names_the_ssh_account_it_was_given(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    # The appliance image's admin account; never root (Debian's sshd refuses root's password).
    code, text, _applied, _marker = _wizard(monkeypatch, tmp_path, "s", "10.0.0.17\n255.255.0.0\n10.0.1.1\ny\n", ["10.0.0.17"],
                                            ssh_user="admin")
    assert code == 0 and text.endswith(_report("10.0.0.17", user="admin"))
    assert "ssh root@" not in text


def test_wizard_on_two_consoles_the_first_answered_one_configures(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    lock = str(tmp_path / "run" / "exlb-firstboot.lock")
    held = _netcfg._take_console(lock)  # the wizard of the other console was answered first
    assert held is not None
    code, text, applied, _marker = _wizard(monkeypatch, tmp_path, "s", "", [], lock=lock)
    assert (code, applied) == (0, [])
    assert text == WARNINGS + "s\nThe network is being configured on another console.\n"
    os.close(held)
    code, text, applied, _marker = _wizard(monkeypatch, tmp_path, "s", "10.0.0.17\n255.255.0.0\n10.0.1.1\ny\n", ["10.0.0.17"],
                                           lock=lock)
    assert (code, applied) == (0, [STATIC_CONFIG]) and text.endswith(_report("10.0.0.17"))


def test_wizard_static_defaults_without_a_gateway(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    code, text, applied, _marker = _wizard(monkeypatch, tmp_path, "S", "\n\n\nyes\n", ["192.168.0.200"])
    assert (code, applied) == (0, [FALLBACK_CONFIG])
    assert text.endswith("Use default gateway (none)? Commit and save this configuration (N/y)? " + _report("192.168.0.200"))


def test_wizard_static_refused_and_rolled_back(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    error = NetError("Network › Gateway", "10.0.1.1 does not answer on ens18; the previous network configuration was restored")
    code, text, applied, marker = _wizard(monkeypatch, tmp_path, "s", "10.0.0.17\n255.255.0.0\n10.0.1.1\ny\n", [error])
    assert (code, applied, marker) == (1, [STATIC_CONFIG], True)
    assert text == (
        WARNINGS + "s\n"
        "Configure IP manually\n"
        "Use IP address (192.168.0.200)? Use netmask (255.255.255.0)? Use default gateway (none)? "
        "Commit and save this configuration (N/y)? "
        "Error: Network › Gateway: 10.0.1.1 does not answer on ens18; the previous network configuration was restored\n"
    )


def test_wizard_static_a_bad_address_and_netmask_pair_is_asked_again(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    code, text, applied, _marker = _wizard(monkeypatch, tmp_path, "s", "10.0.0.0\n255.255.0.0\n10.0.0.17\n\n\ny\n", ["10.0.0.17"])
    assert code == 0
    assert applied == [normalize({**STATIC_CONFIG, "exchange_network_gateway": ""})]
    assert ("Use IP address (192.168.0.200)? Use netmask (255.255.255.0)? "
            "Error: Network › Address: 10.0.0.0 is the network or broadcast address of 10.0.0.0/16. Please type it again.\n"
            "Use IP address (10.0.0.0)? Use netmask (255.255.0.0)? Use default gateway (none)? ") in text


def test_wizard_dhcp_with_a_lease(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    code, text, applied, marker = _wizard(monkeypatch, tmp_path, "D", "", ["10.0.0.50"])
    assert (code, applied, marker) == (0, [DHCP_CONFIG], True)
    assert text == WARNINGS + "D\nRetrieving an address using DHCP on ens18 (5 s) ...\n" + _report("10.0.0.50")


def test_wizard_dhcp_without_a_key_or_a_lease_falls_back(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    error = NetError("Network › DHCP", "no DHCP lease on ens18 within 5 s; the previous network configuration was restored")
    code, text, applied, marker = _wizard(monkeypatch, tmp_path, "", "", [error, "192.168.0.200"])
    assert (code, applied) == (0, [DHCP_CONFIG, FALLBACK_CONFIG])
    assert not marker  # not the administrator's choice: the wizard asks again at the next boot
    assert text == (
        WARNINGS + "D (no key pressed)\n"
        "Retrieving an address using DHCP on ens18 (5 s) ...\n"
        "Network › DHCP: no DHCP lease on ens18 within 5 s; the previous network configuration was restored\n"
        "No DHCP answer: using 192.168.0.200/255.255.255.0 as the guide's appliance does.\n" + _report("192.168.0.200")
    )


def test_wizard_dhcp_and_the_fallback_both_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    errors = [NetError("Network › DHCP", "no DHCP lease on ens18 within 5 s"), NetError("Network › Address", "192.168.0.200/24 did not come up on ens18")]
    code, text, applied, marker = _wizard(monkeypatch, tmp_path, "\n", "", errors)
    assert (code, applied, marker) == (1, [DHCP_CONFIG, FALLBACK_CONFIG], True)
    assert text == (
        WARNINGS + "D\n"
        "Retrieving an address using DHCP on ens18 (5 s) ...\n"
        "Network › DHCP: no DHCP lease on ens18 within 5 s\n"
        "No DHCP answer: using 192.168.0.200/255.255.255.0 as the guide's appliance does.\n"
        "Error: Network › Address: 192.168.0.200/24 did not come up on ens18\n"
    )


def test_wizard_dhcp_on_a_bad_interface_name_ends_with_the_error(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    """Neither configuration is valid: the DHCP one's error is shown, the fallback's ends the wizard (exit 2 in main)."""
    out = io.StringIO()
    with pytest.raises(NetError, match="^Network › interface \\(exchange_network_interface\\): 'bad name!' is not a network interface name$"):
        _wizard(monkeypatch, tmp_path, "d", "", [], interface="bad name!", out=out)
    assert out.getvalue() == (
        WARNINGS + "D\n"
        "Retrieving an address using DHCP on bad name! (5 s) ...\n"
        "Network › interface (exchange_network_interface): 'bad name!' is not a network interface name\n"
        "No DHCP answer: using 192.168.0.200/255.255.255.0 as the guide's appliance does.\n"
    )


@pytest.mark.parametrize(
    ("timeout", "confirmed_after", "rolled_back"),
    [
        (5, 0, False),  # confirmed before the guard looks
        (0, 0, False),  # confirmed, even with the time already up
        (5, 2, False),  # confirmed while it waits
        (0, None, True),  # never confirmed
        (1, None, True),
    ],
)
def test_guard_rolls_back_unless_confirmed(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any, timeout: int,
                                           confirmed_after: int | None, rolled_back: bool) -> None:
    flag = tmp_path / "netcfg.confirm-0123456789abcdef"
    reasons: list[str] = []
    sleeps: list[float] = []
    clock = [1000.0]

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds
        if confirmed_after is not None and len(sleeps) == confirmed_after:
            flag.write_text("confirmed\n")

    if confirmed_after == 0:
        flag.write_text("confirmed\n")
    monkeypatch.setattr(_netcfg, "RUN_DIR", str(tmp_path))
    monkeypatch.setattr(_netcfg, "rollback", lambda reason="": reasons.append(reason) or True)
    monkeypatch.setattr(_netcfg.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(_netcfg.time, "sleep", fake_sleep)
    _netcfg.guard("0123456789abcdef", timeout)
    assert reasons == ([f"no confirmation of 0123456789abcdef within {timeout} s"] if rolled_back else [])
    assert not flag.exists()
    assert len(sleeps) == (timeout * 2 if rolled_back else confirmed_after or 0)


@pytest.mark.parametrize("at_boot", [True, False])
def test_a_pending_change_is_put_back_at_boot_without_touching_the_interface(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any,
                                                                             at_boot: bool) -> None:
    """A reboot inside the confirmation window: the boot unit writes the confirmed files back before the
    network starts (no ifdown/ifup: nothing is up yet); an ordinary rollback also cycles the interface."""
    interfaces, hostname, added = tmp_path / "interfaces", tmp_path / "hostname", tmp_path / "added"
    interfaces.write_text("unconfirmed\n")
    hostname.write_text("lb-new\n")
    added.write_text("a file the change created\n")
    state = tmp_path / "state"
    state.mkdir()
    files = {str(interfaces): "confirmed\n", str(hostname): "lb1\n", str(added): None}
    (state / "rollback.json").write_text(__import__("json").dumps({"files": files, "interface": "eth0", "stack": "ifupdown"}))
    switched: list[str] = []
    commands: list[list[str]] = []
    monkeypatch.setattr(_netcfg, "STATE_DIR", str(state))
    monkeypatch.setattr(_netcfg, "HOSTNAME", str(hostname))
    monkeypatch.setattr(_netcfg, "_down", lambda iface, stack: switched.append(f"down {iface}"))
    monkeypatch.setattr(_netcfg, "_up", lambda iface, stack, wait: switched.append(f"up {iface}"))
    monkeypatch.setattr(_netcfg, "_run", lambda argv, timeout: commands.append(argv))
    assert _netcfg.main(["rollback", "--at-boot"] if at_boot else ["rollback"]) == 0
    assert interfaces.read_text() == "confirmed\n" and hostname.read_text() == "lb1\n" and not added.exists()
    assert switched == ([] if at_boot else ["down eth0", "up eth0"])
    assert ["hostname", "lb1"] in commands
    assert not (state / "rollback.json").exists()
    reason = "the node restarted before the change was confirmed" if at_boot else "asked on the command line"
    assert reason in (state / "netcfg.log").read_text()
    assert _netcfg.main(["rollback", "--at-boot"]) == 0  # nothing pending: nothing to do


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"exchange_network_static_routes": [{"network": "192.168.9.0", "netmask": "24", "router": "127.0.0.1"}]},
     "Network › Static Routes › Route 1 › Router", "is a loopback address (the node itself, 127.0.0.0/8), not the address of a router"),
    ({"exchange_network_static_routes": [{"network": "192.168.9.0", "netmask": "24", "router": "0.0.0.0"}]},
     "Network › Static Routes › Route 1 › Router", "is the unspecified address"),
    ({"exchange_network_static_routes": [{"network": "192.168.9.0", "netmask": "24", "router": STATIC["exchange_network_address"]}]},
     "Network › Static Routes › Route 1 › Router", "is the node's own address"),
    ({"exchange_network_dns_servers": ["224.0.0.251"]}, "Network › DNS server 1", "is a multicast address (224.0.0.0/4), not the address of a DNS server"),
    ({"exchange_network_dns_servers": ["10.0.0.53", "127.0.0.53"]}, "Network › DNS server 2", "the appliance runs none of its own"),
    ({"exchange_network_dns_servers": [STATIC["exchange_network_address"]]}, "Network › DNS server 1", "is the node's own address"),
])
def test_the_wizard_refuses_routers_and_dns_servers_no_host_can_be(changes: dict[str, t.Any], field: str, words: str) -> None:
    # the first-boot wizard and the network role read the configuration through normalize, as the plan does
    with pytest.raises(NetError) as refused:
        normalize({**STATIC, **changes})
    assert refused.value.field == field and words in refused.value.message
