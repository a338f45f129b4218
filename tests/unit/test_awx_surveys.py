"""The AWX surveys (awx/surveys/) and the roles' argument specs agree, so they cannot drift:
every survey variable is an option of the spec of the role (and entry point) its job
template runs, with a compatible type, the same choices and the spec's integer bounds
("An integer from <low> to <high>." in the option's description). No question asks a
secret (no_log in the spec) or a file (type path): those come from AWX credentials
(tests/unit/test_awx_credential_types.py). No question has a default and no text question
takes an empty answer, so a blank answer never overrides the inventory: the description
names the role's default instead."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AWX = ROOT / "awx"
BOUNDS = re.compile(r"\b[Aa]n integer from (-?\d+) to (-?\d+)\b")
AWX_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
# Apply configuration: WUI fields a survey answer cannot set, because its answer would go
# to every node at once (each node has its own) or the web UI did not let it change.
PER_NODE_OR_FIXED = {"exchange_network_hostname", "exchange_network_address", "exchange_ha_role",
                     "exchange_rpc_endpoint_mapper_port"}
# Options of the other jobs' specs no survey asks, and why.
NOT_ASKED = {
    # a list of inventory names: a text answer reaches the role as one string; AWX's Limit narrows the nodes
    "exchange_services_nodes",
    # Exchange's endpoint mapper stays on 135; the static ports survey need not ask it
    "exchange_rpc_endpoint_mapper_port",
}

# Paths a survey may ask: where a job writes, not a file it reads (which would have to be in the
# project's git checkout). Backup and Restore: a directory the execution environment mounts.
OUTPUT_DIRECTORIES = {"exchange_backup_dir"}


def load(path: Path) -> t.Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


JOBS = load(AWX / "job_templates.yml")["exlb_awx_job_templates"]


def spec_of(job: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    specs = load(ROOT / "roles" / job["role"] / "meta" / "argument_specs.yml")["argument_specs"]
    options = dict(specs[job["entry_point"]]["options"] or {})
    # the passwords the main entry point reads are documented in an entry point of their own
    # (the options' check would render them as templates)
    if job["entry_point"] == "main" and "passwords" in specs:
        options.update(specs["passwords"]["options"])
    return options


def role_defaults(job: dict[str, t.Any]) -> dict[str, t.Any]:
    path = ROOT / "roles" / job["role"] / "defaults" / "main.yml"
    return (load(path) or {}) if path.exists() else {}


def survey_of(job: dict[str, t.Any]) -> dict[str, t.Any]:
    return load(AWX / "surveys" / job["survey"])


def bounds(option: dict[str, t.Any]) -> tuple[int, int] | None:
    found = {(int(a), int(b)) for a, b in BOUNDS.findall(" ".join(option.get("description") or []))}
    assert len(found) <= 1, option
    return found.pop() if found else None


def expected_default(option: dict[str, t.Any], value: t.Any) -> str | None:
    """The role's default as a question's description names it."""
    if value is None or value == "":
        return None
    if option.get("type") == "bool":
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def test_every_job_template_runs_its_roles_entry_point() -> None:
    assert {job["name"] for job in JOBS} >= {"Apply configuration", "Services", "Information", "Backup", "Restore",
                                             "CAS maintenance", "Exchange static ports"}
    assert len({job["survey"] for job in JOBS}) == len(JOBS) == len(list((AWX / "surveys").glob("*.yml")))
    for job in JOBS:
        playbook = (ROOT / job["playbook"]).read_text(encoding="utf-8")
        assert f"exchange_lb.appliance.{job['role']}" in playbook, job["name"]
        if job["entry_point"] != "main":
            assert f"tasks_from: {job['entry_point']}" in playbook, job["name"]
        assert spec_of(job) is not None


@pytest.mark.parametrize("job", JOBS, ids=[job["name"] for job in JOBS])
def test_survey_agrees_with_the_argument_spec(job: dict[str, t.Any]) -> None:
    options = spec_of(job)
    defaults = role_defaults(job)
    survey = survey_of(job)
    assert survey["name"] == job["name"]
    variables = [question["variable"] for question in survey["spec"]]
    assert len(variables) == len(set(variables)), "a variable asked twice"
    for question in survey["spec"]:
        name = question["variable"]
        where = f"{job['survey']}: {name}"
        assert {"question_name", "variable", "type", "required"} <= set(question), where
        assert question["type"] in AWX_TYPES, where
        assert name in options, f"{where} is no option of {job['role']}:{job['entry_point']}"
        option = options[name]
        kind = option.get("type", "str")
        qtype = question["type"]
        # secrets and files come from credentials, never from a survey answer (kept in the job's extra vars)
        assert qtype != "password" and not option.get("no_log"), f"{where}: a secret is a credential's field"
        assert kind != "path" or name in OUTPUT_DIRECTORIES, f"{where}: a file is a credential's file"
        if option.get("required"):
            assert question["required"] is True, f"{where}: required in the spec"
        if qtype == "multiplechoice":
            if kind == "bool":
                assert question["choices"] == ["true", "false"], where
            else:
                assert kind in ("str", "int") and "choices" in option, where
                assert question["choices"] == [str(choice) for choice in option["choices"]], where
        elif qtype == "multiselect":
            assert kind == "list" and question["choices"] == [str(c) for c in option["choices"]], where
        elif qtype == "integer":
            assert kind == "int" and "choices" not in option, where
            stated = bounds(option)
            assert stated, f"{where}: the spec states no 'An integer from <low> to <high>.'"
            assert (question["min"], question["max"]) == stated, where
        elif qtype == "float":
            assert kind == "float", where
        else:  # text, textarea, password
            # not a list: a text answer would reach the role as one string, unsplit
            assert kind in ("str", "path", "raw"), where
            assert "choices" not in option, f"{where}: a spec with choices needs multiple choice"
        # a default is sent on every launch (schedules, API calls) and would win over the inventory
        assert "default" not in question, f"{where}: a survey default overrides the inventory on every launch"
        if qtype in ("text", "textarea"):
            assert question.get("min", 0) >= 1, f"{where}: AWX sends a blank text answer with min 0 as an empty string"
        default = expected_default(option, defaults.get(name, option.get("default")))
        if not question["required"]:
            note = ("Left blank, the inventory's value stays (else none)." if default is None
                    else f"Left blank, the inventory's value stays (else the role's default, {default}).")
            assert question["question_description"].endswith(note), f"{where}: the description does not end with {note!r}"


def test_apply_configuration_mirrors_every_wui_field_a_survey_can_hold() -> None:
    job = next(job for job in JOBS if job["name"] == "Apply configuration")
    asked = {question["variable"] for question in survey_of(job)["spec"]}
    for name, option in spec_of(job).items():
        first = (option.get("description") or [""])[0]
        on_a_tab = re.match(r"(Network|Config|Services|Setup) tab", first)
        if (on_a_tab and option.get("type") not in ("list", "dict", "path") and not option.get("no_log")
                and name not in PER_NODE_OR_FIXED):
            assert name in asked, f"{name} ({first[:60]}...) is missing from the survey"
    assert not asked & PER_NODE_OR_FIXED


def test_every_other_survey_asks_every_option_of_its_spec() -> None:
    for job in JOBS:
        if job["name"] == "Apply configuration":
            continue
        asked = {question["variable"] for question in survey_of(job)["spec"]}
        missing = set(spec_of(job)) - asked - NOT_ASKED
        assert not missing, f"{job['name']}: {missing}"
