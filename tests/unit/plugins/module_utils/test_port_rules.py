"""Rules over the whole listening plan, and against what already listens on the host."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ansible_collections.exchange_lb.appliance.plugins.module_utils._port_rules import (
    Listener,
    Socket,
    check_listeners,
    check_rpc_ports,
    configured_listeners,
    host_conflicts,
    listener,
    listening_sockets,
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


# --- IPv6: /proc/net/tcp6 ---------------------------------------------------------------------

REDIRECT = Listener("HTTP(s) Service › Virtual Service HTTP port (redirect)", "10.0.0.10", 80)
HEADER6 = (
    "  sl  local_address                         remote_address                        st tx_queue rx_queue"
    " tr tm->when retrnsmt   uid  timeout inode\n"
)
TAIL = "00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0"
ANY6 = "00000000000000000000000000000000"

# What a Debian host shows: Apache's Listen 80 ([::]:80, dual stack), exim on [::1]:25, a socket on
# ::ffff:10.0.10.10:993 (IPv4-mapped), one on fe80::1:443 and an established connection (not listening).
PROC_NET_TCP6 = HEADER6 + "".join(
    f"   {number}: {local} {remote} {state} {TAIL.format(inode=inode)}\n"
    for number, (local, remote, state, inode) in enumerate(
        [
            (f"{ANY6}:0050", f"{ANY6}:0000", "0A", 4444),
            ("00000000000000000000000001000000:0019", f"{ANY6}:0000", "0A", 5555),
            ("0000000000000000FFFF00000A0A000A:03E1", f"{ANY6}:0000", "0A", 6666),
            ("000080FE000000000000000001000000:01BB", f"{ANY6}:0000", "0A", 7777),
            (f"{ANY6}:0050", "000080FE000000000000000002000000:C350", "01", 8888),
        ]
    )
)


def test_parse_proc_net_tcp6_keeps_listening_sockets_in_the_kernels_word_order() -> None:
    assert parse_proc_net_tcp(PROC_NET_TCP6) == [
        ("::", 80, 4444),
        ("::1", 25, 5555),
        ("10.0.10.10", 993, 6666),  # an IPv4-mapped address holds that IPv4 address
        ("fe80::1", 443, 7777),
    ]


def test_a_dual_stack_listener_on_any_ipv6_address_clashes_with_every_ipv4_address() -> None:
    sockets = listening_sockets(PROC_NET_TCP, PROC_NET_TCP6, {4444: ("apache2", 812)})
    assert Socket("::", 80, "apache2", 812) in sockets
    expected = (
        "HTTP(s) Service › Virtual Service HTTP port (redirect): 80 is already used on lb1 by apache2 (pid 812)"
        " on [::] (every IPv6 and IPv4 address)"
    )
    assert host_conflicts([REDIRECT], sockets, node="lb1") == [expected]
    on_any = Listener(REDIRECT.field, "0.0.0.0", 80)
    assert host_conflicts([on_any], sockets, node="lb1") == [expected]


def test_an_ipv6_only_listener_on_any_address_leaves_ipv4_free() -> None:
    # net.ipv6.bindv6only=1: every [::] socket is IPv6 only
    sockets = listening_sockets(PROC_NET_TCP, PROC_NET_TCP6, {4444: ("apache2", 812)}, bindv6only=True)
    assert host_conflicts([REDIRECT], sockets) == []
    # nginx's "listen 80; listen [::]:80": the [::] socket cannot be dual stack, the IPv4 one is the clash
    tcp = PROC_NET_TCP.replace("00000000:0016", "00000000:0050")
    sockets = listening_sockets(tcp, PROC_NET_TCP6, {1111: ("nginx", 70), 4444: ("nginx", 70)})
    assert Socket("::", 80, "nginx", 70, v6only=True) in sockets
    assert host_conflicts([REDIRECT], sockets, node="lb1") == [
        "HTTP(s) Service › Virtual Service HTTP port (redirect): 80 is already used on lb1 by nginx (pid 70) on 0.0.0.0"
    ]


@pytest.mark.parametrize("address", ["::1", "fe80::1", "2001:db8::10"])
def test_a_specific_ipv6_address_clashes_only_with_itself(address: str) -> None:
    sockets = [Socket(address, 443, "nginx", 9)]
    assert host_conflicts([HTTPS, Listener(HTTPS.field, "0.0.0.0", 443)], sockets) == []
    assert not_listening([HTTPS], sockets) == [HTTPS]


def test_ipv6_sockets_of_the_appliance_are_its_own() -> None:
    assert configured_listeners("frontend ft\n    bind :::80\n    bind [::]:443 ssl crt /x.pem\n") == {("::", 80), ("::", 443)}
    own = configured_listeners("frontend ft\n    bind :::80\n")
    assert host_conflicts([REDIRECT], [Socket("::", 80)], own=own) == []
    assert host_conflicts([REDIRECT], [Socket("::", 80, "haproxy", 3)]) == []


def test_a_dual_stack_listener_serves_the_planned_ipv4_port() -> None:
    assert not_listening([HTTPS], [Socket("::", 443)]) == []
    assert not_listening([HTTPS], [Socket("::", 443, v6only=True)]) == [HTTPS]


def test_no_tcp6_file_means_ipv4_only() -> None:
    assert listening_sockets(PROC_NET_TCP, "") == [Socket("0.0.0.0", 22), Socket("10.0.10.10", 443)]


def _proc_hex(address: ipaddress.IPv6Address) -> str:
    """An address as the kernel prints it in /proc/net/tcp6: four 32-bit words, little-endian."""
    packed = address.packed
    return "".join(packed[start : start + 4][::-1].hex().upper() for start in range(0, 16, 4))


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.ip_addresses(v=6), st.integers(min_value=1, max_value=65535))
def test_every_ipv6_listener_is_read_back(address: ipaddress.IPv6Address, number: int) -> None:
    line = f"   0: {_proc_hex(address)}:{number:04X} {ANY6}:0000 0A {TAIL.format(inode=42)}\n"
    expected = str(address.ipv4_mapped or address)
    assert parse_proc_net_tcp(HEADER6 + line) == [(expected, number, 42)]
    sock = listening_sockets("", HEADER6 + line)[0]
    # only [::] (dual stack) and the IPv4 address a mapped one stands for hold an IPv4 port
    holds = address == ipaddress.IPv6Address("::") or address.ipv4_mapped == ipaddress.IPv4Address("10.0.0.10")
    holds = holds or address.ipv4_mapped == ipaddress.IPv4Address("0.0.0.0")
    assert (host_conflicts([Listener(HTTPS.field, "10.0.0.10", number)], [sock]) != []) is holds
