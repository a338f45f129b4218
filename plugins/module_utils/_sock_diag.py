# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""The IPV6_V6ONLY flag of the host's listening IPv6 TCP sockets, from the kernel (NETLINK_SOCK_DIAG).

``/proc/net/tcp6`` shows a socket on ``[::]`` but not whether it takes IPv4 too (dual stack) or IPv6
only (``IPV6_V6ONLY=1``); ``ss`` reads that flag from the kernel's socket diagnostics, as this module
does, without depending on ``ss`` or its output. A host without them (no netlink socket allowed, an
old kernel) gives None and the caller falls back to what ``/proc`` shows.
"""

from __future__ import annotations

import socket
import struct
import typing as t

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
NLMSG_ERROR = 2
NLMSG_DONE = 3
TCP_LISTEN = 10
INET_DIAG_SKV6ONLY = 11

_NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
#: struct inet_diag_msg: family, state, timer, retrans; the socket id (ports big-endian, two 16-byte
#: addresses, interface, cookie); expires, rqueue, wqueue, uid, inode
_INET_DIAG_MSG = struct.Struct("=BBBB2s2s16s16sI8sIIIII")
_RTATTR = struct.Struct("=HH")


def _align(length: int) -> int:
    return (length + 3) & ~3


def request(sequence: int = 1) -> bytes:
    """A dump request for the listening IPv6 TCP sockets (struct inet_diag_req_v2 in a netlink message)."""
    body = struct.pack("=BBBBI", socket.AF_INET6, socket.IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN) + bytes(48)
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, sequence, 0) + body


class Listening(t.NamedTuple):
    """A listening IPv6 socket as the kernel reports it."""

    address: str
    port: int
    inode: int
    v6only: bool | None  #: None when the kernel did not say


def parse(data: bytes) -> tuple[list[Listening], bool]:
    """The sockets of one or more netlink messages of a sock_diag dump, and whether the dump ended.

    Raises ValueError on a netlink error message or a message that does not fit in ``data``."""
    found: list[Listening] = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, _flags, _sequence, _port_id = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            raise ValueError(f"a netlink message of {length} bytes does not fit")
        if kind == NLMSG_DONE:
            return found, True
        if kind == NLMSG_ERROR:
            (errno,) = struct.unpack_from("=i", data, offset + _NLMSGHDR.size)
            raise ValueError(f"sock_diag refused the request (errno {-errno})")
        body = data[offset + _NLMSGHDR.size : offset + length]
        if kind == SOCK_DIAG_BY_FAMILY and len(body) >= _INET_DIAG_MSG.size:
            family, _state, _timer, _retrans, sport, _dport, source, _dest, _interface, _cookie, _expires, _rqueue, _wqueue, _uid, inode = (
                _INET_DIAG_MSG.unpack_from(body)
            )
            v6only: bool | None = None
            at = _INET_DIAG_MSG.size
            while at + _RTATTR.size <= len(body):
                attr_length, attr_type = _RTATTR.unpack_from(body, at)
                if attr_length < _RTATTR.size:
                    break
                if attr_type == INET_DIAG_SKV6ONLY and attr_length > _RTATTR.size:
                    v6only = body[at + _RTATTR.size] != 0
                at += _align(attr_length)
            if family == socket.AF_INET6:
                found.append(Listening(socket.inet_ntop(socket.AF_INET6, source), int.from_bytes(sport, "big"), inode, v6only))
        offset += _align(length)
    return found, False


def listening_v6() -> list[Listening] | None:
    """The host's listening IPv6 TCP sockets with their IPV6_V6ONLY flag; None when the kernel cannot tell."""
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as diag:
            diag.settimeout(5)
            diag.sendto(request(), (0, 0))
            found: list[Listening] = []
            done = False
            while not done:
                chunk = diag.recv(1 << 16)
                if not chunk:
                    return None
                more, done = parse(chunk)
                found += more
    except (OSError, ValueError, AttributeError):  # AttributeError: no AF_NETLINK (not Linux)
        return None
    return found
