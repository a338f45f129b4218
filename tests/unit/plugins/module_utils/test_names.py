"""Names and numbers that reach a daemon's configuration: ASCII only, matched whole, each refusal naming
its field (issue 15: config injection, look-alike names, peer names not normalised)."""

from __future__ import annotations

import io
import os
import string
import typing as t

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.exchange_lb.appliance.plugins.module_utils import _netcfg
from ansible_collections.exchange_lb.appliance.plugins.module_utils._netcfg import NetError, normalize
from ansible_collections.exchange_lb.appliance.plugins.module_utils._pairs import plan_in_inventory
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import PlanError, build_plan
from ansible_collections.exchange_lb.appliance.plugins.module_utils._settings import SETTINGS, _value
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import hostname, integer, user_name
from plan_settings import BASE

PAIR: dict[str, t.Any] = {"ha_role": "master", "virtual_service_address": "10.0.0.10", "network_hostname": "lb1"}
PEERS = [{"name": "lb1", "address": "10.0.0.11"}, {"name": "lb2", "address": "10.0.0.12"}]

#: Look-alikes: each folds to an ASCII letter under re.IGNORECASE or str.lower(), or is another script's digit.
LOOK_ALIKES = ["\u017f", "\u212a", "\u0131", "\u0130", "\u00b2", "\u0663", "\uff11", "\u2024"]


def refusal(**changes: t.Any) -> str:
    with pytest.raises(PlanError) as refused:
        build_plan({**BASE, **changes})
    return str(refused.value)


@pytest.mark.parametrize(
    "name",
    ["lb1\n", "lb1\nlisten x", "a\n.b", "lb2 #x", "lb#2", "lb 2", "lb\t2", "lb\r", "\u017fmtp", "\u212aelvin", "l\u0131b", "lb\u00b2",
     "lb1..example", "-lb1", "lb1-", "lb_1", "lb1;", "lb1}", "", "."],
)
def test_host_names_are_ascii_labels_matched_whole(name: str) -> None:
    with pytest.raises(PlanError, match="^Network › Hostname: "):
        hostname("Network › Hostname", name)
    if name:  # empty: no host name (the inventory's)
        assert refusal(network_hostname=name).startswith("Network › Hostname: ")


@pytest.mark.parametrize(("name", "expected"), [("LB1", "lb1"), ("lb1.example.com.", "lb1.example.com"), (" lb-1 ", "lb-1"), ("1lb", "1lb")])
def test_host_names_are_lower_cased(name: str, expected: str) -> None:
    assert hostname("f", name) == expected


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cas_servers": [{"name": "cas1\nlisten x", "address": "10.0.0.15"}]}, "CAS Servers › CAS1 name"),
        ({"cas_servers": [{"name": "ca\u017f1", "address": "10.0.0.15"}]}, "CAS Servers › CAS1 name"),
        ({"hub_servers": [{"name": "hub 1", "address": "10.0.0.21"}]}, "SMTP(s) Service › HUB Servers › HUB1 name"),
        ({"http_host_name": "mail.example.com\n"}, "HTTP(s) Service › Host Name"),
        ({"http_host_name": "mail.exampl\u212a.com"}, "HTTP(s) Service › Host Name"),
        ({"network_netmask": "\u00b2"}, "Network › Netmask"),
        ({"network_netmask": "\u0662\u0664"}, "Network › Netmask"),
        ({"network_vlan_id": "\u00b2"}, "Network › vLAN Identifier"),
        ({"stats_port": "\uff18\uff14\uff10\uff14"}, "statistics and metrics port (exchange_stats_port)"),
        ({"http_timeout": "\u0663\u0660"}, "HTTP(s) Service › Timeout"),
        ({"admin_user": "admin insecure-password letmein #"}, "Setup tab › System › admin user (exchange_admin_user)"),
        ({"admin_user": "admin\n"}, "Setup tab › System › admin user (exchange_admin_user)"),
        ({"admin_user": "\u212a"}, "Setup tab › System › admin user (exchange_admin_user)"),
        ({"admin_user": ""}, "Setup tab › System › admin user (exchange_admin_user)"),
        ({"network_interface": "eth0\nx"}, "Network › interface (exchange_network_interface)"),
        ({"network_interface": "eth0 x"}, "Network › interface (exchange_network_interface)"),
        ({**PAIR, "peers": [PEERS[0], {"name": "lb2\nlisten relay", "address": "10.0.0.12"}]}, "High Availability › peer 2 › name"),
        ({**PAIR, "peers": [PEERS[0], {"name": "lb2 #x", "address": "10.0.0.12"}]}, "High Availability › peer 2 › name"),
        ({**PAIR, "peers": [PEERS[0], {"name": "LB1", "address": "10.0.0.12"}]}, "High Availability › peers (exchange_peers)"),
    ],
)
def test_each_refusal_names_its_field(changes: dict[str, t.Any], field: str) -> None:
    assert field in refusal(**changes)


