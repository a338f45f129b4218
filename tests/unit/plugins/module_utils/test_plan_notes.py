"""Settings that do nothing in the chosen modes are used, or the run says so (plan.notes, shown as warnings)."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import build_plan
from plan_settings import BASE


def plan_for(**changes: t.Any) -> dict[str, t.Any]:
    return build_plan({**BASE, **changes}).as_dict()


def timeouts(plan: dict[str, t.Any], name: str) -> tuple[int, int]:
    frontend = next(item for item in plan["frontends"] if item["name"] == f"ft_{name}")
    backend = next(item for item in plan["backends"] if item["name"] == f"bk_{name}")
    return frontend["timeout_client_s"], backend["timeout_server_s"]


def test_the_guide_rpc_timeout_applies_to_the_endpoint_mapper_and_the_connection_timeout_to_the_rest() -> None:
    plan = plan_for(rpc_timeout=40, rpc_connection_timeout=7200)
    assert timeouts(plan, "rpc_epm") == (40, 40)
    assert timeouts(plan, "rpc_ca") == (7200, 7200)
    assert timeouts(plan, "rpc_ab") == (7200, 7200)
    assert plan["notes"] == []


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"http_mode": "ssl-forward", "http_timeout": 60}, "HTTP(s) Service › Timeout: 60 does nothing here", "long poll timeout"),
        ({"http_mode": "ssl-forward", "http_cas_http_port": 8080}, "HTTP(s) Service › CAS Servers HTTP port: 8080 does nothing here", "HTTPs port only"),
        ({"http_mode": "ssl-bridge", "http_cas_http_port": 8080, "http_cas_ca_certificate": "/etc/ssl/ca.pem"},
         "HTTP(s) Service › CAS Servers HTTP port", "ssl-bridge reaches"),
    ],
)
def test_a_field_set_for_nothing_is_named_in_the_notes(changes: dict[str, t.Any], field: str, words: str) -> None:
    notes = plan_for(**changes)["notes"]
    assert len(notes) == 1 and notes[0].startswith(field) and words in notes[0], notes


@pytest.mark.parametrize("mode", ["ssl-forward", "ssl-bridge", "ssl-offload", "clear"])
def test_fields_left_at_the_guide_values_give_no_note(mode: str) -> None:
    changes: dict[str, t.Any] = {"http_mode": mode}
    if mode == "ssl-bridge":
        changes["http_cas_ca_certificate"] = "/etc/ssl/ca.pem"
    assert plan_for(**changes)["notes"] == []


def test_fields_used_by_the_mode_give_no_note() -> None:
    assert plan_for(http_mode="ssl-offload", http_timeout=60, http_cas_http_port=8080)["notes"] == []
