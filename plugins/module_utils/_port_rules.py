# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""Rules over the whole listening plan of the appliance.

A listener is one ``address:port`` the appliance opens, named by the WUI field
that asked for it.  Two listeners on one ``address:port`` clash, whichever
service they belong to; ``0.0.0.0`` clashes with every address.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError, ipv4, port

#: Microsoft's recommended range for the static RPC ports (guide 2.4 and 8).
RPC_STATIC_RANGE = (59531, 60554)
ANY_ADDRESS = "0.0.0.0"


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
    """A TCP socket listening on the host, and the process holding it (if known)."""

    address: str
    port: int
    process: str = ""
    pid: int = 0


def parse_proc_net_tcp(text: str) -> list[tuple[str, int, int]]:
    """``(address, port, inode)`` of each LISTEN socket in ``/proc/net/tcp``."""
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != "0A":  # 0A: TCP_LISTEN
            continue
        hex_address, hex_port = fields[1].split(":")
        packed = bytes.fromhex(hex_address)[::-1]  # little-endian on the hosts we target
        address = ".".join(str(octet) for octet in packed)
        sockets.append((address, int(hex_port, 16), int(fields[9])))
    return sockets


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
            if ANY_ADDRESS in (sock.address, wanted.address) or sock.address == wanted.address:
                holder = f"{sock.process} (pid {sock.pid})" if sock.process else "another program"
                problems.append(f"{wanted.field}: {wanted.port} is already used on {node} by {holder} on {sock.address}")
                break
    return problems


def not_listening(listeners: t.Iterable[Listener], sockets: t.Iterable[Socket]) -> list[Listener]:
    """The planned listeners no socket on the host listens on (yet)."""
    open_ports = {(sock.address, sock.port) for sock in sockets}
    return [
        wanted for wanted in listeners
        if (wanted.address, wanted.port) not in open_ports and (ANY_ADDRESS, wanted.port) not in open_ports
    ]
