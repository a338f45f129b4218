# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""Rules over the whole listening plan of the appliance.

A listener is one ``address:port`` the appliance opens, named by the WUI field
that asked for it.  Two listeners on one ``address:port`` clash, whichever
service they belong to; ``0.0.0.0`` clashes with every address.

What already listens on the host is read from ``/proc/net/tcp`` and
``/proc/net/tcp6``: an IPv6 socket on ``[::]`` that also takes IPv4 (dual
stack, Linux's default, e.g. Apache's ``Listen 80`` on Debian) holds the port on
every IPv4 address too; ``[::1]`` or another IPv6 address holds only itself.
Whether a socket on ``[::]`` takes IPv6 only (``IPV6_V6ONLY``) is asked of the
kernel (``_sock_diag``); ``/proc`` does not show it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError, ipv4, port

#: Microsoft's recommended range for the static RPC ports (guide 2.4 and 8).
RPC_STATIC_RANGE = (59531, 60554)
ANY_ADDRESS = "0.0.0.0"
#: The IPv6 "any" address; a dual-stack socket on it also takes every IPv4 address.
ANY_ADDRESS_V6 = "::"


@dataclasses.dataclass(frozen=True)
class Listener:
    """One port the appliance listens on, and the WUI field that set it."""

    field: str
    address: str
    port: int


def listener(field: str, address: t.Any, value: t.Any) -> Listener:
    """A validated listener (the address and port are checked, naming ``field``)."""
    return Listener(field=field, address=ipv4(field, address), port=port(field, value))


def check_listeners(listeners: t.Iterable[Listener]) -> None:
    """No two listeners share one address and port.

    Raises :class:`PlanError` naming the later field and the field that holds the
    port already, e.g. ``HTTP(s) Service › Virtual Service HTTPs port: 993 is
    already used by IMAP(s) Service › Virtual Service IMAPs port``.
    """
    taken: list[Listener] = []
    for candidate in listeners:
        for other in taken:
            same_address = ANY_ADDRESS in (candidate.address, other.address) or candidate.address == other.address
            if same_address and candidate.port == other.port:
                where = "" if candidate.address == other.address else f" (on {other.address})"
                raise PlanError(candidate.field, f"{candidate.port} is already used by {other.field}{where}")
        taken.append(candidate)


def check_rpc_ports(
    endpoint_mapper: Listener,
    access_point: Listener,
    address_book: Listener,
    outside_range_reason: str = "",
) -> None:
    """The static RPC ports differ from each other and from the endpoint mapper,
    and lie in Microsoft's range unless the user gave a reason to leave it."""
    if access_point.port == address_book.port:
        raise PlanError(address_book.field, f"{address_book.port} is the same as {access_point.field}; the two static ports must differ")
    for static in (access_point, address_book):
        if static.port == endpoint_mapper.port:
            raise PlanError(static.field, f"{static.port} is the endpoint mapper's port ({endpoint_mapper.field})")
    if outside_range_reason.strip():
        return
    low, high = RPC_STATIC_RANGE
    for static in (access_point, address_book):
        if not low <= static.port <= high:
            raise PlanError(
                static.field,
                f"{static.port} is outside {low}-{high}, the range Microsoft recommends for the static RPC ports"
                " (set exchange_rpc_ports_outside_range_reason to use it anyway)",
            )


# --- what already listens on the host ------------------------------------------------
#: Daemons of the appliance itself: a port they hold is theirs to keep across a reload.
APPLIANCE_PROCESSES = ("haproxy", "stunnel4", "stunnel")


@dataclasses.dataclass(frozen=True)
class Socket:
    """A TCP socket listening on the host, and the process holding it (if known).

    ``address`` is an IPv4 address (``0.0.0.0`` for all), or an IPv6 one
    (``::`` for all; an IPv4-mapped one is given as its IPv4 address, which is
    what it holds). ``v6only`` says that a socket on ``::`` takes IPv6 only;
    otherwise (dual stack, Linux's default) it holds the port on every IPv4
    address too.
    """

    address: str
    port: int
    process: str = ""
    pid: int = 0
    v6only: bool = False

    def holds(self, address: str) -> bool:
        """True when this socket holds its port on the IPv4 ``address`` (so binding it there fails)."""
        if self.address == ANY_ADDRESS_V6:
            return not self.v6only
        if ":" in self.address:  # a specific IPv6 address ([::1], fe80::1, ...) holds only itself
            return False
        return ANY_ADDRESS in (self.address, address) or self.address == address

    def where(self) -> str:
        """The socket's address as messages show it."""
        if self.address == ANY_ADDRESS_V6:
            return "[::] (IPv6 only)" if self.v6only else "[::] (every IPv6 and IPv4 address)"
        if ":" in self.address:
            return f"[{self.address}]"
        return self.address


