"""Every message docs/troubleshooting.md explains (its `### \\`...\\`` headings) is one
the code still produces: each literal piece between `<...>` placeholders occurs in
the collection's plugins or roles (or, for ansible-core's own, in ansible-core)."""

from __future__ import annotations

import re
from pathlib import Path

import ansible

ROOT = Path(__file__).resolve().parents[2]
# Messages that come from ansible-core, not from this collection.
CORE = {"Validation of arguments failed": Path(ansible.__file__).parent / "plugins" / "action" / "validate_argument_spec.py"}


def normalised(text: str) -> str:
    # adjacent Python string literals ("a " f"b") and YAML line folding read as one text
    text = re.sub(r"\"\s*\n\s*f?\"", "", text)
    text = re.sub(r"'\s*~\s*'", "", text)
    return re.sub(r"\s+", " ", text)


def source() -> str:
    files = [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "roles").rglob("*.yml")]
    return "\n".join(normalised(path.read_text(encoding="utf-8")) for path in files)


def messages() -> list[str]:
    doc = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    return [span for heading in re.findall(r"^### (.+)$", doc, re.M) for span in re.findall(r"`([^`]+)`", heading)]


def test_every_explained_message_is_produced_by_the_code() -> None:
    code = source()
    found = messages()
    assert len(found) > 30
    for message in found:
        if message in CORE:
            assert message in CORE[message].read_text(encoding="utf-8"), message
            continue
        pieces = [piece for piece in re.split(r"<[^>]+>", message) if len(piece.strip()) >= 5]
        assert pieces, message
        for piece in pieces:
            assert piece in code, f"{piece!r} (from {message!r}) occurs nowhere in plugins/ or roles/"
