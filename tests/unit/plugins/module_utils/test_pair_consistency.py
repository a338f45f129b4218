"""A pair agrees with itself across the inventory: the nodes with one Virtual Service Address share
one Cluster Identifier (else both pairs claim the address), and one of them is the master."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.exchange_lb.appliance.plugins.module_utils._pairs import check_pair, cluster_settings, plan_in_inventory
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import PlanError, build_plan
from plan_settings import BASE

PAIR = {**BASE, "ha_role": "master", "virtual_service_address": "10.0.0.10", "cluster_identifier": 60, "network_hostname": "lb1",
        "peers": [{"name": "lb1", "address": "10.0.0.11"}, {"name": "lb2", "address": "10.0.0.12"}]}


def node(role: str, vip: str = "10.0.0.10", cluster: t.Any = 60) -> dict[str, t.Any]:
    return {"exchange_ha_role": role, "exchange_virtual_service_address": vip, "exchange_cluster_identifier": cluster}


def others(**nodes: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    return {host: cluster_settings(variables) for host, variables in nodes.items()}


def test_a_master_and_a_backup_agree() -> None:
    vrrp = build_plan(PAIR).vrrp
    check_pair(vrrp, "lb1", others(lb1=node("master"), lb2=node("backup"), single=node("disabled", cluster=61),
                                   other=node("master", "10.0.0.20", 61), broken=node("master", cluster="sixty")))
    check_pair(vrrp, "", others(lb1=node("master"), lb2=node("backup")))  # this node among them, unnamed
    check_pair(None, "lb1", others(lb2=node("master")))


def test_the_same_virtual_address_with_another_identifier_is_refused() -> None:
    with pytest.raises(PlanError) as refused:
        check_pair(build_plan(PAIR).vrrp, "lb1", others(lb1=node("master"), lb2=node("backup", " 10.0.0.10 ", 61)))
    assert refused.value.field == "High Availability › Virtual Service Address"
    assert "10.0.0.10 is also the virtual address of lb2, with Cluster Identifier 61 (this node's is 60)" in refused.value.message


@pytest.mark.parametrize("own", ["lb1", ""])
def test_two_masters_are_refused_naming_the_role(own: str) -> None:
    with pytest.raises(PlanError) as refused:
        check_pair(build_plan(PAIR).vrrp, own, others(lb1=node("master"), lb2=node("master", cluster="60")))
    assert refused.value.field == "High Availability › Role"
    assert refused.value.message.startswith("lb1, lb2 are all master of the pair 10.0.0.10 (Cluster Identifier 60)")


def test_a_backup_sees_two_masters_too() -> None:
    with pytest.raises(PlanError, match="lb1, lb3 are all master"):
        check_pair(build_plan({**PAIR, "ha_role": "backup"}).vrrp, "lb2",
                   others(lb1=node("master"), lb2=node("backup"), lb3=node("master")))


def test_the_plan_action_checks_the_pair_among_the_inventory() -> None:
    inventory = {"lb1": {**node("master"), "ansible_host": "10.0.0.11"}, "lb2": {**node("master"), "ansible_host": "10.0.0.12"}}
    with pytest.raises(PlanError, match="lb1, lb2 are all master"):
        plan_in_inventory(PAIR, "", inventory, own="lb1")
    inventory["lb2"] = {**node("backup"), "ansible_host": "10.0.0.12"}
    assert plan_in_inventory(PAIR, "", inventory, own="lb1").vrrp is not None
