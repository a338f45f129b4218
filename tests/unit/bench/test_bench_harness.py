"""The bench harness's own pieces, against real tools of this host (no appliance needed)."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

import bench  # noqa: E402
import common  # noqa: E402


def test_openssl_speed_output_is_understood() -> None:
    """The line bench.py reads from `openssl speed` (the host's OpenSSL) gives a plausible sign rate."""
    out = subprocess.run(["openssl", "speed", "-seconds", "1", "ecdsap256"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    signs = bench.parse_speed(out, "ecdsa")
    assert 100 < signs < 10_000_000


def test_a_missing_speed_line_is_an_error() -> None:
    with pytest.raises(common.BenchError, match="no rsa line"):
        bench.parse_speed("nothing here\n", "rsa")


def test_recovery_is_measured_from_the_fault_to_the_first_answer_after_the_last_failure(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "ctx", ssl.create_default_context)
    probe = bench.Prober("127.0.0.1", threads=0)
    t0 = time.monotonic()
    probe.samples = [(t0 - 1, t0 - 0.9, True), (t0 + 0.1, t0 + 0.4, False), (t0 + 0.5, t0 + 0.8, False),
                     (t0 + 0.9, t0 + 1.0, True), (t0 + 1.1, t0 + 1.2, True)]
    assert probe.recovery_after(t0) == pytest.approx(1.0)
    assert probe.failed == 2
    probe.samples = [(t0 + 0.1, t0 + 0.2, True)]
    assert probe.recovery_after(t0) == 0.0


def test_a_prober_needs_the_lab_ca_and_says_so_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without the lab's PKI (a fresh clone before `lab up`) the prober fails in the caller, not in a thread."""
    monkeypatch.setattr(bench.app, "PKI", tmp_path)
    with pytest.raises(FileNotFoundError):
        bench.Prober("127.0.0.1", threads=1)


def test_a_prober_against_a_closed_port_counts_failures_and_stops_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "ctx", ssl.create_default_context)   # no lab PKI needed: nothing answers
    started = time.monotonic()
    with bench.Prober("127.0.0.1", threads=1, interval=0.01, timeout=0.2, max_seconds=0.5) as probe:
        time.sleep(0.3)
    assert time.monotonic() - started < 3
    assert probe.sent > 0 and probe.failed == probe.sent


def test_the_chart_is_well_formed_svg_and_the_table_lines_up() -> None:
    svg = common.bar_chart_svg("t & <title>", [("a", 0.5, 0.8), ("b", 1.2, None)])
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    svg, png = common.chart("t", [("a", 0.5, 0.8)], unit="s")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" in png[-12:]
    lines = common.table("T", ["x", "long header"], [[1, 2], ["wide cell", 3]]).splitlines()
    assert len({len(line) for line in lines[1:]}) == 1
