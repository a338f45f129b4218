# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""The plan's network part: the node (guide 4.2.1), its network configuration, the pair's VRRP and
haproxy peers (4.2.2), and the node's firewall."""

from __future__ import annotations

import ipaddress
import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._addresses import host_address, virtual_address
from ansible_collections.exchange_lb.appliance.plugins.module_utils._netcfg import (
    NetError,
    dns_servers,
    normalize as normalize_network,
    static_routes,
)
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_builder import Builder, subnet
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_model import (
    HA,
    LOCAL_PEER,
    NETWORK,
    Firewall,
    FirewallRule,
    Node,
    Peer,
    Vrrp,
)
from ansible_collections.exchange_lb.appliance.plugins.module_utils._port_rules import Listener
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError, hostname, ipv4


def node(b: Builder) -> Node:
    s = b.s
    address, prefix, gateway = s.text("network_address"), s.number("network_netmask"), s.text("network_gateway")
    host_address(f"{NETWORK} › Address", address, subnet(address, prefix))
    if gateway and ipaddress.IPv4Address(gateway) not in subnet(address, prefix):
        raise PlanError(f"{NETWORK} › Gateway", f"{gateway} is not in the node's subnet {subnet(address, prefix)}")
    if gateway:
        host_address(f"{NETWORK} › Gateway", gateway, subnet(address, prefix))
        if gateway == address:
            raise PlanError(f"{NETWORK} › Gateway", f"{gateway} is the node's own address ({NETWORK} › Address)")
    # one parser for the plan, the network role and the first-boot wizard (_netcfg)
    netmask = str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)
    if not isinstance(s["network_dns_servers"], (list, tuple)):
        raise PlanError(f"{NETWORK} › DNS servers (exchange_network_dns_servers)", "a list of IPv4 addresses is required")
    try:
        routes = [
            (str(ipaddress.IPv4Network(f"{route['network']}/{route['netmask']}")), route["router"])
            for route in static_routes(s["network_static_routes"], address, netmask)
        ]
        # checked whether or not the role manages the network, like every field
        dns_servers(s["network_dns_servers"], address, netmask)
    except NetError as error:
        raise PlanError(error.field, error.message) from None
    return Node(
        hostname=s.text("network_hostname"),
        address=address,
        prefix=prefix,
        gateway=gateway,
        vlan_id=s["network_vlan_id"],
        routes=tuple(routes),
    )


def network(b: Builder, host: Node) -> dict[str, t.Any] | None:
    """The configuration the network role writes (guide 4.1/4.2), or None when not managed."""
    s = b.s
    if not s.flag("network_manage"):
        return None
    if not s.text("network_interface"):
        raise PlanError(f"{NETWORK} › interface (exchange_network_interface)", "required: the node has no default route to take it from")
    if not isinstance(s["network_dns_servers"], (list, tuple)):
        raise PlanError(f"{NETWORK} › DNS servers (exchange_network_dns_servers)", "a list of IPv4 addresses is required")
    try:
        config: dict[str, t.Any] = normalize_network(
            {
                "exchange_network_interface": s["network_interface"],
                "exchange_network_mode": s["network_mode"],
                "exchange_network_hostname": host.hostname,
                "exchange_network_address": host.address,
                "exchange_network_netmask": str(ipaddress.IPv4Network(f"0.0.0.0/{host.prefix}").netmask),
                "exchange_network_gateway": host.gateway,
                "exchange_network_vlan_id": host.vlan_id,
                "exchange_network_static_routes": [
                    {"network": str(ipaddress.IPv4Network(net).network_address), "netmask": str(ipaddress.IPv4Network(net).netmask), "router": router}
                    for net, router in host.routes
                ],
                "exchange_network_dns_servers": list(s["network_dns_servers"]),
            }
        )
    except NetError as error:
        raise PlanError(error.field, error.message) from None
    return config


def vrrp(b: Builder, host: Node) -> Vrrp | None:
    role = b.s.text("ha_role")
    if role == "disabled":
        return None
    field = f"{HA} › Virtual Service Address"
    vip = ipv4(field, b.s["virtual_service_address"])  # required now
    virtual_address(field, vip, host.address, subnet(host.address, host.prefix), host.gateway, f"{NETWORK} › Gateway", f"{NETWORK} › Address")
    for index, (_network, router) in enumerate(host.routes, start=1):
        if router == vip:
            raise PlanError(field, f"{vip} is the router of {NETWORK} › Static Routes › Route {index}: keepalived would announce the router's address")
    for index, server in enumerate(b.s["network_dns_servers"] or [], start=1):
        if str(server).strip() == vip:
            why = f"{vip} is the virtual address ({field}), not the address of a DNS server (the appliance runs none of its own)"
            raise PlanError(f"{NETWORK} › DNS server {index}", why)
    return Vrrp(role=role, virtual_address=vip, prefix=host.prefix, router_id=b.s.number("cluster_identifier"),
                priority=150 if role == "master" else 100)


