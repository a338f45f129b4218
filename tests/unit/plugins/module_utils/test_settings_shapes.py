"""A list or a mapping given to a field of one value is refused naming the field, whatever the modes,
rather than turned into its Python text (``['mail.example.com']``) and written into a configuration."""

from __future__ import annotations

import typing as t

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import PlanError, build_plan
from ansible_collections.exchange_lb.appliance.plugins.module_utils._settings import SETTINGS, Setting
from plan_settings import BASE

QUIET = {**BASE, "http_mode": "disabled", "imap_mode": "disabled", "pop3_mode": "disabled", "rpc_mode": "disabled",
         "smtp_mode": "disabled", "ha_role": "disabled", "firewall": False, "stats_enabled": False,
         "node_metrics": False, "network_manage": False}
SINGLE = [s for s in SETTINGS.values() if s.to_plan and s.type != "list"]


def with_value(setting: Setting, value: t.Any) -> dict[str, t.Any]:
    outer, _dot, inner = setting.key.partition(".")
    return {**QUIET, outer: {inner: value}} if inner else {**QUIET, outer: value}


def default_of(setting: Setting) -> t.Any:
    value = BASE.get(setting.key, setting.default)
    return value if isinstance(value, (str, int, bool)) else "x"


@pytest.mark.parametrize("setting", SINGLE, ids=[s.name for s in SINGLE])
@pytest.mark.parametrize("shape", ["list", "mapping"])
def test_a_list_or_mapping_in_a_field_of_one_value_is_refused_by_its_field(setting: Setting, shape: str) -> None:
    value = [default_of(setting)] if shape == "list" else {"value": default_of(setting)}
    with pytest.raises(PlanError) as refused:
        build_plan(with_value(setting, value))
    assert refused.value.field == setting.field
    assert refused.value.message.startswith(f"one value is expected, not a {shape}")


NESTED = st.recursive(
    st.text(max_size=5) | st.integers(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=5,
)


@given(st.sampled_from(SINGLE), NESTED)
@hypothesis_settings(max_examples=200, deadline=None)
def test_any_nested_value_is_either_one_value_or_refused_by_the_field(setting: Setting, value: t.Any) -> None:
    try:
        build_plan(with_value(setting, value))
    except PlanError as error:
        if isinstance(value, (list, dict)):
            assert error.field == setting.field
    else:
        assert not isinstance(value, (list, dict))
