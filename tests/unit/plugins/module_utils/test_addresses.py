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


# --- the pair's other node, the routers of static routes, the DNS servers --------------------------

PEERS = [{"name": "lb1", "address": "10.0.0.11"}, {"name": "lb2", "address": "10.0.0.12"}]
PAIRED = {**PAIR, "network_hostname": "lb1", "peers": PEERS}


@pytest.mark.parametrize("key, field", [("cas_servers", "CAS Servers › CAS2 Address"), ("hub_servers", "SMTP(s) Service › HUB Servers › HUB2 Address")])
def test_a_server_is_not_the_pairs_other_node(key: str, field: str) -> None:
    servers = [{"name": f"{key[:3]}1", "address": "10.0.0.30"}, {"name": f"{key[:3]}2", "address": "10.0.0.12"}]
    error = refusal({**PAIRED, key: servers})
    assert error.field == field
    assert error.message == ("10.0.0.12 is the pair's other node lb2 (High Availability › peers): a server must be another host "
                             "(haproxy would send the traffic to the appliance)")
    # a single node has no other node: the address is a server's like any other
    assert build_plan({**BASE, key: servers})


ROUTE = "Network › Static Routes › Route 1 › Router"


def with_route(router: str, **more: t.Any) -> dict[str, t.Any]:
    return {**BASE, "network_gateway": "10.0.0.1", "network_static_routes": [{"network": "192.168.50.0", "netmask": "255.255.255.0", "router": router}],
            **more}


@pytest.mark.parametrize("router, why", [
    *((special, "not the address of a router") for special in SPECIAL),
    ("10.0.0.0", "is the network address of 10.0.0.0/24, not the address of a router"),
    ("10.0.0.255", "is the broadcast address of 10.0.0.0/24, not the address of a router"),
    ("10.0.0.11", "is the node's own address (Network › Address): a route goes through another host"),
])
def test_a_static_routes_router_is_another_host_of_the_subnet(router: str, why: str) -> None:
    error = refusal(with_route(router))
    assert error.field == ROUTE
    assert why in error.message
    assert build_plan(with_route("10.0.0.2")).node.routes == (("192.168.50.0/24", "10.0.0.2"),)


def test_a_static_routes_router_is_not_the_virtual_address() -> None:
    error = refusal(with_route("10.0.0.10", ha_role="master", virtual_service_address="10.0.0.10"))
    assert error.field == VIP
    assert error.message == "10.0.0.10 is the router of Network › Static Routes › Route 1: keepalived would announce the router's address"


DNS = "Network › DNS server 2"


@pytest.mark.parametrize("server, why", [
    *((special, "not the address of a DNS server") for special in SPECIAL if not special.startswith("169.254.")),
    ("10.0.0.0", "is the network address of 10.0.0.0/24"),
    ("10.0.0.255", "is the broadcast address of 10.0.0.0/24"),
    ("10.0.0.11", "is the node's own address (Network › Address), not the address of a DNS server (the appliance runs none of its own)"),
])
@pytest.mark.parametrize("manage", [True, False])
def test_a_dns_server_is_a_host_on_the_network_not_the_appliance(server: str, why: str, manage: bool) -> None:
    settings = {**BASE, "network_manage": manage, "network_interface": "eth0", "network_dns_servers": ["10.0.0.2", server]}
    error = refusal(settings)
    assert error.field == DNS
    assert why in error.message


def test_a_dns_server_is_not_the_virtual_address() -> None:
    error = refusal({**PAIR, "network_dns_servers": ["10.0.0.2", "10.0.0.10"]})
    assert error.field == DNS
    assert error.message.startswith("10.0.0.10 is the virtual address (High Availability › Virtual Service Address)")


def test_a_dns_server_is_not_the_pairs_other_node() -> None:
    error = refusal({**PAIRED, "network_dns_servers": ["10.0.0.2", "10.0.0.12"]})
    assert error.field == DNS
    assert error.message.startswith("10.0.0.12 is the pair's other node lb2 (High Availability › peers), not the address of a DNS server")


@pytest.mark.parametrize("server", ["10.0.0.2", "192.168.1.0", "10.0.0.53", "169.254.169.253"])
def test_dns_servers_on_the_network_or_elsewhere_are_fine(server: str) -> None:
    # 192.168.1.0 is a host outside the node's /24; a cloud's link-local resolver is one too
    plan = build_plan({**BASE, "network_manage": True, "network_interface": "eth0", "network_dns_servers": [server]})
    assert plan.network is not None and plan.network["exchange_network_dns_servers"] == [server]


EDGES = ("10.0.0.0", "10.0.0.1", "10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.255", "169.254.169.253")
ADDRESS_CLASSES = st.one_of(
    st.integers(min_value=0, max_value=2**32 - 1),
    st.sampled_from([int(ipaddress.IPv4Address(a)) for a in (*SPECIAL, *EDGES)]),
    st.integers(min_value=int(ipaddress.IPv4Address("10.0.0.0")), max_value=int(ipaddress.IPv4Address("10.0.1.0"))),
)


def _no_host(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_unspecified or ip.is_loopback or ip.is_multicast or ip.is_link_local or ip.is_reserved


@hypothesis_settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["cas", "hub", "router", "dns"]), number=ADDRESS_CLASSES)
def test_any_address_of_a_server_a_router_or_a_dns_server_is_taken_or_refused_by_its_field(kind: str, number: int) -> None:
    """In a pair (lb1 10.0.0.11, lb2 10.0.0.12, VIP 10.0.0.10, gateway 10.0.0.1 on 10.0.0.0/24): each address is
    either refused naming the field that holds it (the VIP's for a router there) or taken as given."""
    ip = ipaddress.IPv4Address(number)
    address = str(ip)
    subnet = ipaddress.IPv4Network("10.0.0.0/24")
    edge = address in ("10.0.0.0", "10.0.0.255")
    appliance = address in ("10.0.0.10", "10.0.0.11", "10.0.0.12")
    settings = {**PAIRED, "network_gateway": "10.0.0.1"}
    if kind == "cas":
        settings["cas_servers"] = [address]
        fields, usable = {"CAS Servers › CAS1 Address"}, not (_no_host(ip) or edge or appliance)
    elif kind == "hub":
        settings.update(smtp_mode="clear", hub_servers=[address])
        fields, usable = {"SMTP(s) Service › HUB Servers › HUB1 Address"}, not (_no_host(ip) or edge or appliance)
    elif kind == "router":
        settings["network_static_routes"] = [{"network": "192.168.50.0", "netmask": 24, "router": address}]
        # a router of the subnet; the other node (10.0.0.12) may route, it is a host of the subnet
        fields = {ROUTE, VIP}
        usable = ip in subnet and not (_no_host(ip) or edge or address in ("10.0.0.10", "10.0.0.11"))
    else:
        settings["network_dns_servers"] = [address]
        fields = {"Network › DNS server 1"}
        usable = (ip.is_link_local or not _no_host(ip)) and not edge and not appliance
    try:
        plan = build_plan(settings)
    except PlanError as error:
        assert not usable, str(error)
        assert error.field in fields, str(error)
    else:
        assert usable, f"{kind} {address} was taken"
        assert plan.vrrp is not None
