# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""Across the nodes of an inventory: the nodes of a pair (its haproxy peers, by default), the check
that two pairs do not share a Cluster Identifier (VRRP would mix their adverts and both would claim
each other's address), and that a pair agrees with itself (one Cluster Identifier for its Virtual
Service Address, one master). Other nodes' variables are read with the settings table's defaults."""

from __future__ import annotations

import ipaddress
import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import build_plan
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_model import HA, Plan, Vrrp
from ansible_collections.exchange_lb.appliance.plugins.module_utils._settings import SETTINGS
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError

#: The settings of another node a pair check reads, by their plan names.
CLUSTER_SETTINGS = ("ha_role", "cluster_identifier", "virtual_service_address")


def cluster_settings(variables: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A node's HA settings from its ``exchange_*`` variables, with the table's defaults."""
    result = {}
    for name in CLUSTER_SETTINGS:
        setting = SETTINGS[name]
        value = variables.get(setting.variable)
        result[name] = setting.default if value is None else value
    return result


def check_cluster_identifier(vrrp: Vrrp | None, others: t.Mapping[str, t.Mapping[str, t.Any]]) -> None:
    """Refuse a Cluster Identifier that another pair (a node with another virtual address) uses.

    ``others``: inventory name -> that node's :func:`cluster_settings` (this node may be among them)."""
    if vrrp is None:
        return
    clashes = []
    for host, settings in others.items():
        if str(settings.get("ha_role") or "disabled") == "disabled":
            continue
        try:
            router_id = int(settings.get("cluster_identifier"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue  # that node's own run names its bad identifier
        address = str(settings.get("virtual_service_address") or "").strip()
        if router_id == vrrp.router_id and address != vrrp.virtual_address:
            clashes.append(f"{host} ({address})")
    if clashes:
        raise PlanError(
            f"{HA} › Cluster Identifier",
            f"{vrrp.router_id} is also the identifier of {', '.join(clashes)}, with another Virtual Service Address; "
            "each pair on a network needs its own.",
        )


def _cluster_of(settings: t.Mapping[str, t.Any]) -> tuple[str, int, str] | None:
    """A node's (role, Cluster Identifier, Virtual Service Address), None when it is in no pair or its own
    run names its bad setting."""
    role = str(settings.get("ha_role") or "disabled").strip()
    if role == "disabled":
        return None
    try:
        router_id = int(settings.get("cluster_identifier"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    address = str(settings.get("virtual_service_address") or "").strip()
    try:
        address = str(ipaddress.IPv4Address(address))
    except ValueError:
        pass  # that node's own run names it
    return role, router_id, address


def check_pair(vrrp: Vrrp | None, own: str, others: t.Mapping[str, t.Mapping[str, t.Any]]) -> None:
    """Refuse a pair that disagrees with itself: another node with this Virtual Service Address and another
    Cluster Identifier (both pairs would claim the address), or two masters with this identifier and address.

    ``own``: this node's inventory name ("" when unknown: then this node counts only if it is among
    ``others``); ``others``: inventory name -> that node's :func:`cluster_settings`."""
    if vrrp is None:
        return
    masters = {own} if vrrp.role == "master" and own else set()
    for host, settings in others.items():
        found = _cluster_of(settings)
        if found is None or host == own:
            continue
        role, router_id, address = found
        if address == vrrp.virtual_address and router_id != vrrp.router_id:
            raise PlanError(
                f"{HA} › Virtual Service Address",
                f"{address} is also the virtual address of {host}, with Cluster Identifier {router_id} (this node's is "
                f"{vrrp.router_id}): the two nodes of a pair share one identifier, and another pair needs another address",
            )
        if role == "master" and router_id == vrrp.router_id and address == vrrp.virtual_address:
            masters.add(host)
    if len(masters) > 1:
        raise PlanError(
            f"{HA} › Role",
            f"{', '.join(sorted(masters))} are all master of the pair {vrrp.virtual_address} (Cluster Identifier "
            f"{vrrp.router_id}): a pair has one master and one backup",
        )


def _node_name(host: str, variables: t.Mapping[str, t.Any]) -> str:
    return str(variables.get("exchange_network_hostname") or variables.get("inventory_hostname_short") or host.split(".")[0])


def _node_address(host: str, variables: t.Mapping[str, t.Any]) -> str:
    facts = variables.get("ansible_facts") or {}
    found = (facts.get("default_ipv4") or {}).get("address") if isinstance(facts, t.Mapping) else None
    return str(variables.get("exchange_network_address") or found or variables.get("ansible_host") or host)


def pair_peers(cluster_identifier: t.Any, nodes: t.Mapping[str, t.Mapping[str, t.Any]]) -> list[dict[str, str]]:
    """The default haproxy peers of a node in a pair: every node (``nodes``: inventory name -> its
    variables) with an HA role and this Cluster Identifier, by its host name and address, as the
    exchange role's own defaults name them (Network › Hostname, else the short inventory name;
    Network › Address, else the address of its default route, else ``ansible_host``)."""
    own = SETTINGS["cluster_identifier"].default if cluster_identifier in (None, "") else cluster_identifier
    peers = []
    for host, variables in nodes.items():
        settings = cluster_settings(variables)
        if str(settings["ha_role"] or "disabled") == "disabled" or str(settings["cluster_identifier"]).strip() != str(own).strip():
            continue
        peers.append({"name": _node_name(host, variables), "address": _node_address(host, variables)})
    return peers


def plan_in_inventory(settings: t.Mapping[str, t.Any], controller_address: str, nodes: t.Mapping[str, t.Mapping[str, t.Any]],
                      controller_port: int = 0, own: str = "") -> Plan:
    """The node's plan among the inventory's ``nodes`` (inventory name -> variables): its pair's peers
    by default, the plan, its Cluster Identifier against the other pairs, and its pair's other node
    (one address, one identifier, one master). ``own``: this node's inventory name. What the plan action runs."""
    if not settings.get("peers") and str(settings.get("ha_role") or "disabled") != "disabled":
        # the pair's nodes sync stickiness: by default every node of the inventory in this cluster
        settings = {**settings, "peers": pair_peers(settings.get("cluster_identifier"), nodes)}
    plan = build_plan(settings, controller_address, controller_port)
    others = {host: cluster_settings(variables) for host, variables in nodes.items()}
    check_cluster_identifier(plan.vrrp, others)
    check_pair(plan.vrrp, own, others)
    return plan
