"""docs/getting-started.md as a new site follows it: the controller gets ansible-core and the
collection's runtime Python packages only (every third-party import of the plugins, and passlib
for the password hashes), the example inventory is valid and sets exchange_admin_networks, the
certificates live outside the inventory folder, and the CAS servers' static ports come before
site.yml."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
SECTION = DOC[DOC.index("## 2. A real appliance VM"):]


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"^ *```{kind}\n(.*?)^ *```", SECTION, re.M | re.S)


def _pip_names() -> set[str]:
    line = next(line for block in _blocks("sh") for line in block.splitlines() if line.startswith("pip install"))
    assert "-r" not in line.split(), "the controller installs named packages, not a requirements file of the CI"
    return {re.split(r"[<>=!~ ]", word.strip('"'), maxsplit=1)[0] for word in line.split()[2:]}


def test_the_controller_gets_the_runtime_packages_only() -> None:
    """ansible-core and the collection's own runtime list (meta/ee-requirements.txt), pywinrm aside (the CAS playbook's)."""
    names = _pip_names()
    runtime = {re.split(r"[<>=!~ ]", line.split("#", 1)[0].strip(), maxsplit=1)[0].lower()
               for line in (ROOT / "meta" / "ee-requirements.txt").read_text(encoding="utf-8").splitlines()
               if line.split("#", 1)[0].strip()}
    assert names == {"ansible-core"} | (runtime - {"pywinrm"}), names
    line = next(line for block in _blocks("sh") for line in block.splitlines() if line.startswith("pip install"))
    assert "<" not in line, "no upper bounds (meta/ee-requirements.txt has none)"


def test_every_third_party_import_of_the_plugins_is_installed() -> None:
    imported = set()
    for path in (ROOT / "plugins").rglob("*.py"):
        imported |= set(re.findall(r"^\s*(?:from|import) ([A-Za-z_]\w*)", path.read_text(encoding="utf-8"), re.M))
    third_party = imported - set(sys.stdlib_module_names) - {"__future__", "ansible", "ansible_collections"}
    assert third_party <= _pip_names(), third_party - _pip_names()


def test_the_example_inventory_sets_the_admin_networks_and_keeps_certificates_out_of_it() -> None:
    group_vars = next(yaml.safe_load(block) for block in _blocks("yaml") if "inventory/group_vars/exchange_lb.yml" in block)
    assert group_vars["exchange_admin_networks"]
    spec = yaml.safe_load((ROOT / "roles" / "exchange" / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    options = set(spec["argument_specs"]["main"]["options"]) | set(spec["argument_specs"]["passwords"]["options"])
    assert set(group_vars) <= options, set(group_vars) - options
    certificate = group_vars["exchange_http_certificate"]
    assert certificate.startswith("{{ inventory_dir }}/../"), "a certificate under the inventory folder is read as inventory"
    assert "exchange_admin_networks" in (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")


def test_the_static_rpc_ports_are_a_numbered_step_before_site() -> None:
    apply = SECTION[SECTION.index("### Apply it"):SECTION.index("### Check it")]
    steps = re.findall(r"^(\d+)\. (.*)$", apply, re.M)
    assert [number for number, _text in steps] == [str(n) for n in range(1, len(steps) + 1)]
    assert "static RPC ports" in steps[0][1]
    assert apply.index("exchange_lb.appliance.exchange_static_ports") < apply.index("exchange_lb.appliance.site")


def test_the_collection_installs_from_a_tarball_or_a_git_tag() -> None:
    commands = "\n".join(_blocks("sh"))
    assert re.search(r"ansible-galaxy collection install exchange_lb-appliance-[\d.]+\.tar\.gz", commands)
    assert re.search(r"ansible-galaxy collection install git\+https://\S+\.git,[\d.]+", commands)
