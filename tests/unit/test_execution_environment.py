"""execution-environment.yml is a well-formed ansible-builder 3 definition, and the collection's own
meta/execution-environment.yml names the Python and system packages it really needs.

The file is checked against the execution-environment JSON schema that ansible-lint
ships (the one `ansible-lint` applies to it as well), every file it points to must
exist, and `ansible-builder create` (offline) turns it into a build context with the
collection's own tarball. `build` itself needs a base image and Galaxy (docs/awx.md).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import ansiblelint
import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
EE_FILE = ROOT / "execution-environment.yml"


def _ee() -> dict:
    return yaml.safe_load(EE_FILE.read_text(encoding="utf-8"))


def _names(requirement_lines: list[str]) -> set[str]:
    names = set()
    for line in requirement_lines:
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower())
    return names


def test_definition_matches_the_ansible_builder_v3_schema() -> None:
    schema_file = Path(ansiblelint.__file__).parent / "schemas" / "execution-environment.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    ee = _ee()
    jsonschema.validate(ee, schema)
    assert ee["version"] == 3
    # v3 only: jsonschema above would also accept a v1 file.
    jsonschema.validate(ee, {**schema["$defs"]["v3"], "$defs": schema["$defs"]})


def test_base_image_names_no_registry_host() -> None:
    """The project never writes a registry's host name: the user passes EE_BASE_IMAGE."""
    name = _ee()["images"]["base_image"]["name"]
    first = name.split("/", 1)[0]
    assert "." not in first and ":" not in first, name


def test_every_dependency_file_exists_and_parses() -> None:
    deps = _ee()["dependencies"]
    assert (ROOT / deps["galaxy"]).is_file(), deps["galaxy"]
    galaxy = yaml.safe_load((ROOT / deps["galaxy"]).read_text(encoding="utf-8"))
    assert set(galaxy) == {"collections"}
    for entry in galaxy["collections"]:
        assert set(entry) <= {"name", "version", "type", "source"}, entry
    # the collection's own needs are its meta/execution-environment.yml's, not the EE's
    assert "python" not in deps and "system" not in deps, "the collection's needs live in meta/"
    meta = _meta_ee()
    for key in ("python", "system"):
        assert (ROOT / meta["dependencies"][key]).is_file(), meta["dependencies"][key]


def _meta_ee() -> dict:
    return yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text(encoding="utf-8"))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:2])


def test_the_ee_declares_an_ansible_core_and_python_the_collection_runs_on() -> None:
    """ansible-core >= the collection's minimum (meta/runtime.yml), on a Python that core supports."""
    deps = _ee()["dependencies"]
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text(encoding="utf-8"))
    minimum = re.fullmatch(r">=\s*([\d.]+)", runtime["requires_ansible"].strip())
    assert minimum, f"requires_ansible has a lower bound only (no cap): {runtime['requires_ansible']}"
    core = re.fullmatch(r"ansible-core>=([\d.]+)", deps["ansible_core"]["package_pip"])
    assert core and _version(core.group(1)) >= _version(minimum.group(1)), deps["ansible_core"]
    assert deps["ansible_runner"]["package_pip"].startswith("ansible-runner")
    assert _version(deps["python_interpreter"]["python_path"].rsplit("python", 1)[1]) >= (3, 11)


def test_galaxy_requirements_carry_the_collection_and_its_dependencies() -> None:
    ee = _ee()
    galaxy_yml = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
    wanted = yaml.safe_load((ROOT / ee["dependencies"]["galaxy"]).read_text(encoding="utf-8"))["collections"]
    by_name = {entry["name"]: entry for entry in wanted}
    # galaxy.yml's dependencies, the Windows modules of exchange_static_ports, and awx.awx for awx/setup.yml
    roles_use = {
        match.group(1)
        for path in (ROOT / "roles").rglob("*.yml")
        for match in re.finditer(r"^\s*-?\s*(\w+\.\w+)\.\w+:", path.read_text(encoding="utf-8"), re.M)
    } - {"ansible.builtin", "exchange_lb.appliance"}
    assert {"ansible.windows", "community.windows"} <= roles_use
    for name in [*galaxy_yml["dependencies"], *roles_use, "awx.awx"]:
        assert name in by_name, f"{name} missing from {ee['dependencies']['galaxy']}"
    tarball = f"collections/{galaxy_yml['namespace']}-{galaxy_yml['name']}-{galaxy_yml['version']}.tar.gz"
    assert by_name[tarball]["type"] == "file", "the EE installs the tarball `make build` makes"
    # ... which additional_build_files copies into _build/collections
    files = ee["additional_build_files"]
    assert any(
        f["dest"] == "collections" and fnmatch.fnmatch(Path(tarball).name, Path(f["src"]).name) for f in files
    ), files


