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
