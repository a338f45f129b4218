"""Addresses that break the network are refused by field: the virtual address on the gateway or at
the edges of the subnet, a server on the appliance itself or on an address no host can have."""

from __future__ import annotations

import ipaddress
import typing as t

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import PlanError, build_plan
from plan_settings import BASE

PAIR = {**BASE, "ha_role": "master", "network_gateway": "10.0.0.1", "virtual_service_address": "10.0.0.10"}
VIP = "High Availability › Virtual Service Address"
SPECIAL = ("0.0.0.0", "127.0.0.1", "127.8.9.10", "224.0.0.18", "239.1.1.1", "255.255.255.255", "169.254.1.1", "240.0.0.1")


def refusal(settings: t.Mapping[str, t.Any]) -> PlanError:
    with pytest.raises(PlanError) as refused:
        build_plan(settings)
    return refused.value


@pytest.mark.parametrize("vip, why", [
    ("10.0.0.1", "is the gateway (Network › Gateway)"),
    ("10.0.0.0", "is the network address of 10.0.0.0/24"),
    ("10.0.0.255", "is the broadcast address of 10.0.0.0/24"),
    ("10.0.0.11", "is the node's own address (Network › Address)"),
    ("0.0.0.0", "is the unspecified address"),
    ("224.0.0.18", "is a multicast address"),
])
def test_the_virtual_address_is_a_free_host_address_of_the_subnet(vip: str, why: str) -> None:
    error = refusal({**PAIR, "virtual_service_address": vip})
    assert error.field == VIP
    assert why in error.message
    assert build_plan(PAIR).vrrp is not None


def test_a_point_to_point_subnet_has_no_network_or_broadcast_address() -> None:
    plan = build_plan({**PAIR, "network_address": "10.0.0.10", "network_netmask": 31, "network_gateway": "",
                       "virtual_service_address": "10.0.0.11", "cas_servers": ["10.0.1.15"], "hub_servers": ["10.0.1.21"]})
    assert plan.vrrp is not None and plan.vrrp.virtual_address == "10.0.0.11"


@pytest.mark.parametrize("settings, field", [
    ({"network_address": "10.0.0.0"}, "Network › Address"),
    ({"network_address": "10.0.0.255"}, "Network › Address"),
    ({"network_address": "127.0.0.1", "network_netmask": 8}, "Network › Address"),
    ({"network_gateway": "10.0.0.11"}, "Network › Gateway"),
    ({"network_gateway": "10.0.0.255"}, "Network › Gateway"),
    ({"network_gateway": "10.0.0.0"}, "Network › Gateway"),
])
def test_the_nodes_own_address_and_gateway_are_host_addresses(settings: dict[str, t.Any], field: str) -> None:
    assert refusal({**BASE, **settings}).field == field


@pytest.mark.parametrize("key, field", [("cas_servers", "CAS Servers › CAS2 Address"), ("hub_servers", "SMTP(s) Service › HUB Servers › HUB2 Address")])
@pytest.mark.parametrize("address, why", [
    ("10.0.0.10", "is the virtual address (High Availability › Virtual Service Address)"),
    ("10.0.0.11", "is the node's own address (Network › Address)"),
    ("10.0.0.255", "is the broadcast address of 10.0.0.0/24"),
    *((special, "not the address of a host") for special in SPECIAL),
])
def test_a_server_is_another_host(key: str, field: str, address: str, why: str) -> None:
    servers = [{"name": f"{key[:3]}1", "address": "10.0.0.30"}, {"name": f"{key[:3]}2", "address": address}]
    error = refusal({**PAIR, key: servers})
    assert error.field == field
    assert why in error.message


def test_servers_elsewhere_are_fine() -> None:
    plan = build_plan({**PAIR, "cas_servers": ["192.168.5.0", "10.0.1.255"], "hub_servers": ["172.16.0.1"]})
    assert [server.address for server in plan.backends[0].servers] == ["192.168.5.0", "10.0.1.255"]


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.integers(min_value=0, max_value=2**32 - 1),
    st.sampled_from([int(ipaddress.IPv4Address(a)) for a in (*SPECIAL, "10.0.0.0", "10.0.0.1", "10.0.0.10", "10.0.0.11", "10.0.0.255")]),
    st.integers(min_value=int(ipaddress.IPv4Address("10.0.0.0")), max_value=int(ipaddress.IPv4Address("10.0.1.0"))),
))
def test_any_cas_address_is_a_server_or_refused_by_its_field(number: int) -> None:
    address = str(ipaddress.IPv4Address(number))
    ip = ipaddress.IPv4Address(number)
    ours = address in ("10.0.0.10", "10.0.0.11", "10.0.0.0", "10.0.0.255")
    usable = not (ip.is_unspecified or ip.is_loopback or ip.is_multicast or ip.is_link_local or ip.is_reserved or ours)
    try:
        plan = build_plan({**PAIR, "cas_servers": [address]})
    except PlanError as error:
        assert not usable, str(error)
        assert error.field == "CAS Servers › CAS1 Address"
    else:
        assert usable
        assert plan.backends[0].servers[0].address == address


@pytest.mark.parametrize("address, why", [
    ("10.0.0.10", "is the virtual address"),
    ("0.0.0.0", "not the address of a host"),
    ("127.0.0.1", "not the address of a host"),
    ("10.0.0.255", "is the broadcast address of 10.0.0.0/24"),
])
def test_a_pairs_peer_is_a_node_of_the_pair(address: str, why: str) -> None:
    peers = [{"name": "lb1", "address": "10.0.0.11"}, {"name": "lb2", "address": address}]
    error = refusal({**PAIR, "network_hostname": "lb1", "peers": peers})
    assert error.field == "High Availability › peer 2"
    assert why in error.message
    assert build_plan({**PAIR, "network_hostname": "lb1", "peers": [peers[0], {"name": "lb2", "address": "10.0.0.12"}]}).vrrp
    assert build_plan(BASE).peers[0].address == "127.0.0.1"  # a single node's own peer, on loopback