def own_addresses(host: Node, pair: Vrrp | None) -> dict[str, str]:
    """The addresses the appliance itself holds (address -> what it is), which no server may have."""
    taken = {host.address: f"the node's own address ({NETWORK} › Address)"}
    if pair is not None:
        taken[pair.virtual_address] = f"the virtual address ({HA} › Virtual Service Address)"
    return taken


def peers(b: Builder, host: Node, pair: Vrrp | None) -> tuple[tuple[Peer, ...], str]:
    """The haproxy peers and the name of this node among them. A pair's peers sync stickiness
    between the nodes, so it survives a failover; a single node is its own peer on loopback,
    so its stickiness survives a reload (the old process hands the tables to the new one)."""
    field = f"{HA} › peers port (exchange_peers_port)"
    peer_port = b.s.number("peers_port")
    result = []
    for index, entry in enumerate((b.s["peers"] or []) if pair else [], start=1):
        where = f"{HA} › peer {index}"
        if not isinstance(entry, dict) or not entry.get("name"):
            raise PlanError(where, "a peer needs a name and an address")
        # a host name, lower-cased as the node's own (Network › Hostname): haproxy reads it as one word
        name = hostname(f"{where} › name", entry["name"])
        result.append(Peer(name=name, address=ipv4(where, entry.get("address")), port=peer_port))
    if not result:
        b.listeners.append(Listener(field, "127.0.0.1", peer_port))
        return (Peer(name=LOCAL_PEER, address="127.0.0.1", port=peer_port),), LOCAL_PEER
    names = [peer.name for peer in result]
    if len(set(names)) != len(names):
        raise PlanError(f"{HA} › peers (exchange_peers)", f"two peers share a name: {', '.join(names)}")
    if host.hostname not in names:
        raise PlanError(
            f"{HA} › peers (exchange_peers)",
            f"this node ({NETWORK} › Hostname {host.hostname!r}) is not among the peers {', '.join(names)}",
        )
    b.manage(Listener(field, host.address, peer_port))
    return tuple(result), host.hostname


ADMIN_NETWORKS = "Firewall › admin networks (exchange_admin_networks)"
SSH_PORT = "Firewall › SSH port (exchange_ssh_port)"


def _controller(controller_address: str) -> ipaddress.IPv4Address | None:
    """Where Ansible connects from, as the node sees it; None when unknown (a local connection)."""
    text = controller_address.strip()
    if not text:
        return None
    try:
        found = ipaddress.ip_address(text.split("%", 1)[0])  # fe80::1%eth0: a scoped link-local address
    except ValueError:
        raise PlanError(ADMIN_NETWORKS, f"Ansible connects from {text!r} (SSH_CONNECTION), which is not an IP address: "
                                        "the check that this run keeps its way in cannot be made") from None
    if isinstance(found, ipaddress.IPv6Address):
        if found.ipv4_mapped is None:
            raise PlanError(
                ADMIN_NETWORKS,
                f"Ansible connects over IPv6 (from {found}), but the firewall lets SSH in over IPv4 only, from these "
                "IPv4 networks: this run would lock itself out. Connect over IPv4 (ansible_host: the node's IPv4 "
                "address) or turn the firewall off (exchange_firewall: false)",
            )
        return found.ipv4_mapped
    return found


def check_peer_addresses(nodes: tuple[Peer, ...], host: Node, pair: Vrrp | None) -> None:
    """A pair's peers are hosts (keepalived sends them its adverts, the firewall lets them in), none at
    the virtual address. The single node's own loopback peer is not checked."""
    if pair is None:
        return
    for index, peer in enumerate(nodes, start=1):
        if peer.name == LOCAL_PEER:
            continue  # a pair without peers yet: its own stickiness on loopback
        where = f"{HA} › peer {index}"
        host_address(where, peer.address, subnet(host.address, host.prefix))
        if peer.address == pair.virtual_address:
            raise PlanError(where, f"{peer.address} is the virtual address ({HA} › Virtual Service Address), not a node of the pair")


