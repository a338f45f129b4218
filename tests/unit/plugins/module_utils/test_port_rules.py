"""Rules over the whole listening plan, and against what already listens on the host."""

from __future__ import annotations

import pytest

from ansible_collections.exchange_lb.appliance.plugins.module_utils._port_rules import (
    Listener,
    Socket,
    check_listeners,
    check_rpc_ports,
    configured_listeners,
    host_conflicts,
    listener,
    not_listening,
    parse_proc_net_tcp,
)
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError

HTTPS = Listener("HTTP(s) Service › Virtual Service HTTPs port", "10.0.0.10", 443)
IMAPS = Listener("IMAP(s) Service › Virtual Service IMAPs port", "10.0.0.10", 993)

PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0A0A000A:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0
   2: 0B00000A:C350 0A00000A:01BB 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 100 0 0 10 0
"""


def test_parse_proc_net_tcp_keeps_listening_sockets_only() -> None:
    assert parse_proc_net_tcp(PROC_NET_TCP) == [("0.0.0.0", 22, 1111), ("10.0.10.10", 443, 2222)]


def test_a_clash_names_both_fields() -> None:
    clash = Listener("HTTP(s) Service › Virtual Service HTTPs port", "10.0.0.10", 993)
    with pytest.raises(PlanError) as caught:
        check_listeners([IMAPS, clash])
    assert str(caught.value) == (
        "HTTP(s) Service › Virtual Service HTTPs port: 993 is already used by IMAP(s) Service › Virtual Service IMAPs port"
    )


def test_any_address_clashes_with_every_address() -> None:
    with pytest.raises(PlanError, match=r"already used by .* \(on 0\.0\.0\.0\)"):
        check_listeners([Listener("stats", "0.0.0.0", 443), HTTPS])


def test_same_port_on_other_addresses_is_fine() -> None:
    check_listeners([HTTPS, Listener("internal", "127.0.0.1", 443)])


@pytest.mark.parametrize(
    ("value", "message"),
    [(0, "out of range"), (65536, "out of range"), ("https", "not a TCP port"), (True, "not a TCP port")],
)
def test_listener_ports_are_validated(value: object, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        listener("HTTP(s) Service › Virtual Service HTTPs port", "10.0.0.10", value)


def rpc(epm: int = 135, ca: int = 60000, ab: int = 60001) -> tuple[Listener, Listener, Listener]:
    return (
        Listener("RPC Services › Endpoint Mapper port", "10.0.0.10", epm),
        Listener("RPC Services › Access Point port", "10.0.0.10", ca),
        Listener("RPC Services › Address Book port", "10.0.0.10", ab),
    )


def test_rpc_guide_defaults_pass() -> None:
    check_rpc_ports(*rpc())


@pytest.mark.parametrize(
    ("ports", "reason", "field", "message"),
    [
        ((135, 60000, 60000), "", "RPC Services › Address Book port", "must differ"),
        ((135, 135, 60001), "", "RPC Services › Access Point port", "endpoint mapper"),
        ((135, 60000, 59000), "", "RPC Services › Address Book port", "outside 59531-60554"),
        ((135, 135, 60001), "old CAS", "RPC Services › Access Point port", "endpoint mapper"),
    ],
)
def test_rpc_rules(ports: tuple[int, int, int], reason: str, field: str, message: str) -> None:
    with pytest.raises(PlanError) as caught:
        check_rpc_ports(*rpc(*ports), outside_range_reason=reason)
    assert caught.value.field == field and message in str(caught.value)


def test_rpc_range_is_waived_with_a_reason() -> None:
    check_rpc_ports(*rpc(135, 6001, 6002), outside_range_reason="ports fixed before SP1")


def test_a_port_held_by_another_program_is_refused_naming_it() -> None:
    sockets = [Socket("0.0.0.0", 443, "nginx", 812), Socket("0.0.0.0", 22, "sshd", 90)]
    assert host_conflicts([HTTPS, IMAPS], sockets, node="lb1") == [
        "HTTP(s) Service › Virtual Service HTTPs port: 443 is already used on lb1 by nginx (pid 812) on 0.0.0.0"
    ]


def test_ports_held_by_the_appliance_itself_are_fine() -> None:
    sockets = [Socket("10.0.0.10", 443, "haproxy", 5), Socket("10.0.0.10", 993, "stunnel4", 6)]
    assert host_conflicts([HTTPS, IMAPS], sockets) == []


def test_a_port_on_another_address_is_no_conflict() -> None:
    assert host_conflicts([HTTPS], [Socket("127.0.0.1", 443, "nginx", 1)]) == []


def test_ports_the_current_config_opens_are_the_appliances() -> None:
    own = configured_listeners(
        "peers exlb_peers\n    peer lb1 10.0.0.11:10000\nfrontend ft\n    bind 10.0.0.10:443 ssl crt /x.pem\n[imaps]\naccept = 10.0.0.10:993\n"
    )
    assert own == {("10.0.0.11", 10000), ("10.0.0.10", 443), ("10.0.0.10", 993)}
    # the node metrics as the node_metrics role writes them; Debian's own default (ARGS="") opens nothing of ours
    assert configured_listeners('ARGS="--web.listen-address=10.0.0.11:9100 --web.config.file=/etc/x.yml"') == {("10.0.0.11", 9100)}
    assert configured_listeners('ARGS=""') == set()
    sockets = [Socket("10.0.0.10", 443), Socket("10.0.0.10", 993)]  # holders unknown
    assert host_conflicts([HTTPS, IMAPS], sockets, own=own) == []
    assert host_conflicts([HTTPS], sockets) == [
        "HTTP(s) Service › Virtual Service HTTPs port: 443 is already used on the node by another program on 10.0.0.10"
    ]


def test_listeners_nothing_listens_on_are_reported() -> None:
    sockets = [Socket("10.0.0.10", 443), Socket("0.0.0.0", 993)]
    assert not_listening([HTTPS, IMAPS], sockets) == []
    assert not_listening([HTTPS, IMAPS], [Socket("10.0.0.10", 443)]) == [IMAPS]