def test_python_requirements_cover_what_the_collection_imports() -> None:
    lines = (ROOT / _meta_ee()["dependencies"]["python"]).read_text(encoding="utf-8").splitlines()
    ee_python = _names(lines)
    imported = set()
    for source in (ROOT / "plugins").rglob("*.py"):
        for match in re.finditer(r"^\s*(?:from|import) (\w+)", source.read_text(encoding="utf-8"), re.M):
            imported.add(match.group(1))
    third_party = imported - {"ansible", "ansible_collections", "__future__"} - set(sys.stdlib_module_names)
    assert third_party, "the collection imports third-party packages (cryptography)"
    assert third_party <= ee_python, f"missing from the EE: {third_party - ee_python}"
    # password_hash (haproxy role) needs passlib; WinRM to the CAS servers needs pywinrm
    assert {"passlib", "pywinrm"} <= ee_python
    # lower bounds only, as community collections declare them: a cap breaks the next release's EE
    for line in lines:
        requirement = line.split("#", 1)[0].strip()
        assert not re.search(r"<|==|~=", requirement), f"an upper bound in meta/ee-requirements.txt: {requirement}"
    # the development venv carries the same packages (pinned), so the unit tests run what sites get
    controller = _names((ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines())
    assert (ee_python - {"pywinrm"}) <= controller


def test_the_tarball_ships_the_collections_needs_and_not_the_development_pins(tmp_path: Path) -> None:
    """ansible-builder introspect, on the collection as installed from its tarball, finds exactly
    meta/ee-requirements.txt and meta/ee-bindep.txt; the CI toolchain (requirements-dev.txt) is not in it."""
    bin_dir = Path(sys.executable).parent
    built = subprocess.run(
        [str(bin_dir / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (tarball,) = tmp_path.glob("exchange_lb-appliance-*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert {"meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt"} <= names
    assert not {name for name in names if name.endswith(".txt") and "requirements" in name and not name.startswith("meta/ee-")}, names
    installed = subprocess.run(
        [str(bin_dir / "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force", "-p",
         str(tmp_path / "collections"), str(tarball)],
        # not this checkout's ansible.cfg, whose collections path already holds the collection (a link)
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    introspected = subprocess.run(
        [str(bin_dir / "ansible-builder"), "introspect", "--sanitize", str(tmp_path / "collections")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert introspected.returncode == 0, introspected.stdout + introspected.stderr
    found = yaml.safe_load(introspected.stdout)
    python = _names(found["python"])
    wanted = _names((ROOT / "meta" / "ee-requirements.txt").read_text(encoding="utf-8").splitlines())
    assert python == wanted, found
    assert any(line.startswith("openssh-client") for line in found["system"]), found


def test_ansible_builder_makes_a_build_context_with_the_collection_tarball(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    project = tmp_path / "project"
    shutil.copytree(ROOT / "ee", project / "ee", ignore=shutil.ignore_patterns("*.tar.gz"))
    shutil.copy(EE_FILE, project / "execution-environment.yml")
    built = subprocess.run(
        [str(bin_dir / "ansible-galaxy"), "collection", "build", "--output-path", str(project / "ee"), str(ROOT)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    created = subprocess.run(
        [str(bin_dir / "ansible-builder"), "create", "-f", "execution-environment.yml", "--context", "context",
         "--output-filename", "Containerfile"],
        cwd=project, capture_output=True, text=True, timeout=120, check=False,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    build = project / "context" / "_build"
    tarballs = [path.name for path in (build / "collections").glob("exchange_lb-appliance-*.tar.gz")]
    assert tarballs == [f"exchange_lb-appliance-{yaml.safe_load((ROOT / 'galaxy.yml').read_text())['version']}.tar.gz"]
    assert "collections/" + tarballs[0] in (build / "requirements.yml").read_text(encoding="utf-8")
    containerfile = (project / "context" / "Containerfile").read_text(encoding="utf-8")
    assert "ansible-galaxy collection install" in containerfile and "FROM $EE_BASE_IMAGE" in containerfile