def _proc_address(hex_address: str) -> str:
    """The address of a ``/proc/net/tcp`` or ``/proc/net/tcp6`` line, as text.

    The kernel prints the address as 32-bit words in the host's byte order
    (little-endian on the hosts we target): one word for IPv4, four for IPv6.
    """
    raw = bytes.fromhex(hex_address)
    packed = b"".join(raw[start : start + 4][::-1] for start in range(0, len(raw), 4))
    if len(packed) == 4:
        return str(ipaddress.IPv4Address(packed))
    address = ipaddress.IPv6Address(packed)
    return str(address.ipv4_mapped) if address.ipv4_mapped else str(address)


def parse_proc_net_tcp(text: str) -> list[tuple[str, int, int]]:
    """``(address, port, inode)`` of each LISTEN socket in ``/proc/net/tcp`` or ``/proc/net/tcp6``."""
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != "0A":  # 0A: TCP_LISTEN
            continue
        hex_address, hex_port = fields[1].split(":")
        sockets.append((_proc_address(hex_address), int(hex_port, 16), int(fields[9])))
    return sockets


def listening_sockets(
    tcp: str,
    tcp6: str = "",
    owners: t.Mapping[int, tuple[str, int]] | None = None,
    bindv6only: bool = False,
    v6only: t.Mapping[int, bool] | None = None,
) -> list[Socket]:
    """The host's listening sockets from the text of ``/proc/net/tcp`` and ``/proc/net/tcp6``.

    ``owners`` maps a socket inode to the ``(process name, pid)`` holding it;
    ``v6only`` maps the inode of a listening IPv6 socket to its own ``IPV6_V6ONLY``
    flag, as the kernel's socket diagnostics report it (``_sock_diag``). For a
    socket it does not name, ``/proc`` does not show the flag: a socket on ``[::]``
    is then taken for dual stack unless ``bindv6only`` (``/proc/sys/net/ipv6/bindv6only``,
    the flag's default) is on, or an IPv4 socket listens on the same port (which a
    dual-stack one would not let bind: e.g. nginx's ``listen 80`` next to ``listen [::]:80``).
    """
    owners = owners or {}
    flags = v6only or {}
    found = parse_proc_net_tcp(tcp)
    ipv4_ports = {number for _address, number, _inode in found}
    found += parse_proc_net_tcp(tcp6)
    return [
        Socket(
            address,
            number,
            *owners.get(inode, ("", 0)),
            v6only=address == ANY_ADDRESS_V6 and (flags[inode] if inode in flags else bindv6only or number in ipv4_ports),
        )
        for address, number, inode in found
    ]


def configured_listeners(text: str) -> set[tuple[str, int]]:
    """``(address, port)`` pairs a haproxy (``bind``, ``peer``), stunnel (``accept``) or
    prometheus-node-exporter (``--web.listen-address`` in its ARGS) file opens."""
    found = set()
    for address, number in re.findall(r"--web\.listen-address[= ]([0-9.]*):(\d+)", text):
        found.add((address or ANY_ADDRESS, int(number)))
    for line in text.splitlines():
        words = line.replace("=", " ").split()
        if len(words) >= 3 and words[0] == "peer":  # peer <name> <address>:<port>
            words = words[0:1] + words[2:]
        if len(words) >= 2 and words[0] in ("bind", "accept", "peer") and ":" in words[1]:
            address, number = words[1].rsplit(":", 1)
            address = address.strip("[]")  # [::]:443
            if address == ":":  # haproxy's :::443
                address = ANY_ADDRESS_V6
            if number.isdigit():
                found.add((address or ANY_ADDRESS, int(number)))
    return found


def host_conflicts(
    listeners: t.Iterable[Listener],
    sockets: t.Iterable[Socket],
    node: str = "the node",
    own: t.Collection[tuple[str, int]] = (),
) -> list[str]:
    """Messages for planned ports another program already holds on the host.

    Sockets of the appliance's daemons are fine: those a process name shows
    (``haproxy``, ``stunnel4``) and those the appliance's current configuration
    files open (``own``), for processes whose sockets root may not look into.
    """
    problems = []
    for wanted in listeners:
        for sock in sockets:
            if sock.port != wanted.port or sock.process in APPLIANCE_PROCESSES or (sock.address, sock.port) in own:
                continue
            if sock.holds(wanted.address):
                holder = f"{sock.process} (pid {sock.pid})" if sock.process else "another program"
                problems.append(f"{wanted.field}: {wanted.port} is already used on {node} by {holder} on {sock.where()}")
                break
    return problems


def not_listening(listeners: t.Iterable[Listener], sockets: t.Iterable[Socket]) -> list[Listener]:
    """The planned listeners no socket on the host listens on (yet)."""
    sockets = list(sockets)
    return [
        wanted for wanted in listeners
        if not any(sock.port == wanted.port and _serves(sock, wanted.address) for sock in sockets)
    ]


def _serves(sock: Socket, address: str) -> bool:
    """True when connections to the IPv4 ``address`` reach ``sock``."""
    if sock.address == ANY_ADDRESS_V6:
        return not sock.v6only
    return sock.address in (address, ANY_ADDRESS)
