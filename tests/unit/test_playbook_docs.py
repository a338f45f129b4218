"""docs/playbooks/ has one current page per playbook (tools/gen_playbook_docs.py),
and every local link of README.md and docs/*.md points at a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

from source_loader import load_source

ROOT = Path(__file__).resolve().parents[2]
gen = load_source("tools/gen_playbook_docs.py")


def test_one_current_page_per_playbook() -> None:
    pages = gen.pages()
    assert set(pages) == {f"{p.stem}.md" for p in (ROOT / "playbooks").glob("*.yml")} | {"README.md"}
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "docs" / "playbooks").glob("*.md")}
    assert on_disk == pages, "run tools/gen_playbook_docs.py"


def test_local_links_resolve() -> None:
    for doc in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to missing {target}"


def test_a_description_given_as_one_string_is_one_paragraph() -> None:
    # argument specs allow both; a string joined as a list came out letter-spaced ("H o w   l o n g")
    assert gen.paragraphs("How long the D/s prompt waits.") == ["How long the D/s prompt waits."]
    assert gen.paragraphs(["First paragraph.", "Second one."]) == ["First paragraph.", "Second one."]
    assert gen.paragraphs(None) == []


def test_the_variables_are_where_the_docs_site_renders_them() -> None:
    # the role's options are rendered once, by antsibull-docs (make docs-site) and ansible-doc, not restated here
    page = gen.pages()["firstboot.md"]
    assert "ansible-doc -t role exchange_lb.appliance.firstboot" in page
    assert ".build/docsite/build/html/collections/exchange_lb/appliance/firstboot_role.html" in page
    assert "| `firstboot_tty` |" not in page
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "\ndocs-site: venv\n" in makefile and "DOCSITE := .build/docsite\n" in makefile


def test_no_page_is_letter_spaced() -> None:
    for page, text in gen.pages().items():
        assert not re.search(r"\b(?:\w ){3}  \w", text), f"{page}: letter-spaced text"
