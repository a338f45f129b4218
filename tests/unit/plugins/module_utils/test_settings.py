"""The settings are parsed in one pass before the plan is built: every field is checked with its
WUI path whatever the modes (a disabled service's port or timeout included), typed once, and the
plan reads only parsed values."""

from __future__ import annotations

import typing as t

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import PlanError, build_plan
from ansible_collections.exchange_lb.appliance.plugins.module_utils._settings import (
    NO_DEFAULT,
    PLAN_DEFAULTS,
    SETTINGS,
    Setting,
    parse,
)
from plan_settings import BASE

# every service off: a field must be refused even when nothing reads it
QUIET = {**BASE, "http_mode": "disabled", "imap_mode": "disabled", "pop3_mode": "disabled", "rpc_mode": "disabled",
         "smtp_mode": "disabled", "ha_role": "disabled", "firewall": False, "stats_enabled": False,
         "node_metrics": False, "network_manage": False}
BOUNDED = [s for s in SETTINGS.values() if s.to_plan and s.bounds and "." not in s.key]
CHOICES = [s for s in SETTINGS.values() if s.to_plan and s.choices]


def with_value(setting: Setting, value: t.Any) -> dict[str, t.Any]:
    outer, _dot, inner = setting.key.partition(".")
    if inner:
        return {**QUIET, outer: {inner: value}}
    return {**QUIET, outer: value}


def test_the_quiet_settings_are_accepted() -> None:
    build_plan(QUIET)


@pytest.mark.parametrize("setting", BOUNDED, ids=[s.name for s in BOUNDED])
@pytest.mark.parametrize("side", ["below", "above", "word"])
def test_an_integer_out_of_its_bounds_is_refused_whatever_the_modes(setting: Setting, side: str) -> None:
    assert setting.bounds
    value = {"below": setting.bounds[0] - 1, "above": setting.bounds[1] + 1, "word": "many"}[side]
    with pytest.raises(PlanError) as refused:
        build_plan(with_value(setting, value))
    assert refused.value.field == setting.field


@pytest.mark.parametrize("setting", CHOICES, ids=[s.name for s in CHOICES])
def test_an_unknown_choice_is_refused_whatever_the_modes(setting: Setting) -> None:
    with pytest.raises(PlanError) as refused:
        build_plan(with_value(setting, "no-such-mode"))
    assert refused.value.field == setting.field
    assert "choose one of" in refused.value.message


@given(st.integers(-10, 70000), st.sampled_from(BOUNDED))
@hypothesis_settings(max_examples=200, deadline=None)
def test_an_integer_is_taken_exactly_when_it_is_within_bounds(value: int, setting: Setting) -> None:
    assert setting.bounds
    low, high = setting.bounds
    raw = with_value(setting, str(value))  # a survey answer or an extra variable may come as text
    if low <= value <= high:
        assert parse(raw)[setting.key] == value
    else:
        with pytest.raises(PlanError) as refused:
            parse(raw)
        assert refused.value.field == setting.field


def test_parsed_settings_are_typed_and_read_only() -> None:
    parsed = parse({**BASE, "http_timeout": "30", "network_manage": "yes", "version": 2013, "http_services": {"owa": "disabled"}})
    assert parsed["http_timeout"] == 30 and parsed["network_manage"] is True and parsed["version"] == "2013"
    assert parsed["http_services"]["owa"] is False and parsed["http_services"]["ews"] is True
    assert parsed["network_netmask"] == 24  # a prefix length, whichever way it was written
    with pytest.raises(TypeError):
        parsed["http_timeout"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        parsed["http_services"]["owa"] = True


def test_a_missing_setting_takes_the_tables_default() -> None:
    parsed = parse(BASE)
    for key, value in PLAN_DEFAULTS.items():
        if key in BASE:
            continue
        if isinstance(value, dict):
            assert dict(parsed[key]) == value, key
        elif key == "network_netmask":
            assert parsed[key] == 24
        else:
            assert parsed[key] == (tuple(value) if isinstance(value, list) else value), key
    assert all(s.default is not NO_DEFAULT or s.required or s.role_default for s in SETTINGS.values())


def test_unknown_settings_and_services_are_named() -> None:
    with pytest.raises(PlanError, match="unknown setting"):
        parse({**BASE, "http_moed": "clear"})
    with pytest.raises(PlanError) as refused:
        parse({**BASE, "http_services": {"owa": True, "webmail": True}})
    assert refused.value.field == "HTTP(s) Service › HTTP and Web Services" and "webmail" in refused.value.message


def test_a_former_name_still_in_the_inventory_is_refused_naming_the_new_one() -> None:
    from ansible_collections.exchange_lb.appliance.plugins.module_utils._settings import RENAMED, refuse_renamed

    assert set(RENAMED) == {"exchange_services_startup_haproxy", "exchange_services_startup_stunnel", "exchange_services_startup_vrrp"}
    refuse_renamed({"exchange_startup_haproxy": "manual"})
    with pytest.raises(PlanError) as refused:
        refuse_renamed({"exchange_services_startup_vrrp": "manual"})
    assert refused.value.field == "Services tab › vrrp › Startup (exchange_startup_vrrp)"
    assert "exchange_services_startup_vrrp was renamed exchange_startup_vrrp" in refused.value.message
