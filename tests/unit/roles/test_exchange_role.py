"""The exchange role, its argument spec and the plan agree on every default,
and every setting the role hands to the plan is one the plan knows."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import yaml

from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import DEFAULTS, HTTP_SERVICES, MAPI_SERVICE

ROLE = Path(__file__).resolve().parents[3] / "roles" / "exchange"


def load(name: str) -> t.Any:
    return yaml.safe_load((ROLE / name).read_text(encoding="utf-8"))


def test_role_defaults_are_the_plan_defaults() -> None:
    defaults = load("defaults/main.yml")
    settings = load("vars/main.yml")["exchange_settings"]
    for key, value in DEFAULTS.items():
        if key == "http_services":
            for service, _label, _paths in (*HTTP_SERVICES, MAPI_SERVICE):
                variable = settings["http_services"][service].strip("{} ")
                assert defaults[variable] is value[service], variable
            continue
        if not re.fullmatch(r"\{\{ exchange_\w+ \}\}", settings[key]):
            continue  # derived from other variables (e.g. stats_enabled from the admin password)
        variable = settings[key].strip("{} ")
        assert variable == f"exchange_{key}", key
        if isinstance(defaults[variable], str) and "{{" in defaults[variable]:
            continue  # computed from facts or the inventory on each host
        expected = "" if value is None else value
        actual = "" if defaults[variable] is None else defaults[variable]
        assert actual == expected, f"{variable}: role default {actual!r} != plan default {expected!r}"


def test_every_setting_is_known_to_the_plan() -> None:
    settings = load("vars/main.yml")["exchange_settings"]
    assert set(settings) <= set(DEFAULTS) | {"network_address", "cas_servers"}


def test_argument_spec_defaults_match_the_defaults_file() -> None:
    defaults = load("defaults/main.yml")
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults) | {"exchange_cas_servers"}
    for name, option in options.items():
        if "default" in option:
            assert option["default"] == defaults[name], name
        assert option.get("description"), f"{name} has no description"


def test_passwords_are_secret_in_the_spec() -> None:
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    for name, option in options.items():
        if name.endswith("password"):
            assert option.get("no_log") is True, name
