"""Integer bounds live in the argument specs, as the sentence "An integer from <low>
to <high>." in an option's description (the AWX surveys take their min/max from it,
tests/unit/test_awx_surveys.py). For the exchange role they must be the bounds the plan
really enforces: <low> and <high> pass, <low>-1 and <high>+1 are refused naming the field."""

from __future__ import annotations

import copy
import re
import typing as t
from pathlib import Path

import pytest
import yaml

from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import DEFAULTS, build_plan
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError

ROOT = Path(__file__).resolve().parents[3]
BOUNDS = re.compile(r"\b[Aa]n integer from (-?\d+) to (-?\d+)\b")


def bounds(option: dict[str, t.Any]) -> tuple[int, int] | None:
    found = {(int(a), int(b)) for a, b in BOUNDS.findall(" ".join(option.get("description") or []))}
    assert len(found) <= 1, option
    return found.pop() if found else None


def all_options() -> list[tuple[str, str, str, dict[str, t.Any]]]:
    found = []
    for spec_file in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        spec = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
        for entry_point, entry in spec["argument_specs"].items():
            for name, option in (entry.get("options") or {}).items():
                found.append((spec_file.parts[-3], entry_point, name, option))
    return found


def base_settings() -> dict[str, t.Any]:
    """Every service on and a pair, so that every integer setting is validated."""
    settings = copy.deepcopy(DEFAULTS)
    settings.update(
        network_address="10.0.0.5", network_gateway="", http_host_name="mail.mydomain.local",
        cas_servers=[{"name": "cas1", "address": "10.0.0.15"}, {"name": "cas2", "address": "10.0.0.16"}],
        hub_servers=[{"name": "hub1", "address": "10.0.0.31"}],
        http_mode="ssl-forward", imap_mode="clear and ssl-forward", pop3_mode="clear and ssl-forward",
        smtp_mode="clear and ssl-forward", stats_enabled=True, ha_role="master", virtual_service_address="10.0.0.100",
        rpc_ports_outside_range_reason="bounds test", network_manage=True, network_interface="eth0", node_metrics=True,
    )
    return settings


EXCHANGE_INTS = [(name, option) for role, _entry, name, option in all_options()
                 if role == "exchange" and option.get("type") == "int" and "choices" not in option]


@pytest.mark.parametrize("name,option", EXCHANGE_INTS, ids=[name for name, _option in EXCHANGE_INTS])
def test_exchange_bounds_are_the_plans(name: str, option: dict[str, t.Any]) -> None:
    stated = bounds(option)
    assert stated, name
    low, high = stated
    key = name.removeprefix("exchange_")
    build_plan(base_settings())
    for value in (low, high):
        settings = base_settings()
        settings[key] = value
        build_plan(settings)  # accepted
    for value in (low - 1, high + 1):
        settings = base_settings()
        settings[key] = value
        with pytest.raises(PlanError, match=r"out of range"):
            build_plan(settings)
