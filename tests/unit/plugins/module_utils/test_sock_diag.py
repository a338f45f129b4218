"""The IPV6_V6ONLY flag of listening IPv6 sockets, asked of the kernel (NETLINK_SOCK_DIAG), and what
port_rules makes of it: an IPv6-only listener on [::] leaves the port free on every IPv4 address,
a dual-stack one holds it (issue 15, IPv6 listeners).

The sockets are real: the test opens them on [::] on ephemeral ports, with IPV6_V6ONLY 1 and 0, and the
module reads the host as it does on a node (/proc and the kernel's socket diagnostics)."""

from __future__ import annotations

import os
import socket
import struct
import typing as t
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.exchange_lb.appliance.plugins.module_utils import _sock_diag
from ansible_collections.exchange_lb.appliance.plugins.module_utils._port_rules import Listener, host_conflicts, listening_sockets
from ansible_collections.exchange_lb.appliance.plugins.modules import port_rules

HAS_IPV6 = Path("/proc/net/if_inet6").exists() and bool(Path("/proc/net/if_inet6").read_text().strip())


def listen_v6(v6only: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    sock.bind(("::", 0))
    sock.listen()
    return sock


@pytest.fixture(name="listeners")
def fixture_listeners() -> t.Iterator[dict[str, socket.socket]]:
    if not HAS_IPV6:
        pytest.skip("no IPv6 on this host: the parser is tested with a stored dump")
    sockets = {"v6only": listen_v6(1), "dual": listen_v6(0)}
    yield sockets
    for sock in sockets.values():
        sock.close()


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def inode_of(sock: socket.socket) -> int:
    return os.fstat(sock.fileno()).st_ino


def test_the_kernel_tells_each_listeners_v6only_flag(listeners: dict[str, socket.socket]) -> None:
    found = _sock_diag.listening_v6()
    assert found is not None, "NETLINK_SOCK_DIAG is available on this host"
    by_inode = {sock.inode: sock for sock in found}
    for name, sock in listeners.items():
        seen = by_inode[inode_of(sock)]
        assert (seen.address, seen.port, seen.v6only) == ("::", port_of(sock), name == "v6only")


def test_an_ipv6_only_listener_leaves_ipv4_free_and_a_dual_stack_one_holds_it(listeners: dict[str, socket.socket]) -> None:
    # the module's own reading of the host: /proc/net/tcp6 and the kernel's flag
    sockets = port_rules._listening_sockets()
    for name, sock in listeners.items():
        wanted = Listener("HTTP(s) Service › Virtual Service HTTPs port", "10.0.0.10", port_of(sock))
        problems = host_conflicts([wanted], sockets, node="lb1")
        if name == "v6only":
            assert problems == []
        else:
            assert len(problems) == 1 and problems[0].endswith("on [::] (every IPv6 and IPv4 address)"), problems


def test_without_the_kernels_answer_proc_alone_counts_a_listener_on_any_ipv6_address_dual_stack(
    listeners: dict[str, socket.socket], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(port_rules, "listening_v6", lambda: None)
    sockets = {sock.port: sock for sock in port_rules._listening_sockets() if sock.address == "::"}
    assert not sockets[port_of(listeners["v6only"])].v6only  # what it did before: the flag is not in /proc


def test_no_netlink_means_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_args: t.Any, **_kwargs: t.Any) -> socket.socket:
        raise PermissionError("netlink not allowed")

    monkeypatch.setattr(_sock_diag.socket, "socket", refused)
    assert _sock_diag.listening_v6() is None


def capture_dump() -> bytes:
    """The kernel's raw answer to the module's request, as received."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _sock_diag.NETLINK_SOCK_DIAG) as diag:
        diag.settimeout(5)
        diag.sendto(_sock_diag.request(), (0, 0))
        data = b""
        while True:
            chunk = diag.recv(1 << 16)
            data += chunk
            if _sock_diag.parse(chunk)[1]:
                return data


def test_the_parser_reads_a_captured_dump_whole(listeners: dict[str, socket.socket]) -> None:
    data = capture_dump()
    found, done = _sock_diag.parse(data)
    assert done
    flags = {sock.inode: sock.v6only for sock in found}
    assert flags[inode_of(listeners["v6only"])] is True and flags[inode_of(listeners["dual"])] is False
    # the dump without its end (NLMSG_DONE, a header and an int): the sockets so far, not done
    assert _sock_diag.parse(data[: len(data) - 20]) == (found, False)


@pytest.mark.parametrize("cut", range(1, 284, 7))
def test_a_truncated_dump_is_never_done_nor_misread(cut: int) -> None:
    whole, _done = _sock_diag.parse(STORED)
    try:
        found, done = _sock_diag.parse(STORED[: len(STORED) - cut])
    except ValueError as error:
        assert "does not fit" in str(error)
        return
    assert not done and found == whole[: len(found)]


def test_a_netlink_error_is_refused() -> None:
    error = struct.pack("=IHHII", 36, _sock_diag.NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", -13) + bytes(16)
    with pytest.raises(ValueError, match="errno 13"):
        _sock_diag.parse(error)


# The kernel's answer to this module's request, captured (Linux 6.18) with two listeners on [::]: port 34581
# dual stack (inode 3995524) and port 33355 IPV6_V6ONLY=1 (inode 3995523); each message carries the
# attributes the kernel adds (INET_DIAG_SKV6ONLY, type 11, among them).
STORED = bytes.fromhex(
    "840000001400020001000000585e00000a0a000087150000000000000000000000000000000000000000000000000000"
    "00000000000000000000000041100000000000000000000000000000800000000000000084f73c000500080000000000"
    "05000b000000000008000f00000000000c00150001000000000000000600160012000000840000001400020001000000"
    "585e00000a0a0000824b0000000000000000000000000000000000000000000000000000000000000000000000000000"
    "42100000000000000000000000000000800000000000000083f73c00050008000000000005000b000100000008000f00"
    "000000000c00150001000000000000000600160012000000140000000300020001000000585e000000000000"
)


def test_the_parser_reads_a_stored_dump() -> None:
    found, done = _sock_diag.parse(STORED)
    assert done
    assert found == [_sock_diag.Listening("::", 34581, 3995524, False), _sock_diag.Listening("::", 33355, 3995523, True)]
    # /proc/net/tcp6 shows both on [::]; with the kernel's flags, only the dual-stack one holds IPv4
    tcp6 = "header\n" + "".join(
        f"   {index}: 00000000000000000000000000000000:{number:04X} 00000000000000000000000000000000:0000 0A"
        f" 00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0\n"
        for index, (number, inode) in enumerate([(34581, 3995524), (33355, 3995523)]))
    sockets = listening_sockets("", tcp6, v6only={sock.inode: bool(sock.v6only) for sock in found})
    wanted = [Listener("IMAP(s) Service › Virtual Service IMAPs port", "10.0.0.10", number) for number in (34581, 33355)]
    assert host_conflicts(wanted, sockets) == [
        "IMAP(s) Service › Virtual Service IMAPs port: 34581 is already used on the node by another program"
        " on [::] (every IPv6 and IPv4 address)"]
    # without the flags (/proc alone) the IPv6-only one clashed too
    assert len(host_conflicts(wanted, listening_sockets("", tcp6))) == 2


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_parsed_or_refused_never_crash(data: bytes) -> None:
    try:
        found, _done = _sock_diag.parse(data)
    except ValueError:
        return
    assert all(0 <= sock.port <= 65535 for sock in found)
