"""The exchange role's settings come from one table (plugins/module_utils/_settings.py):
its defaults, argument spec, the settings it hands to the plan, the AWX survey and
docs/variables.md are generated from it and must be what the table says; the table
itself is consistent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ansible_collections.exchange_lb.appliance.plugins.module_utils._settings import NO_DEFAULT, PLAN_KEYS, SETTINGS

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools"))

import gen_settings  # noqa: E402


@pytest.mark.parametrize("path", list(gen_settings.outputs()), ids=lambda path: str(path.relative_to(ROOT)))
def test_generated_file_is_what_the_table_says(path: Path) -> None:
    assert path.read_text(encoding="utf-8") == gen_settings.outputs()[path](), f"{path}: run `make docs`"


def test_passwords_and_only_they_are_secret_and_never_reach_the_plan() -> None:
    for setting in SETTINGS.values():
        assert setting.secret == setting.name.endswith("password"), setting.name
        if setting.secret:
            # the admin password reaches the plan only as "is there one" (stats_enabled)
            assert not setting.to_plan or "| length > 0" in str(setting.plan_value), setting.name


def test_a_secret_or_a_file_is_a_credential_never_a_survey_question() -> None:
    for setting in SETTINGS.values():
        if setting.secret or setting.type == "path":
            assert setting.credential and not setting.survey, setting.name
        if setting.credential:
            assert setting.secret or setting.type == "path", setting.name
    with pytest.raises(ValueError, match="comes from an AWX credential"):
        gen_settings.question(SETTINGS["http_certificate"])


def test_every_row_is_whole() -> None:
    for setting in SETTINGS.values():
        assert setting.doc, f"{setting.name} has no documentation"
        assert setting.type in ("str", "path", "int", "float", "bool", "list"), setting.name
        if setting.type == "int" and setting.survey:
            assert setting.bounds, f"{setting.name}: an integer the survey asks needs bounds"
        if setting.bounds:
            low, high = setting.bounds
            assert setting.default in (None, NO_DEFAULT) or low <= setting.default <= high, setting.name
        if setting.choices and setting.default is not NO_DEFAULT:
            assert setting.default in setting.choices, setting.name
        assert setting.required or setting.default is not NO_DEFAULT or setting.role_default, (
            f"{setting.name}: neither required nor given a default"
        )


def test_the_plan_knows_every_setting_it_is_handed() -> None:
    assert {setting.key.partition(".")[0] for setting in SETTINGS.values() if setting.to_plan} == PLAN_KEYS
    assert {"network_address", "cas_servers", "http_services", "stats_enabled"} <= PLAN_KEYS
