"""What the built collection tarball ships besides the code: the licence galaxy.yml names, the
contributor and security notes. The file list is ansible-galaxy's own (the code
`ansible-galaxy collection build` uses), so a build_ignore pattern that drops one fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.galaxy.collection import _build_files_manifest
from ansible.galaxy.collection.concrete_artifact_manager import _get_meta_from_src_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def meta() -> dict:
    return _get_meta_from_src_dir(str(ROOT).encode())


@pytest.fixture(scope="module")
def shipped(meta: dict) -> set[str]:
    manifest = _build_files_manifest(
        str(ROOT).encode(), meta["namespace"], meta["name"], meta["build_ignore"], meta["manifest"], meta["license_file"]
    )
    return {entry["name"] for entry in manifest["files"]}


def test_galaxy_names_its_licence_one_way_only(meta: dict) -> None:
    # galaxy.yml: license (SPDX identifiers) and license_file are mutually exclusive
    assert meta["license"] == ["GPL-3.0-or-later"]
    assert not meta["license_file"]


def test_the_licence_text_ships_in_the_tarball(shipped: set[str]) -> None:
    assert "COPYING" in shipped
    text = (ROOT / "COPYING").read_text(encoding="utf-8")
    assert text.lstrip().startswith("GNU GENERAL PUBLIC LICENSE")
    assert "Version 3, 29 June 2007" in text
    assert "END OF TERMS AND CONDITIONS" in text


@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md", "SECURITY.md"])
def test_the_notes_for_users_ship_in_the_tarball(shipped: set[str], name: str) -> None:
    assert name in shipped


def test_the_security_notes_say_how_to_report_and_what_happens_to_secrets() -> None:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    for heading in ("## Reporting a vulnerability", "## Supported versions", "## What the collection does with secrets"):
        assert heading in text, heading


def test_the_contributor_notes_name_the_checks_they_ask_for() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for command in ("make lint unit sanity", "make test", "tools/gen_settings.py", "changelogs/fragments/"):
        assert command in text, command


def _collections(path: Path) -> set[str]:
    import yaml

    return {entry["name"] for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["collections"]}


def _used_in(*folders: str) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for folder in folders for p in (ROOT / folder).rglob("*.yml"))


def test_a_site_installs_only_the_collections_the_collection_uses() -> None:
    # requirements.yml is for sites: every collection in it is used by a role or playbook the tarball ships
    shipped = _used_in("roles", "playbooks")
    for name in _collections(ROOT / "requirements.yml"):
        assert f"{name}." in shipped, f"requirements.yml: {name} is used by no role or playbook"


def test_the_lab_installs_its_own_collections() -> None:
    lab = _collections(ROOT / "lab" / "requirements.yml")
    assert lab == {"containers.podman"}
    assert not lab & _collections(ROOT / "requirements.yml")
    assert "containers.podman." in _used_in(".config/molecule")
