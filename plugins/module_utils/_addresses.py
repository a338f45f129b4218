# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""Addresses that break the network: an IPv4 address can be well formed and still be no address a
node, its virtual address or a server can have (0.0.0.0, loopback, multicast, broadcast, link-local,
reserved), or be one another field already holds (keepalived would announce the router's address;
haproxy would send Outlook to the appliance itself). Each refusal names the field as the guide does."""

from __future__ import annotations

import ipaddress
import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._netcfg import edge, special  # one rule for the wizard too
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError

__all__ = ["edge", "host_address", "server_address", "special", "virtual_address"]


def host_address(field: str, address: str, network: ipaddress.IPv4Network | None = None) -> str:
    """``address`` when a host can have it (and, in ``network``, is neither its network nor its broadcast address)."""
    why = special(address) or (edge(address, network) if network is not None and ipaddress.IPv4Address(address) in network else "")
    if why:
        raise PlanError(field, f"{address} is {why}, not the address of a host")
    return address


def virtual_address(field: str, vip: str, node_address: str, network: ipaddress.IPv4Network, gateway: str,
                    gateway_field: str, node_field: str) -> str:
    """The pair's virtual address: a free host address of the node's subnet."""
    host_address(field, vip, network)
    if vip == node_address:
        raise PlanError(field, f"{vip} is the node's own address ({node_field}); the virtual address must be another one")
    if vip == gateway:
        raise PlanError(field, f"{vip} is the gateway ({gateway_field}): keepalived would announce the router's address")
    if ipaddress.IPv4Address(vip) not in network:
        raise PlanError(field, f"{vip} is not in the node's subnet {network}")
    return vip


def server_address(field: str, address: str, taken: t.Mapping[str, str], network: ipaddress.IPv4Network | None = None) -> str:
    """A server's address (CAS, Hub): a host's, and none of the appliance's own (``taken``: address -> what it is)."""
    host_address(field, address, network)
    if address in taken:
        raise PlanError(field, f"{address} is {taken[address]}: a server must be another host (haproxy would send the traffic back to the appliance)")
    return address