def check_servers_are_not_nodes(servers: t.Iterable[tuple[str, t.Sequence[tuple[str, str]]]], nodes: tuple[Peer, ...], host: Node,
                                dns: t.Sequence[t.Any] = ()) -> None:
    """No CAS or Hub server, nor DNS server, at the address of the pair's other node (``servers``: the field of a
    server list, as ``Builder.servers`` names its entries, and the list; ``dns``: the Network tab's DNS servers);
    the node's own address and the VIP are refused earlier."""
    others = {peer.address: peer.name for peer in nodes if peer.name != LOCAL_PEER and peer.address != host.address}
    for index, server in enumerate(dns or (), start=1):
        if str(server).strip() in others:
            raise PlanError(f"{NETWORK} › DNS server {index}", f"{str(server).strip()} is the pair's other node {others[str(server).strip()]} "
                                                               f"({HA} › peers), not the address of a DNS server (the appliance runs none of its own)")
    for label, entries in servers:
        for index, (_name, address) in enumerate(entries, start=1):
            if address in others:
                raise PlanError(
                    f"{label}{index} Address",
                    f"{address} is the pair's other node {others[address]} ({HA} › peers): a server must be another host "
                    "(haproxy would send the traffic to the appliance)",
                )


def _admin_networks(b: Builder, host: Node, controller_address: str) -> tuple[str, ...]:
    """The networks management is allowed from; ``controller_address`` must be in one of them. A network
    inside another one is left out, with a note (nftables refuses overlapping intervals in one set)."""
    field = ADMIN_NETWORKS
    entries = b.s["admin_networks"] or [str(subnet(host.address, host.prefix))]
    if not isinstance(entries, (list, tuple)):
        raise PlanError(field, "a list of networks such as 192.168.10.0/24 is expected")
    networks: list[ipaddress.IPv4Network] = []
    for index, entry in enumerate(entries, start=1):
        if isinstance(entry, (list, tuple, dict)):
            raise PlanError(f"{field} › network {index}", "one network such as 192.168.10.0/24 is expected")
        try:
            networks.append(ipaddress.IPv4Network(str(entry).strip(), strict=True))
        except ValueError as error:
            raise PlanError(f"{field} › network {index}", f"{entry!r} is not an IPv4 network such as 192.168.10.0/24 ({error})") from None
    kept: list[ipaddress.IPv4Network] = []
    for index, net in enumerate(networks, start=1):
        wider = next((other for number, other in enumerate(networks, start=1)
                      if number != index and net.subnet_of(other) and (other != net or number < index)), None)
        if wider is None:
            kept.append(net)
            continue
        where = f"network {networks.index(wider) + 1}"
        what = f"is also {where}" if wider == net else f"is inside {wider} ({where})"
        b.notes.append(f"{field} › network {index}: {net} {what}: left out of the rule set, which admits {wider} already")
    controller = _controller(controller_address)
    if controller is not None and not any(controller in net for net in kept):
        raise PlanError(
            field,
            f"Ansible connects from {controller}, which is in none of {', '.join(map(str, kept))}: "
            "this run would lock itself out; add that address or its network",
        )
    return tuple(str(net) for net in kept)


def _ssh_port(b: Builder, controller_port: int) -> int:
    """The SSH port the firewall opens: the one sshd answers Ansible on, when that is known."""
    ssh_port: int = b.s.number("ssh_port")
    if controller_port and controller_port != ssh_port:
        raise PlanError(
            SSH_PORT,
            f"Ansible reaches sshd on port {controller_port} (SSH_CONNECTION), but the firewall would let SSH in on "
            f"port {ssh_port} only: this run would lock itself out. Set exchange_ssh_port: {controller_port} "
            "(or move sshd to that port first)",
        )
    return ssh_port


def firewall(b: Builder, host: Node, pair: Vrrp | None, nodes: tuple[Peer, ...], controller_address: str,
             controller_port: int = 0) -> Firewall | None:
    """The node's input filter: the public listeners for anyone, management from the admin networks,
    VRRP and peers from the other node. ``controller_address`` and ``controller_port`` are where Ansible
    connects from and the port sshd answers it on (0: unknown): a rule set that would shut it out is refused."""
    if not b.s.flag("firewall"):
        return None
    admin = _admin_networks(b, host, controller_address)
    rules = [FirewallRule(field=SSH_PORT, protocol="tcp", port=_ssh_port(b, controller_port), sources=admin, admin=True)]
    management = {id(item) for item in b.management}
    for item in b.listeners:
        if item.address.startswith("127.") or id(item) in management:
            continue  # stunnel to haproxy on loopback; management below
        rules.append(FirewallRule(field=item.field, protocol="tcp", address=item.address, port=item.port))
    others = tuple(sorted({f"{peer.address}/32" for peer in nodes if peer.address not in (host.address, "127.0.0.1")}))
    for item in b.management:
        peers_only = item.field.startswith(HA)  # the peers port: from the other node only
        rules.append(FirewallRule(field=item.field, protocol="tcp", address=item.address, port=item.port,
                                  sources=others if peers_only else admin, admin=not peers_only))
    if pair is not None:
        rules.append(
            FirewallRule(field=f"{HA} › Cluster Identifier (VRRP)", protocol="vrrp", sources=others or (str(subnet(host.address, host.prefix)),))
        )
    return Firewall(admin_networks=admin, rules=tuple(rules))
