"""The corpus of refused configurations (tests/bad_input/cases), in the unit tier.

Each case names the mechanism that refuses it (``refused_by``):

- ``plan``: the settings alone are wrong; the plan refuses them by field before any task touches the
  host. Proved here for every such case in seconds: the case's variables over the bad_input scenario's
  good ones and the role's defaults, templated by Ansible into ``exchange_settings`` exactly as the role's
  vars/main.yml does, then the plan, whose error must name the case's field.
- ``certificate``, ``host``, ``argument_spec``: the plan accepts the settings (asserted here, so that the
  later mechanism is what refuses them); the certificate module, the port check on the host or the role's
  argument spec refuses them, which only a run against a node proves.

The bad_input molecule scenario runs every case that is not ``plan`` and the ``plan`` cases marked
``end_to_end`` (one per tab of the web UI) against a node: refused, /etc unchanged, no secret shown.
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((ROOT / "tests" / "bad_input" / "cases").glob("*.yml"))
MECHANISMS = {"plan", "certificate", "host", "argument_spec"}
CONTROLLER = "10.89.60.1"

from ansible_templating import LOADER, load, magic_variables, role_variables  # noqa: E402  (installs Ansible's collection loader)
from ansible.template import Templar  # noqa: E402
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import PlanError, build_plan  # noqa: E402
from ansible_collections.exchange_lb.appliance.plugins.module_utils._settings import SETTINGS  # noqa: E402


def settings_for(case: Path) -> dict[str, t.Any]:
    """``exchange_settings`` as the role computes it on a host of the corpus's inventory."""
    host = case.stem
    inventory = {
        **load("molecule/bad_input/molecule.yml")["provisioner"]["inventory"]["group_vars"]["exchange_lb"],
        **LOADER.load_from_file(str(case), trusted_as_template=True)["vars"],
        "inventory_hostname": host, "inventory_hostname_short": host,
    }
    variables = {**role_variables(["exchange"], inventory), **magic_variables({host: inventory})}
    os.environ.setdefault("LAB_PKI_DIR", str(ROOT / ".lab" / "pki"))
    return t.cast(dict[str, t.Any], Templar(loader=LOADER, variables=variables).template(variables["exchange_settings"]))


def test_every_case_names_its_field_and_its_mechanism() -> None:
    assert len(CASES) >= 60
    for case in CASES:
        data = yaml.safe_load(case.read_text(encoding="utf-8"))
        assert data["field"] and data["vars"], case.name
        assert data["refused_by"] in MECHANISMS, case.name
        assert data.get("end_to_end", data["refused_by"] != "plan") in (True, False), case.name
    end_to_end = [c for c in CASES if yaml.safe_load(c.read_text(encoding="utf-8")).get("end_to_end")]
    assert len(end_to_end) >= 8, "the scenario runs at least one plan refusal per tab of the web UI"


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_the_plan_refuses_exactly_the_plan_cases_naming_the_field(case: Path) -> None:
    data = yaml.safe_load(case.read_text(encoding="utf-8"))
    settings = settings_for(case)
    if data["refused_by"] == "plan":
        with pytest.raises(PlanError) as refused:
            build_plan(settings, CONTROLLER)
        assert data["field"] in str(refused.value), f"expected the error to name {data['field']!r}, got: {refused.value}"
    elif data["refused_by"] == "argument_spec":
        # The argument spec refuses it first; the plan parses every field too, whatever the modes
        # (a disabled service's field included), and when it refuses, it names the same field.
        try:
            build_plan(settings, CONTROLLER)
        except PlanError as error:
            assert SETTINGS[data["field"].removeprefix("exchange_")].field in str(error), str(error)
    else:
        build_plan(settings, CONTROLLER)  # accepted: the certificate check or the host refuses it
