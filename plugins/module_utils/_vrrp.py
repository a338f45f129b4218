# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""VRRP on the wire: read the adverts of the routers on a network (RFC 3768, RFC 5798).

A Cluster Identifier (VRRP router id) that another pair on the same network
already uses makes both pairs fight over one virtual MAC address: the virtual
service address flaps and clients lose their sessions. :func:`survey` listens
for a few seconds before anything is configured, and :func:`clashes` names
the routers that use the same id and are not this pair's nodes.
"""

from __future__ import annotations

import dataclasses
import fcntl
import ipaddress
import select
import socket
import struct
import time
import typing as t

VRRP_PROTOCOL = 112
VRRP_GROUP = "224.0.0.18"
_ETH_P_IP = 0x0800
_PACKET_OUTGOING = 4
_SIOCGIFADDR = 0x8915


@dataclasses.dataclass(frozen=True)
class Advert:
    source: str
    version: int
    router_id: int
    priority: int
    addresses: tuple[str, ...]


def parse_advert(packet: bytes) -> Advert | None:
    """An IPv4 packet -> the VRRP advertisement it carries, or None."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != VRRP_PROTOCOL:
        return None
    header = (packet[0] & 0x0F) * 4
    vrrp = packet[header:]
    if len(vrrp) < 8:
        return None
    version, kind = vrrp[0] >> 4, vrrp[0] & 0x0F
    if version not in (2, 3) or kind != 1:
        return None
    count = vrrp[3]
    if len(vrrp) < 8 + 4 * count:
        return None
    addresses = tuple(socket.inet_ntoa(vrrp[8 + 4 * i: 12 + 4 * i]) for i in range(count))
    return Advert(
        source=socket.inet_ntoa(packet[12:16]), version=version, router_id=vrrp[1], priority=vrrp[2], addresses=addresses
    )


def build_advert(router_id: int, priority: int, addresses: t.Sequence[str], interval_cs: int = 100) -> bytes:
    """A VRRPv3 advertisement (without its IPv4 header; the checksum covers a pseudo header the
    kernel's source address would change, so it is left 0 - enough for a survey, not for a router)."""
    body = struct.pack("!BBBBHH", 0x31, router_id, priority, len(addresses), interval_cs & 0x0FFF, 0)
    return body + b"".join(socket.inet_aton(address) for address in addresses)


def interface_of(address: str) -> str:
    """The name of the interface holding the IPv4 ``address``."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _index, name in socket.if_nameindex():
            try:
                raw = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # no IPv4 address
            if socket.inet_ntoa(raw[20:24]) == address:
                return name
    finally:
        probe.close()
    raise LookupError(f"no interface of this host holds {address}")


def survey(interface: str, address: str, seconds: float) -> list[Advert]:
    """The VRRP adverts received on ``interface`` within ``seconds`` (the node's own excluded).

    A packet socket sees them before any firewall does; a membership of the VRRP group
    makes the network card pass the group's frames up, as keepalived's own socket would.
    """
    member = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(_ETH_P_IP))
    found: list[Advert] = []
    try:
        member.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(VRRP_GROUP) + socket.inet_aton(address))
        listener.bind((interface, _ETH_P_IP))
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable = select.select([listener], [], [], left)[0]
            if not readable:
                break
            packet, where = listener.recvfrom(65535)
            if len(where) > 2 and where[2] == _PACKET_OUTGOING:
                continue
            advert = parse_advert(packet)
            if advert is not None and advert.source != address:
                found.append(advert)
    finally:
        listener.close()
        member.close()
    return found


def clashes(adverts: t.Iterable[Advert], router_id: int, peers: t.Iterable[str]) -> list[Advert]:
    """The routers, one advert each, that use ``router_id`` and are not among ``peers``."""
    known = {str(ipaddress.IPv4Address(peer)) for peer in peers}
    seen: dict[str, Advert] = {}
    for advert in adverts:
        if advert.router_id == router_id and advert.source not in known:
            seen.setdefault(advert.source, advert)
    return list(seen.values())
