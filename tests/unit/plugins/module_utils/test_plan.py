"""The appliance plan: settings in, one validated plan out."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import PlanError, build_plan

BASE: dict[str, t.Any] = {
    "network_address": "10.0.0.11",
    "cas_servers": [{"name": "cas1", "address": "10.0.0.15"}, {"name": "cas2", "address": "10.0.0.16"}],
    "http_mode": "clear",
    "http_host_name": "mail.mydomain.local",
    "http_redirect_port": 80,
    "http_cas_http_port": 80,
    "http_timeout": 25,
}


def settings(**changes: t.Any) -> dict[str, t.Any]:
    return {**BASE, **changes}


def test_clear_http_balances_every_cas_round_robin_with_an_http_check() -> None:
    plan = build_plan(settings())
    (frontend,) = plan.frontends
    (backend,) = plan.backends
    assert [(b.address, b.port) for b in frontend.binds] == [("10.0.0.11", 80)]
    assert frontend.backend == backend.name
    assert backend.balance == "roundrobin"
    assert [(s.name, s.address, s.port) for s in backend.servers] == [("cas1", "10.0.0.15", 80), ("cas2", "10.0.0.16", 80)]
    assert backend.check.kind == "http"
    assert backend.check.host == "mail.mydomain.local"
    assert frontend.timeout_client_s == backend.timeout_server_s == 25


def test_plain_addresses_are_accepted_as_cas_entries() -> None:
    plan = build_plan(settings(cas_servers=["10.0.0.15", "10.0.0.16"]))
    assert [s.name for s in plan.backends[0].servers] == ["cas1", "cas2"]


def test_disabled_http_has_no_listener() -> None:
    plan = build_plan(settings(http_mode="disabled"))
    assert plan.frontends == () and plan.backends == ()


def test_the_plan_is_plain_data_for_the_templates() -> None:
    data = build_plan(settings()).as_dict()
    assert data["frontends"][0]["binds"] == [{"address": "10.0.0.11", "port": 80}]
    assert data["backends"][0]["servers"][1] == {"name": "cas2", "address": "10.0.0.16", "port": 80}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"cas_servers": []}, "CAS Servers", "at least one CAS server"),
        ({"cas_servers": [{"address": "10.0.0.15"}, {"address": "10.0.0.300"}]}, "CAS Servers › CAS2 Address", "not an IPv4"),
        ({"cas_servers": ["10.0.0.15", "10.0.0.15"]}, "CAS Servers › CAS2 Address", "already CAS Servers › CAS1 Address"),
        ({"network_address": "lb1.example"}, "Network › Address", "not an IPv4"),
        ({"http_mode": "ssl-everything"}, "HTTP(s) Service", "unknown mode"),
        ({"http_redirect_port": 0}, "HTTP(s) Service › Redirect HTTP port", "1-65535"),
        ({"http_redirect_port": "eighty"}, "HTTP(s) Service › Redirect HTTP port", "not a TCP port"),
        ({"http_cas_http_port": 70000}, "HTTP(s) Service › CAS Servers HTTP port", "1-65535"),
        ({"http_timeout": 0}, "HTTP(s) Service › Timeout", "at least 1 second"),
    ],
)
def test_bad_settings_name_the_wui_field(changes: dict[str, t.Any], field: str, message: str) -> None:
    with pytest.raises(PlanError) as caught:
        build_plan(settings(**changes))
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert message in str(caught.value)
