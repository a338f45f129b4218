"""VRRP adverts on the wire: parsing, and which routers clash with a Cluster Identifier."""

from __future__ import annotations

import socket
import struct

import pytest

from ansible_collections.exchange_lb.appliance.plugins.module_utils._vrrp import (
    Advert,
    build_advert,
    clashes,
    interface_of,
    parse_advert,
)


def ip_packet(source: str, payload: bytes, protocol: int = 112) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(payload), 0, 0, 255, protocol, 0,
                         socket.inet_aton(source), socket.inet_aton("224.0.0.18"))
    return header + payload


def test_a_vrrpv3_advert_is_read() -> None:
    advert = parse_advert(ip_packet("10.0.0.12", build_advert(60, 100, ["10.0.0.10", "10.0.0.9"])))
    assert advert == Advert(source="10.0.0.12", version=3, router_id=60, priority=100, addresses=("10.0.0.10", "10.0.0.9"))


def test_a_vrrpv2_advert_as_keepalived_sends_it_is_read() -> None:
    v2 = struct.pack("!BBBBBBH", 0x21, 51, 150, 1, 0, 1, 0) + socket.inet_aton("192.168.0.10") + b"\0" * 8
    assert parse_advert(ip_packet("192.168.0.2", v2)) == Advert("192.168.0.2", 2, 51, 150, ("192.168.0.10",))


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        ip_packet("10.0.0.12", build_advert(60, 100, ["10.0.0.10"]), protocol=6),  # TCP, not VRRP
        ip_packet("10.0.0.12", b"\x31\x3c"),  # cut short
        ip_packet("10.0.0.12", build_advert(60, 100, ["10.0.0.10"])[:10]),  # fewer addresses than counted
        ip_packet("10.0.0.12", b"\x41" + build_advert(60, 100, ["10.0.0.10"])[1:]),  # version 4
    ],
)
def test_anything_else_is_not_an_advert(packet: bytes) -> None:
    assert parse_advert(packet) is None


def test_only_strangers_with_the_same_identifier_clash() -> None:
    adverts = [
        Advert("10.0.0.12", 3, 60, 100, ("10.0.0.10",)),  # the other node of this pair
        Advert("10.0.0.21", 3, 60, 150, ("10.0.0.20",)),  # another pair, same id: a clash
        Advert("10.0.0.21", 3, 60, 150, ("10.0.0.20",)),  # heard twice, named once
        Advert("10.0.0.31", 2, 61, 150, ("10.0.0.30",)),  # another id
    ]
    assert clashes(adverts, 60, ["10.0.0.11", "10.0.0.12"]) == [Advert("10.0.0.21", 3, 60, 150, ("10.0.0.20",))]
    assert clashes(adverts, 62, ["10.0.0.11"]) == []


def test_the_interface_of_the_loopback_address_is_found() -> None:
    assert interface_of("127.0.0.1") == "lo"
    with pytest.raises(LookupError):
        interface_of("192.0.2.123")
