# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""Checks across the nodes of an inventory: two pairs must not share a Cluster Identifier (VRRP
would mix their adverts and both would claim each other's address)."""

from __future__ import annotations

import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_model import HA, Vrrp
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
