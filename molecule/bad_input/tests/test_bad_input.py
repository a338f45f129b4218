"""The corpus of bad configurations (tests/bad_input/cases), against a node that
serves a good one: every case is refused with an error naming its field, before
anything under /etc changes; no password shows, even with -vvv; the node keeps
serving its configuration.

Here run: every case that a node must prove (refused by the certificate check, by
the port check on the host, by the role's argument spec) and one plan refusal per
tab of the web UI (``end_to_end: true``). The plan's other refusals are proved for
every case, by field, in the unit tier (tests/unit/test_bad_input_cases.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # molecule/: the shared clients
from clients import assert_check_mode_is_clean, lab_ssh  # noqa: E402

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
SCENARIO = Path(__file__).resolve().parents[1]
ALL_CASES = sorted((PROJECT / "tests" / "bad_input" / "cases").glob("*.yml"))
CONTAINER = "exlb-mol-bad-lb1"
NODE = "10.89.60.45"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def end_to_end(case: Path) -> bool:
    data = load(case)
    return bool(data.get("end_to_end", data["refused_by"] != "plan"))


CASES = [case for case in ALL_CASES if end_to_end(case)]


def base_vars() -> dict[str, Any]:
    return dict(load(SCENARIO / "molecule.yml")["provisioner"]["inventory"]["group_vars"]["exchange_lb"])


def etc_checksums() -> str:
    return subprocess.run(
        ["podman", "exec", CONTAINER, "sh", "-c", "find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout


def run_corpus(tmp: Path, *extra: str, callback: str = "default") -> subprocess.CompletedProcess[str]:
    hosts = {}
    for case in CASES:
        hosts[case.stem] = {
            **lab_ssh(NODE),  # as the scenario's own inventory reaches it
            **base_vars(),
            **load(case)["vars"],
        }
    inventory = tmp / "corpus.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"exchange_lb": {"hosts": hosts}}}}), encoding="utf-8")
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(PROJECT / ".build" / "collections"),
        ANSIBLE_STDOUT_CALLBACK=callback,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORKS="10",
        ANSIBLE_HOST_KEY_CHECKING="0",
    )
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(PROJECT / ".config" / "molecule" / "converge.yml"), *extra],
        capture_output=True, text=True, timeout=900, env=env, check=False,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("corpus")
    before = etc_checksums()
    as_json = run_corpus(tmp, callback="ansible.posix.json")
    verbose = run_corpus(tmp, "-vvv")
    after = etc_checksums()
    report = json.loads(as_json.stdout[as_json.stdout.index("{"):])
    failures: dict[str, str] = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed") and host not in failures:
                    items = [item for item in result.get("results", []) if item.get("failed")]
                    messages = [str(item.get("msg", "")) for item in (items or [result])]
                    failures[host] = "\n".join([*messages, *map(str, result.get("argument_errors") or [])])
    return {"failures": failures, "stats": report["stats"], "before": before, "after": after,
            "text": as_json.stdout + as_json.stderr + verbose.stdout + verbose.stderr}


def test_the_corpus_is_large_enough_and_every_mechanism_runs_here() -> None:
    assert len(ALL_CASES) >= 60
    assert {load(case)["refused_by"] for case in CASES} == {"plan", "certificate", "host", "argument_spec"}


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_bad_configuration_is_refused_naming_the_field(corpus: dict[str, Any], case: Path) -> None:
    expected = load(case)["field"]
    message = corpus["failures"].get(case.stem)
    assert message is not None, f"{case.stem} was not refused: {corpus['stats'].get(case.stem)}"
    assert expected in message, f"{case.stem}: expected the error to name {expected!r}, got:\n{message}"
    assert corpus["stats"][case.stem]["changed"] == 0


def test_nothing_under_etc_changed(corpus: dict[str, Any]) -> None:
    assert corpus["before"] == corpus["after"]


def test_no_password_shows_even_with_vvv(corpus: dict[str, Any]) -> None:
    secrets = {"labpfx"}
    for case in CASES:
        secrets |= {str(v) for k, v in load(case)["vars"].items() if k.endswith("password") and v}
    leaked = sorted(secret for secret in secrets if secret in corpus["text"])
    assert not leaked, f"secrets in the output: {leaked}"


def test_the_node_still_serves_its_good_configuration(corpus: dict[str, Any]) -> None:
    answer = subprocess.run(
        ["curl", "-sS", "-D", "-", "--cacert", os.environ["LAB_CA_CERT"], "--resolve", f"mail.mydomain.local:443:{NODE}",
         "https://mail.mydomain.local/owa/"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout
    assert answer.startswith("HTTP/1.1 200"), answer
    assert "x-served-by: cas" in answer.lower(), answer


def test_the_node_is_still_converged_in_check_mode(corpus: dict[str, Any]) -> None:
    """Last, after the corpus (the fixture: its runs are over): the scenario's own inventory in check mode
    shows no pending change on the node (molecule/clients.py). The corpus's runs, refused before
    anything changed, left the node as converge left it: nothing under /etc (above), and nothing else
    the roles manage either (a service stopped, a package, a file mode); and check mode is honest on a
    converged node. This scenario has no idempotence step: this is its second run of the site playbook."""
    assert_check_mode_is_clean()
