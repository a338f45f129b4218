"""docs/variables.md is generated from the WUI field map and the argument specs, and
every field mapped to a variable names one that a role really has."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from source_loader import load_source

ROOT = Path(__file__).resolve().parents[2]
gen = load_source("tools/gen_variables_doc.py")


def test_variables_doc_is_up_to_date() -> None:
    assert (ROOT / "docs" / "variables.md").read_text(encoding="utf-8") == gen.render(), "run tools/gen_variables_doc.py"


def test_every_mapped_variable_exists_and_every_field_has_a_home() -> None:
    options = gen.role_options()
    data = yaml.safe_load((ROOT / "docs" / "wui-fields-map.yml").read_text(encoding="utf-8"))
    for section in data["sections"]:
        for field in section["fields"]:
            assert field["home"] in ("variable", "output", "playbook", "n/a"), field
            assert field.get("status"), field
            if field["home"] == "n/a":
                assert len(field.get("reason", "")) > 20, f"{field['label']}: say why it does not apply"
            for name in gen.variables_of(field):
                assert name in options, f"{field['label']}: {name} is no role variable"


def test_the_failover_picture_is_drawn_from_its_data() -> None:
    chart = load_source("tools/failover_chart.py")
    data = yaml.safe_load(chart.DATA.read_text(encoding="utf-8"))
    assert chart.OUT.read_text(encoding="utf-8") == chart.render(data), "run tools/failover_chart.py"
    for fault in data["faults"]:
        for low, high in (fault.get("address_moved", [1, 1]), fault["client_gap"]):  # no address_moved: it stays
            assert 0 < low <= high, fault


def test_every_page_of_docs_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"


def test_no_doc_sends_the_reader_to_the_labs_private_notes() -> None:
    # "lab facts 3e", "facts pitfall 2": numbered notes a reader of the collection does not have
    for doc in sorted([*(ROOT / "docs").rglob("*.md"), *(ROOT / "docs").rglob("*.yml")]):
        text = doc.read_text(encoding="utf-8")
        assert not re.search(r"\bfacts (?:\d|pitfall)|\bpitfall \d", text), doc.relative_to(ROOT)


def test_the_certificate_module_says_where_it_reads_the_file() -> None:
    tree = ast.parse((ROOT / "plugins" / "modules" / "certificate.py").read_text(encoding="utf-8"))
    doc = yaml.safe_load(next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                              and getattr(node.targets[0], "id", "") == "DOCUMENTATION"))
    assert doc["options"]["remote_src"]["default"] is False
    for text in [*doc["description"], *doc["notes"]]:
        if "managed host" in text:
            assert "O(remote_src=true)" in text and "controller" in text, text
