"""docs/architecture.svg is current, well-formed SVG, and its boxes neither overlap
nor cut their text (estimated at 7 px per character of the 11.5 px font)."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

from source_loader import load_source

ROOT = Path(__file__).resolve().parents[2]
gen = load_source("tools/gen_architecture_svg.py")
NS = "{http://www.w3.org/2000/svg}"


def test_picture_is_up_to_date_and_well_formed() -> None:
    text = (ROOT / "docs" / "architecture.svg").read_text(encoding="utf-8")
    assert text == gen.render(), "run tools/gen_architecture_svg.py"
    assert ET.fromstring(text).tag == f"{NS}svg"


def test_boxes_do_not_overlap_and_hold_their_text() -> None:
    root = ET.fromstring(gen.render())
    rects = [tuple(int(r.get(k)) for k in ("x", "y", "width", "height")) for r in root.iter(f"{NS}rect") if r.get("x")]  # not the background
    assert len(rects) >= 10
    for (x1, y1, w1, h1), (x2, y2, w2, h2) in itertools.combinations(rects, 2):
        assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1, ((x1, y1), (x2, y2))
    for text in root.iter(f"{NS}text"):
        x, y = int(text.get("x")), int(text.get("y"))
        inside = [r for r in rects if r[0] <= x <= r[0] + r[2] and r[1] <= y <= r[1] + r[3]]
        for rx, _ry, rw, _rh in inside:
            width = len(text.text or "") * (8 if text.get("class") == "t" else 6.2)
            assert x + width <= rx + rw + 2, text.text
