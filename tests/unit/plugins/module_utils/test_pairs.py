"""The Cluster Identifier of a pair is checked against the other nodes of the inventory, their
variables read with the settings table's defaults (no copy of them in Jinja)."""

from __future__ import annotations

import pytest

from ansible_collections.exchange_lb.appliance.plugins.module_utils._pairs import check_cluster_identifier, cluster_settings
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import PlanError, build_plan
from plan_settings import BASE

PAIR = {**BASE, "ha_role": "master", "virtual_service_address": "10.0.0.10", "cluster_identifier": 60}


def vrrp():  # type: ignore[no-untyped-def]
    return build_plan(PAIR).vrrp


def test_a_node_takes_the_tables_defaults_for_what_its_inventory_does_not_say() -> None:
    assert cluster_settings({}) == {"ha_role": "disabled", "cluster_identifier": 253, "virtual_service_address": ""}
    assert cluster_settings({"exchange_ha_role": "backup"})["cluster_identifier"] == 253


def test_the_same_pair_and_standalone_nodes_do_not_clash() -> None:
    check_cluster_identifier(vrrp(), {
        "lb1": cluster_settings({"exchange_ha_role": "master", "exchange_cluster_identifier": 60, "exchange_virtual_service_address": "10.0.0.10"}),
        "lb2": cluster_settings({"exchange_ha_role": "backup", "exchange_cluster_identifier": "60", "exchange_virtual_service_address": "10.0.0.10"}),
        "single": cluster_settings({"exchange_cluster_identifier": 60}),
        "other-id": cluster_settings({"exchange_ha_role": "master", "exchange_cluster_identifier": 61, "exchange_virtual_service_address": "10.0.0.20"}),
        "broken": cluster_settings({"exchange_ha_role": "master", "exchange_cluster_identifier": "sixty"}),
    })
    check_cluster_identifier(None, {"x": cluster_settings({"exchange_ha_role": "master", "exchange_cluster_identifier": 253})})


def test_another_pair_with_the_same_identifier_is_named() -> None:
    with pytest.raises(PlanError) as refused:
        check_cluster_identifier(vrrp(), {
            "lb1": cluster_settings({"exchange_ha_role": "master", "exchange_cluster_identifier": 60, "exchange_virtual_service_address": "10.0.0.10"}),
            "other-lb1": cluster_settings({"exchange_ha_role": "master", "exchange_cluster_identifier": 60,
                                           "exchange_virtual_service_address": "10.0.0.240"}),
        })
    assert str(refused.value) == (
        "High Availability › Cluster Identifier: 60 is also the identifier of other-lb1 (10.0.0.240), with another "
        "Virtual Service Address; each pair on a network needs its own."
    )


def test_the_default_identifier_clashes_too() -> None:
    plan = build_plan({**PAIR, "cluster_identifier": None})
    with pytest.raises(PlanError, match="253 is also the identifier of b"):
        check_cluster_identifier(plan.vrrp, {"b": cluster_settings({"exchange_ha_role": "backup", "exchange_virtual_service_address": "10.0.0.99"})})


def test_a_pairs_peers_are_the_inventorys_nodes_of_its_cluster_named_as_the_role_names_them() -> None:
    from ansible_collections.exchange_lb.appliance.plugins.module_utils._pairs import pair_peers

    nodes = {
        "lb1.example.net": {"exchange_ha_role": "master", "inventory_hostname_short": "lb1", "ansible_host": "10.0.0.11"},
        "lb2": {"exchange_ha_role": "backup", "exchange_network_hostname": "second", "exchange_network_address": "10.0.0.12",
                "ansible_host": "192.0.2.12"},
        "lb3": {"exchange_ha_role": "master", "exchange_cluster_identifier": 60, "ansible_host": "10.0.0.13"},
        "single": {"ansible_host": "10.0.0.14"},
        "facts": {"exchange_ha_role": "backup", "exchange_cluster_identifier": "253", "ansible_host": "192.0.2.15",
                  "ansible_facts": {"default_ipv4": {"address": "10.0.0.15"}}},
    }
    assert pair_peers(None, nodes) == [
        {"name": "lb1", "address": "10.0.0.11"},
        {"name": "second", "address": "10.0.0.12"},
        {"name": "facts", "address": "10.0.0.15"},
    ]
    assert pair_peers(60, nodes) == [{"name": "lb3", "address": "10.0.0.13"}]
