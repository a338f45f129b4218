#!/usr/bin/env python3
"""Draw docs/img/failover-timeline.svg from docs/data/failover.yml (no plotting library needed).

Usage: tools/failover_chart.py [--check]
--check exits 1 when the SVG is not what this script would write.
"""

from __future__ import annotations

import sys
import typing as t
from html import escape
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "docs" / "data" / "failover.yml"
OUT = ROOT / "docs" / "img" / "failover-timeline.svg"

LEFT, RIGHT, TOP, ROW, WIDTH = 250, 30, 60, 46, 820
COLOURS = {"address_moved": "#4a7fb5", "client_gap": "#d9822b"}
LEGEND = {"address_moved": "virtual address on the backup", "client_gap": "client without an answer"}


def render(data: dict[str, t.Any]) -> str:
    faults = data["faults"]
    limit = max(max(f.get("address_moved", [0, 0])[1], f["client_gap"][1]) for f in faults)
    scale_max = int(limit) + 1
    plot = WIDTH - LEFT - RIGHT
    height = TOP + ROW * len(faults) + 50

    def x(seconds: float) -> float:
        return LEFT + plot * seconds / scale_max

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}"'
        ' font-family="sans-serif" font-size="13">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{escape(data["title"])}</text>',
    ]
    for index, (key, label) in enumerate(LEGEND.items()):
        lx = LEFT + index * 260
        out.append(f'<rect x="{lx}" y="34" width="14" height="10" fill="{COLOURS[key]}"/>')
        out.append(f'<text x="{lx + 20}" y="44">{escape(label)}</text>')
    bottom = TOP + ROW * len(faults)
    for second in range(scale_max + 1):
        out.append(f'<line x1="{x(second):.1f}" y1="{TOP - 6}" x2="{x(second):.1f}" y2="{bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{x(second):.1f}" y="{bottom + 18}" text-anchor="middle">{second} s</text>')
    out.append(f'<line x1="{x(0):.1f}" y1="{TOP - 6}" x2="{x(0):.1f}" y2="{bottom}" stroke="#333"/>')
    for row, fault in enumerate(faults):
        y = TOP + ROW * row
        out.append(f'<text x="{LEFT - 10}" y="{y + 22}" text-anchor="end">{escape(fault["label"])}</text>')
        for offset, key in ((4, "address_moved"), (20, "client_gap")):
            if key not in fault:  # the address did not move
                out.append(f'<text x="{x(0) + 6:.1f}" y="{y + offset + 12}" font-size="11">address stays</text>')
                continue
            low, high = fault[key]
            out.append(f'<rect x="{x(0):.1f}" y="{y + offset}" width="{x(low) - x(0):.1f}" height="14" fill="{COLOURS[key]}" opacity="0.35"/>')
            out.append(f'<rect x="{x(low):.1f}" y="{y + offset}" width="{max(x(high) - x(low), 2):.1f}" height="14" fill="{COLOURS[key]}"/>')
            out.append(f'<text x="{x(high) + 6:.1f}" y="{y + offset + 12}" font-size="11">{low:.2f}-{high:.2f} s</text>')
    out.append(f'<text x="{LEFT}" y="{bottom + 38}" font-size="11" fill="#555">pale: until the first run; solid: spread over the runs</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> int:
    text = render(yaml.safe_load(DATA.read_text(encoding="utf-8")))
    if "--check" in sys.argv[1:]:
        return 0 if OUT.exists() and OUT.read_text(encoding="utf-8") == text else 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
