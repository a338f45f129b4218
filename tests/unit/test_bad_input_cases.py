"""The corpus of refused configurations (tests/bad_input/cases), in the unit tier.

Each case names the mechanism that refuses it (``refused_by``):

- ``plan``: the settings alone are wrong; the plan refuses them by field before any task touches the
  host. Proved here for every such case in seconds: the case's variables over the bad_input scenario's
  good ones and the role's defaults, templated by Ansible into ``exchange_settings`` exactly as the role's
  vars/main.yml does, then the plan action's plan among the corpus's nodes (the scenario's inventory: the
  pair checks read the other cases' variables), whose error must name the case's field.
- ``certificate``, ``host``, ``argument_spec``: the plan accepts the settings (asserted here, so that the
  later mechanism is what refuses them); the certificate module, the port check on the host or the role's
  argument spec refuses them, which only a run against a node proves.

The bad_input molecule scenario runs every case that is not ``plan`` and the ``plan`` cases marked
``end_to_end`` (one per tab of the web UI) against a node: refused, /etc unchanged, no secret shown.
"""

from __future__ import annotations

import functools
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
from ansible_collections.exchange_lb.appliance.plugins.module_utils._pairs import plan_in_inventory  # noqa: E402
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import PlanError  # noqa: E402
from ansible_collections.exchange_lb.appliance.plugins.module_utils._settings import SETTINGS  # noqa: E402


def group_vars() -> dict[str, t.Any]:
    return dict(load("molecule/bad_input/molecule.yml")["provisioner"]["inventory"]["group_vars"]["exchange_lb"])


@functools.cache
def corpus_nodes() -> dict[str, dict[str, t.Any]]:
    """The nodes of the scenario's inventory, as the plan action reads them (one host per case run there)."""
    nodes = {}
    for case in CASES:
        data = LOADER.load_from_file(str(case), trusted_as_template=True)
        if data.get("end_to_end", data["refused_by"] != "plan"):
            nodes[case.stem] = {**group_vars(), **data["vars"], "inventory_hostname_short": case.stem}
    return nodes


def plan_of(case: Path, settings: t.Mapping[str, t.Any]) -> t.Any:
    """What the plan action computes for the case's node in the scenario's inventory."""
    return plan_in_inventory(settings, CONTROLLER, corpus_nodes(), own=case.stem)


def settings_for(case: Path) -> dict[str, t.Any]:
    """``exchange_settings`` as the role computes it on a host of the corpus's inventory."""
    host = case.stem
    inventory = {
        **group_vars(),
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
            plan_of(case, settings)
        assert data["field"] in str(refused.value), f"expected the error to name {data['field']!r}, got: {refused.value}"
    elif data["refused_by"] == "argument_spec":
        # The argument spec refuses it first; the plan parses every field too, whatever the modes
        # (a disabled service's field included), and when it refuses, it names the same field.
        try:
            plan_of(case, settings)
        except PlanError as error:
            assert SETTINGS[data["field"].removeprefix("exchange_")].field in str(error), str(error)
    else:
        plan_of(case, settings)  # accepted: the certificate check or the host refuses it