def test_peer_names_are_lower_cased_so_that_the_node_finds_itself() -> None:
    for own, peers in (("LB1", [{"name": "LB1", "address": "10.0.0.11"}, {"name": "LB2", "address": "10.0.0.12"}]),
                       ("lb1", [{"name": "LB1", "address": "10.0.0.11"}, {"name": "Lb2", "address": "10.0.0.12"}]),
                       ("Lb1", PEERS)):
        plan = build_plan({**BASE, **PAIR, "network_hostname": own, "peers": peers})
        assert [peer.name for peer in plan.peers] == ["lb1", "lb2"]
        assert plan.local_peer == "lb1"
        assert plan.haproxy.local_peer == "lb1"


def test_the_admin_user_is_taken_exactly_as_given() -> None:
    assert user_name("f", "admin") == "admin"
    assert user_name("f", "ops.team_1-a") == "ops.team_1-a"
    for bad in (" admin", "admin ", "a" * 33, "-admin", ".admin", "adm#in", "ad:min", None):
        with pytest.raises(PlanError, match="^f: "):
            user_name("f", bad)


@given(st.text(max_size=12))
@settings(max_examples=300, deadline=None)
def test_every_integer_setting_takes_ascii_digits_or_names_its_field(text: str) -> None:
    """Any text for any integer setting: a number written in ASCII digits, or a refusal naming the field
    (never a traceback: '²'.isdigit() is true and int('²') raises)."""
    for setting in SETTINGS.values():
        if setting.type != "int" or not setting.to_plan:
            continue
        try:
            value = _value(setting, text)
        except PlanError as error:
            assert error.field == setting.field
            continue
        assert value is None or (isinstance(value, int) and text.strip().isascii())


@given(st.text(max_size=20))
@settings(max_examples=300, deadline=None)
def test_a_host_name_is_ascii_or_refused(text: str) -> None:
    try:
        name = hostname("f", text)
    except PlanError as error:
        assert error.field == "f"
        return
    assert name.isascii() and name == name.lower() and not set(name) - set(string.ascii_lowercase + string.digits + "-.")


@given(st.text(max_size=12))
@settings(max_examples=200, deadline=None)
def test_integer_takes_ascii_digits_only(text: str) -> None:
    try:
        number = integer("f", text, -(10**12), 10**12)
    except PlanError as error:
        assert error.field == "f"
        return
    assert text.strip().isascii() and str(number).lstrip("-") == (text.strip().lstrip("+-").lstrip("0") or "0")


# --- exlb-netcfg, the network role's and the first-boot wizard's tool ------------------------------
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"exchange_network_hostname": "lb1\n"}, "Network › Hostname"),
        ({"exchange_network_hostname": "a\n.b"}, "Network › Hostname"),
        ({"exchange_network_hostname": "\u017fmtp"}, "Network › Hostname"),
        ({"exchange_network_hostname": "\u212aelvin"}, "Network › Hostname"),
        ({"exchange_network_netmask": "\u00b2"}, "Network › Netmask"),
        ({"exchange_network_vlan_id": "\u00b2"}, "Network › vLAN Identifier"),
        ({"exchange_network_interface": "eth0\nx"}, "Network › interface (exchange_network_interface)"),
    ],
)
def test_the_tool_refuses_look_alikes_naming_the_field(changes: dict[str, t.Any], field: str) -> None:
    with pytest.raises(NetError) as refused:
        normalize({"exchange_network_interface": "ens18", "exchange_network_address": "10.0.0.17", **changes})
    assert refused.value.field == field


