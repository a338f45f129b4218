"""Each daemon role renders its own part of the plan, declared option by option in its argument
spec, and decides nothing the plan could: which certificates each engine installs, which units
keepalived tracks, whether stunnel runs, where the metrics write the VRRP state."""

from __future__ import annotations

import dataclasses
import typing as t
from pathlib import Path

import pytest
import yaml

from ansible_collections.exchange_lb.appliance.plugins.module_utils import _plan_model as model
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import build_plan
from plan_settings import BASE

ROOT = Path(__file__).resolve().parents[3]
PARTS = {"haproxy": model.HaproxyPart, "stunnel": model.StunnelPart, "keepalived": model.KeepalivedPart,
         "firewall": model.Firewall, "node_metrics": model.NodeMetrics}
PAIR = {**BASE, "ha_role": "master", "virtual_service_address": "10.0.0.10", "network_hostname": "lb1",
        "peers": [{"name": "lb1", "address": "10.0.0.11"}, {"name": "lb2", "address": "10.0.0.12"}]}


def spec_type(annotation: str) -> str:
    if annotation.startswith("tuple"):
        return "list"
    return {"str": "str", "int": "int", "bool": "bool"}.get(annotation, "dict")


@pytest.mark.parametrize("role", PARTS)
def test_the_roles_spec_declares_its_part_field_by_field(role: str) -> None:
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    option = spec["argument_specs"]["main"]["options"][f"{role}_plan"]
    fields = {field.name: str(field.type) for field in dataclasses.fields(PARTS[role])}
    assert set(option["options"]) == set(fields)
    for name, annotation in fields.items():
        assert option["options"][name]["type"] == spec_type(annotation), f"{role}_plan.{name}"


def parts(**changes: t.Any) -> dict[str, t.Any]:
    return build_plan({**BASE, **changes}).as_dict()


def test_haproxy_installs_certificates_only_when_it_ends_tls() -> None:
    assert [c["service"] for c in parts(imap_mode="ssl-offload")["haproxy"]["certificates"]] == ["http", "imap"]
    stunnel = parts(imap_mode="ssl-offload", tls_engine="stunnel")
    assert stunnel["haproxy"]["certificates"] == []
    assert [c["service"] for c in stunnel["stunnel"]["certificates"]] == ["http", "imap"]


def test_stunnel_has_a_part_only_when_it_ends_tls() -> None:
    assert parts()["stunnel"] is None
    assert parts(tls_engine="stunnel", http_mode="ssl-forward")["stunnel"] is None  # nothing to end
    assert parts(tls_engine="stunnel")["stunnel"]["tls_tunnels"]


def test_keepalived_tracks_stunnel_only_when_it_ends_tls_and_is_absent_without_a_pair() -> None:
    assert parts()["keepalived"] is None
    pair = build_plan(PAIR).as_dict()["keepalived"]
    assert [unit["name"] for unit in pair["tracked"]] == ["haproxy"]
    assert pair["unicast_peers"] == ["10.0.0.12"] and pair["router_name"] == "lb1"
    assert pair["textfile_directory"] == "-" and pair["start_at_boot"] is True
    stunnel = build_plan({**PAIR, "tls_engine": "stunnel", "stats_enabled": True, "node_metrics": True,
                          "startup_vrrp": "manual"}).as_dict()
    assert [unit["unit"] for unit in stunnel["keepalived"]["tracked"]] == ["haproxy.service", "stunnel@exchange-lb.service"]
    assert stunnel["keepalived"]["textfile_directory"] == stunnel["node_metrics"]["textfile_directory"]
    assert stunnel["keepalived"]["start_at_boot"] is False  # Services tab › vrrp › Startup: manual
    assert stunnel["node_metrics"]["vrrp_state"] is True
    assert parts(stats_enabled=True, node_metrics=True)["node_metrics"]["vrrp_state"] is False


def test_keepalived_names_a_node_without_a_host_name_by_its_address() -> None:
    pair = build_plan({**PAIR, "network_hostname": "", "peers": []}).as_dict()["keepalived"]
    assert pair["router_name"] == "10.0.0.11"


def test_haproxy_binds_a_virtual_address_it_may_not_hold_only_in_a_pair() -> None:
    assert parts()["haproxy"]["nonlocal_bind"] is False
    assert build_plan(PAIR).as_dict()["haproxy"]["nonlocal_bind"] is True
    assert parts(startup_haproxy="manual")["haproxy"]["start_at_boot"] is False
