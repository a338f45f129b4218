"""The release notes: changelogs/changelog.yaml holds the released versions (antsibull-changelog's
own linter accepts it), CHANGELOG.rst is what antsibull-changelog writes from it, the pending
fragments lint, and every plugin says it was added in a version that was released."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from antsibull_changelog.lint import lint_changelog_yaml

ROOT = Path(__file__).resolve().parents[2]
CHANGELOG = ROOT / "changelogs" / "changelog.yaml"
BIN = Path(sys.executable).parent


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    # antsibull-changelog finds ansible-doc on PATH: the venv's, as make runs it
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(BIN / "antsibull-changelog"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)


def _releases() -> dict:
    return yaml.safe_load(CHANGELOG.read_text(encoding="utf-8"))["releases"]


def test_the_changelog_lints_strictly() -> None:
    assert lint_changelog_yaml(str(CHANGELOG), strict=True) == []


def test_1_0_0_is_released_with_a_summary() -> None:
    release = _releases()["1.0.0"]
    assert release["release_date"]
    assert release["changes"]["release_summary"].startswith("The first release")
    assert {module["name"] for module in release["modules"]} >= {"certificate", "plan", "network_config"}


def test_the_rst_changelog_is_generated_from_the_yaml(tmp_path: Path) -> None:
    out = tmp_path / "CHANGELOG.rst"
    result = _tool("generate", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert (ROOT / "CHANGELOG.rst").read_text(encoding="utf-8") == out.read_text(encoding="utf-8"), (
        "run antsibull-changelog release (or generate), do not edit CHANGELOG.rst")


def test_the_pending_fragments_lint() -> None:
    result = _tool("lint")
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr


PLUGIN_FILES = sorted(p for p in (ROOT / "plugins").glob("*/*.py") if p.parent.name in ("modules", "lookup", "filter")
                      and not p.name.startswith("_"))


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_plugin_was_added_in_a_released_version(path: Path) -> None:
    match = re.search(r"^version_added: (\S+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{path.name}: no version_added"
    assert match.group(1) in _releases(), f"{path.name}: version_added {match.group(1)} is no release in changelog.yaml"
