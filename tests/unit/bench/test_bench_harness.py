"""The bench harness's own pieces, against real tools of this host (no appliance needed)."""

from __future__ import annotations

import re
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


def test_openssl_3_5_speed_output_is_read_under_its_own_header() -> None:
    """Debian 13's OpenSSL 3.5 prints encrypt/decrypt columns after sign/s and a KEM section."""
    out = (Path(__file__).parent / "data" / "openssl-speed-3.5.txt").read_text()
    assert bench.parse_speed(out, "rsa") == 4851.7
    assert bench.parse_speed(out, "ecdsa") == 71884.1


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
    assert common.chart("t", [("a", 0.5, 0.8)], unit="s") == common.bar_chart_svg("t", [("a", 0.5, 0.8)], unit="s")
    lines = common.table("T", ["x", "long header"], [[1, 2], ["wide cell", 3]]).splitlines()
    assert len({len(line) for line in lines[1:]}) == 1


def test_failover_runs_are_summarised_by_their_median_and_range(monkeypatch: pytest.MonkeyPatch) -> None:
    gaps = iter([0.42, 0.31, None, 1.2, 0.28, 0.9])   # None: no answer within the run (counted as 15 s)
    calls: list[str] = []

    def once(fault: str) -> dict[str, object]:
        calls.append(fault)
        return {"fault": fault, "client_gap_s": next(gaps), "failed": 3, "vip_on": "exlb-bench-lb2"}

    monkeypatch.setattr(bench, "failover_once", once)
    monkeypatch.setattr(bench, "log", lambda *_: None)
    out = bench.bench_failover(0.1, ["crash", "kill"], 3)
    assert calls == ["crash", "kill"] * 3                        # the faults are interleaved
    crash, kill = out
    assert (crash["client_gap_s"], crash["gap_min_s"], crash["gap_max_s"]) == (0.42, 0.28, 15.0)
    assert (kill["client_gap_s"], kill["gap_min_s"], kill["gap_max_s"]) == (0.9, 0.31, 1.2)
    assert len(crash["runs"]) == 3 and crash["advert_s"] == 0.1 and crash["vip_on"] == ["exlb-bench-lb2"]


def test_the_report_shows_medians_with_their_range(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import json

    import report
    machine = {"nproc": 2, "cpu_model": "AMD EPYC", "memory_gib": 23.5, "kernel": "6.1", "loadavg_1m_at_start": 0.5,
               "date_utc": "2026-11-26 06:00 UTC"}
    (tmp_path / "tls.json").write_text(json.dumps({"machine": machine, "smoke": False, "cases": [
        {"key": "RSA-2048", "engine": "haproxy", "release": "Debian 13", "handshakes": 9000, "handshakes_per_cpu_s": 2100.0,
         "openssl_sign_per_s_one_core": 2500.0, "ratio": 0.84, "ratio_min": 0.8, "ratio_max": 0.86, "target": None,
         "runs": [{}, {}, {}]}]}))
    (tmp_path / "failover.json").write_text(json.dumps({"machine": machine, "smoke": False, "runs": [
        {"fault": "master crash", "advert_s": 0.1, "client_gap_s": 0.42, "gap_min_s": 0.28, "gap_max_s": 0.5,
         "failed": 4, "target_s": 0.5, "runs": [{}, {}, {}]}]}))
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    text = report.render()
    assert "| RSA-2048 | haproxy | Debian 13 | 9000 | 2100 | 2500 | 0.84 (0.80-0.86, 3 runs) | report |" in text
    assert "| master crash | 0.1 | 3 | 0.420 (0.280-0.500) | 4 | < 0.5 s |" in text


def test_a_drill_reports_the_failed_tasks_message_not_an_earlier_one() -> None:
    import drills
    output = ("TASK [Preflight] ***\nok: [bstn] =>\n    msg: 24105 MB of memory, 2 vCPU(s)\n"
              "TASK [Check the time source] ***\nfatal: [bstn]: FAILED! =>\n    msg: ''\n...ignoring\n"
              "TASK [certificate] ***\nfatal: [bstn]: FAILED! =>\n    changed: false\n"
              "    msg: 'HTTP(s) Service › Certificate .pfx or .pem: the certificate expired on 2026-10-21'\n")
    assert drills.failure_message(output) == "HTTP(s) Service › Certificate .pfx or .pem: the certificate expired on 2026-10-21"
    assert drills.failure_message("PLAY RECAP\n") == ""
    # ansible-core 2.19+: the failed task's message on an [ERROR] line; a loop's failure reads "failed: [host] (item=...)"
    real = (Path(__file__).parent / "data" / "bad-certificate-run.log").read_text()
    assert drills.failure_message(real).startswith("HTTP(s) Service › Certificate .pfx or .pem: the certificate expired on")
    assert drills.failure_message(real.replace("[ERROR]: Task failed", "[ERROR]: Something else")).startswith(
        "HTTP(s) Service › Certificate .pfx or .pem: the certificate expired on")


def test_a_saved_chart_is_an_svg_that_docs_performance_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    common.save("t", {"smoke": False}, common.chart("t", [("a", 0.5, 0.8)], unit="s"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "t.svg"]
    ET.fromstring((tmp_path / "t.svg").read_text())
    root = Path(__file__).resolve().parents[3]
    doc = (root / "docs" / "performance.md").read_text(encoding="utf-8")
    charts = re.findall(r"!\[[^]]*\]\(\.\./bench/results/([^)]+)\)", doc)
    assert charts and all(name.endswith(".svg") and (root / "bench" / "results" / name).is_file() for name in charts), charts
