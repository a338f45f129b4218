"""A tiny PNG bar chart (zlib + struct, a 5x7 bitmap font): the same bars as the SVG chart."""

from __future__ import annotations

import struct
import zlib

# 5x7 glyphs, one string of 7 rows of 5 bits per character (lower case is drawn as upper case)
FONT = {
    "A": "01110 10001 10001 11111 10001 10001 10001", "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110", "D": "11110 10001 10001 10001 10001 10001 11110",
    "E": "11111 10000 10000 11110 10000 10000 11111", "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111", "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110", "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001", "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001", "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110", "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101", "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110", "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110", "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010", "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 01010 00100 00100 00100 00100", "Z": "11111 00001 00010 00100 01000 10000 11111",
    "0": "01110 10001 10011 10101 11001 10001 01110", "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111", "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010", "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110", "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110", "9": "01110 10001 10001 01111 00001 00010 01100",
    " ": "00000 00000 00000 00000 00000 00000 00000", ".": "00000 00000 00000 00000 00000 01100 01100",
    "-": "00000 00000 00000 11111 00000 00000 00000", ":": "00000 01100 01100 00000 01100 01100 00000",
    "/": "00001 00010 00010 00100 01000 01000 10000", "(": "00010 00100 01000 01000 01000 00100 00010",
    ")": "01000 00100 00010 00010 00010 00100 01000", "<": "00010 00100 01000 10000 01000 00100 00010",
    ">": "01000 00100 00010 00001 00010 00100 01000", "=": "00000 00000 11111 00000 11111 00000 00000",
    ",": "00000 00000 00000 00000 01100 00100 01000", "%": "11001 11010 00010 00100 01000 01011 10011",
    "'": "00100 00100 01000 00000 00000 00000 00000", "_": "00000 00000 00000 00000 00000 00000 11111",
    "&": "01100 10010 10100 01000 10101 10010 01101", "+": "00000 00100 00100 11111 00100 00100 00000",
    "?": "01110 10001 00001 00010 00100 00000 00100",
}
Colour = tuple[int, int, int]


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.px = bytearray(b"\xff" * (width * height * 3))

    def rect(self, x0: int, y0: int, x1: int, y1: int, c: Colour) -> None:
        for y in range(max(y0, 0), min(y1, self.h)):
            row = y * self.w * 3
            for x in range(max(x0, 0), min(x1, self.w)):
                self.px[row + 3 * x:row + 3 * x + 3] = bytes(c)

    def text(self, x: int, y: int, s: str, c: Colour = (0, 0, 0), scale: int = 2, right: bool = False) -> None:
        if right:
            x -= len(s) * 6 * scale
        for ch in s:
            glyph = FONT.get(ch.upper(), FONT["?"])
            for r, bits in enumerate(glyph.split()):
                for col, bit in enumerate(bits):
                    if bit == "1":
                        self.rect(x + col * scale, y + r * scale, x + (col + 1) * scale, y + (r + 1) * scale, c)
            x += 6 * scale

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3]) for y in range(self.h))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def bar_chart_png(title: str, bars: list[tuple[str, float, float | None]], unit: str = "x") -> bytes:
    """Horizontal bars (label, value, target); a red mark at the target; orange when the target is missed."""
    left, right, top, row, width = 420, 150, 50, 34, 1000
    limit = max([b[1] for b in bars] + [b[2] or 0 for b in bars] + [1e-9])
    plot = width - left - right
    cv = Canvas(width, top + row * len(bars) + 30)
    cv.text(12, 14, title[:80], scale=2)

    def x(v: float) -> int:
        return int(left + plot * v / limit)

    for i, (label, value, target) in enumerate(bars):
        y = top + row * i
        ok = target is None or (value >= target if unit == "x" else value <= target)
        cv.text(left - 10, y + 6, label[:33], right=True)
        cv.rect(left, y + 2, max(x(value), left + 1), y + 24, (74, 127, 181) if ok else (217, 130, 43))
        cv.text(x(value) + 6, y + 6, f"{value:.3g} {unit}")
        if target is not None:
            cv.rect(x(target) - 1, y - 2, x(target) + 2, y + 28, (187, 0, 0))
    cv.text(left, cv.h - 20, "red mark: target. orange: missed", (85, 85, 85), scale=1)
    return cv.png()