def test_the_tool_lower_cases_the_host_name() -> None:
    assert normalize({"exchange_network_interface": "ens18", "exchange_network_address": "10.0.0.17",
                      "exchange_network_hostname": "LB1.Example."})["exchange_network_hostname"] == "lb1.example"


def _pipe(text: str) -> t.TextIO:
    """Input that is no terminal: the read end of a pipe holding ``text``."""
    read, write = os.pipe()
    os.write(write, text.encode())
    os.close(write)
    return open(read, encoding="utf-8")  # pylint: disable=consider-using-with


def test_the_wizard_reads_keys_from_input_that_is_no_terminal() -> None:
    with _pipe("s\nrest\n") as stream:
        assert _netcfg._read_key(stream, 1) == "s"  # pylint: disable=protected-access
        assert stream.readline() == "rest\n"  # the key's line was read whole
        assert _netcfg._read_key(stream, 1) is None  # pylint: disable=protected-access
    with open(os.devnull, encoding="utf-8") as stream:
        assert _netcfg._read_key(stream, 1) is None  # pylint: disable=protected-access


def test_the_wizard_gives_field_errors_and_stops_at_the_end_of_its_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """Piped answers with a Unicode digit: a field error and the question again, never a traceback; the end
    of the input ends the wizard without a change."""
    applied: list[t.Any] = []
    monkeypatch.setattr(_netcfg, "apply", lambda *args, **kwargs: applied.append(args))
    out = io.StringIO()
    with _pipe("s\n10.0.0.17\n\u00b2\n24\nnone\nn\n") as stream:
        assert _netcfg.wizard("ens18", 5, 5, inp=stream, out=out) == 1
    text = out.getvalue()
    assert "Error: Network › Netmask: '\u00b2' is not a netmask" in text
    assert "Not saved." in text
    assert text.endswith("The input ended before the configuration was committed: nothing was changed.\n")
    assert not applied


def test_the_wizard_takes_dhcp_at_once_when_its_input_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    configs: list[dict[str, t.Any]] = []

    def fake_apply(config: dict[str, t.Any], **kwargs: t.Any) -> dict[str, t.Any]:
        configs.append(config)
        return {"address": "10.0.0.50", "config": config}

    monkeypatch.setattr(_netcfg, "apply", fake_apply)
    out = io.StringIO()
    with open(os.devnull, encoding="utf-8") as stream:
        assert _netcfg.wizard("ens18", 30, 5, inp=stream, out=out) == 0  # without waiting 30 s for a key
    assert [config["exchange_network_mode"] for config in configs] == ["dhcp"]
    assert "D (no key pressed)" in out.getvalue()


def test_an_unknown_setting_key_is_not_a_look_alike() -> None:
    for character in LOOK_ALIKES:
        with pytest.raises(PlanError):
            hostname("f", f"lb{character}1")


def test_the_default_peers_of_an_inventory_in_capitals_find_the_node() -> None:
    """The pair's peers found in the inventory (host names LB1, LB2 from Network › Hostname or the
    inventory names): the node whose host name is LB1 is peer lb1."""
    nodes = {
        "LB1.example.com": {"exchange_ha_role": "master", "exchange_network_address": "10.0.0.11", "inventory_hostname_short": "LB1",
                            "exchange_virtual_service_address": "10.0.0.10"},
        "LB2.example.com": {"exchange_ha_role": "backup", "exchange_network_address": "10.0.0.12", "exchange_network_hostname": "LB2",
                            "exchange_virtual_service_address": "10.0.0.10"},
    }
    settings = {**BASE, "ha_role": "master", "virtual_service_address": "10.0.0.10", "network_address": "10.0.0.11",
                "network_hostname": "LB1"}
    plan = plan_in_inventory(settings, "", nodes)
    assert [(peer.name, peer.address) for peer in plan.peers] == [("lb1", "10.0.0.11"), ("lb2", "10.0.0.12")]
    assert plan.local_peer == "lb1"
