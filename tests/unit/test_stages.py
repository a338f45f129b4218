"""tools/stages.py: the stages of `make test`, timed, their tests counted, a table at the end."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("stages", ROOT / "tools" / "stages.py")
assert SPEC and SPEC.loader
stages = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(stages)


@pytest.mark.parametrize(("text", "expected"), [
    ("382 passed in 10.78s\n", {"passed": 382}),
    ("===== 12 passed, 1 failed, 2 warnings in 206.35s (0:03:26) =====", {"passed": 12, "failed": 1}),
    # molecule's verifier, coloured, with its box prefix; a scenario that verifies twice counts twice
    ("  \x1b[2m│\x1b[0m ============ 22 passed in 90.1s ====\n  │ ======= 21 passed, 1 skipped in 88.0s ==\n",
     {"passed": 43, "skipped": 1}),
    ("==== 1 error in 0.2s ====", {"error": 1}),
    # a line that only mentions a count is no closing line
    ("ok: 3 passed in 1s of the tasks\nchanged=3 passed in 2s", {}),
    ("PLAY RECAP\nlb1 : ok=3 changed=0\n", {}),
])
def test_counts_read_pytest_closing_lines(text: str, expected: dict[str, int]) -> None:
    assert stages.counts(text) == expected


def test_a_stage_is_timed_counted_and_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(stages, "RECORD", tmp_path / "stages.jsonl")
    monkeypatch.setattr(stages, "LOGS", tmp_path / "logs")
    ok = stages.run("unit", [sys.executable, "-c", "print('5 passed in 0.1s')"])
    bad = stages.run("lint", [sys.executable, "-c", "import sys; print('==== 1 failed, 2 passed in 0.3s ===='); sys.exit(3)"])
    assert (ok, bad) == (0, 3)
    entries = [json.loads(line) for line in (tmp_path / "stages.jsonl").read_text().splitlines()]
    assert [(e["stage"], e["rc"], e["tests"]) for e in entries] == [
        ("unit", 0, {"passed": 5}), ("lint", 3, {"failed": 1, "passed": 2})]
    capsys.readouterr()
    stages.report()
    table = capsys.readouterr().out
    assert "unit" in table and "lint" in table and "FAILED (rc 3)" in table
    assert table.rstrip().splitlines()[-1] == "7 passed, 1 failed"


def test_lanes_run_each_lane_in_order_side_by_side_and_stop_starting_after_a_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stages, "RECORD", tmp_path / "stages.jsonl")
    monkeypatch.setattr(stages, "LOGS", tmp_path / "logs")
    groups = stages.parse_lanes(["a=sleep 0.3; echo '1 passed in 0.1s'", "b=echo '2 passed in 0.1s'", "::", "c=true"])
    assert groups == [[("a", "sleep 0.3; echo '1 passed in 0.1s'"), ("b", "echo '2 passed in 0.1s'")], [("c", "true")]]
    assert stages.lanes(groups) == 0
    entries = [json.loads(line) for line in (tmp_path / "stages.jsonl").read_text().splitlines()]
    assert [e["stage"] for e in entries] == ["c", "a", "b"]  # c ended first: the lanes ran side by side
    by_name = {e["stage"]: e for e in entries}
    assert by_name["b"]["started"] >= by_name["a"]["started"] + by_name["a"]["seconds"] - 0.05  # a lane keeps its order
    assert by_name["b"]["tests"] == {"passed": 2}
    (tmp_path / "stages.jsonl").unlink()
    assert stages.lanes(stages.parse_lanes(["x=exit 4", "y=true"])) == 1
    ran = [json.loads(line)["stage"] for line in (tmp_path / "stages.jsonl").read_text().splitlines()]
    assert ran == ["x"]


def test_a_lane_word_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match="NAME=SHELL-COMMAND"):
        stages.parse_lanes(["operations"])
    assert stages.main(["lanes", "=true"]) == 2
