#!/usr/bin/env python3
"""Write the figures part of docs/performance.md from bench/results/*.json (between the markers)."""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, ROOT, markdown_table  # noqa: E402

DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench/report.py: begin -->", "<!-- bench/report.py: end -->"


def load(name: str) -> dict[str, t.Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def fmt(v: t.Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def ratio_range(c: dict[str, t.Any]) -> str:
    runs = len(c.get("runs", [])) or 1
    if runs > 1:
        return f"{fmt(c['ratio'])} ({fmt(c['ratio_min'])}-{fmt(c['ratio_max'])}, {runs} runs)"
    return fmt(c["ratio"])


def gap_range(r: dict[str, t.Any]) -> str:
    if len(r.get("runs", [])) > 1:
        return f"{fmt(r['client_gap_s'], 3)} ({fmt(r['gap_min_s'], 3)}-{fmt(r['gap_max_s'], 3)})"
    return fmt(r["client_gap_s"], 3)


def render() -> str:
    out: list[str] = []
    machines = {}
    for name in ("tls", "http", "memory", "cas_dark", "reload", "failover", "converge", "drills"):
        d = load(name)
        if d:
            m = d["machine"]
            machines[name] = m
    if machines:
        m = next(iter(machines.values()))
        loads = sorted(x["loadavg_1m_at_start"] for x in machines.values())
        dates = sorted(x["date_utc"] for x in machines.values())
        out.append(f"Machine: {m['nproc']} vCPU {m['cpu_model']}, {m['memory_gib']} GiB RAM, kernel {m['kernel']}. "
                   f"Runs from {dates[0]} to {dates[-1]}; 1-minute load average {loads[0]}-{loads[-1]} "
                   "when the runs started" + (" (a busy machine)." if loads[-1] > m["nproc"] else "."))
        smoke = [n for n in machines if (load(n) or {}).get("smoke")]
        if smoke:
            out.append(f"\n**Smoke figures (tiny counts, not for comparison):** {', '.join(smoke)}.")
    d = load("tls")
    if d:
        out.append("\n### TLS: full handshakes per appliance CPU-second vs `openssl speed` sign/s of one core\n")
        out.append(markdown_table(["key", "engine", "node", "handshakes (all runs)", "handshakes/CPU-s (median)",
                                   "sign/s (1 core)", "ratio: median (range)", "target"],
                                  [[c["key"], c["engine"], c.get("release", "Debian 12"), c["handshakes"],
                                    fmt(c["handshakes_per_cpu_s"], 0), fmt(c["openssl_sign_per_s_one_core"], 0),
                                    ratio_range(c), "≥ 0.8" if c["target"] else "report"] for c in d["cases"]]))
    d = load("http")
    if d:
        out.append("\n### HTTPS keep-alive (wrk) through the appliance vs straight to a stand-in CAS\n")
        rows = []
        for layout in d.get("layouts", [d]):
            label = layout.get("layout", "every container on every core")
            rows.append([label, fmt(layout["direct"]["rps"], 0), fmt(layout["via_appliance"]["rps"], 0),
                         fmt(layout["direct"]["p99_ms"]), fmt(layout["via_appliance"]["p99_ms"]),
                         f"{fmt(layout['ratio_rps'])} {layout.get('pair_ratios', '')}", layout.get("dropped_logs", "-")])
        out.append(markdown_table(["layout", "req/s straight", "req/s through the VIP", "p99 ms straight",
                                   "p99 ms through the VIP", "ratio (pairs)", "log lines haproxy dropped"], rows))
        out.append(f"\nTarget ≥ 0.8 with the appliance on its own core (median pair {fmt(d['ratio_rps'])}).")
    d = load("memory")
    if d:
        out.append("\n### Resident memory (KiB) on the master\n")
        rows = [[k, d["idle_kib"].get(k, "-"), d["load_kib"].get(k, "-")] for k in ("haproxy", "keepalived")]
        rows.append(["stunnel (stunnel node, idle)", d["stunnel_idle_kib"], "-"])
        out.append(markdown_table(["daemon", "idle", "under wrk -c64"], rows))
    d = load("cas_dark")
    if d:
        out.append("\n### A CAS going dark (frozen with `podman pause`)\n")
        out.append(markdown_table(["out of rotation s", "requests sent meanwhile", "failed", "back UP after thaw s", "target"],
                                  [[fmt(d["out_of_rotation_s"]), d["requests_sent"], d["requests_failed"],
                                    fmt(d["back_up_s"]), "≤ 3 s"]]))
    d = load("reload")
    if d:
        out.append(f"\n### {d['reloads']} haproxy reloads under load ({fmt(d['reload_seconds'], 1)} s)\n")
        out.append(markdown_table(["client", "requests", "failed", "target"],
                                  [["keep-alive (wrk)", d["keepalive"]["requests"],
                                    d["keepalive"]["socket_errors"] + d["keepalive"]["non_2xx"], "0"],
                                   ["new connection per request", d["new_conn"]["sent"], d["new_conn"]["failed"], "0"]]))
    d = load("failover")
    if d:
        out.append("\n### Failover as a client sees it (fault → first answer through the VIP)\n")
        out.append(markdown_table(["fault", "advert s", "runs", "seconds: median (range)", "failed requests (median)",
                                   "target"],
                                  [[r["fault"], r["advert_s"], len(r.get("runs", [])) or 1, gap_range(r), r["failed"],
                                    f"< {r['target_s']} s" if r.get("target_s") else "report"] for r in d["runs"]]))
    d = load("converge")
    if d:
        out.append("\n### Converge times (site.yml)\n")
        labels = {"first": "first run", "second": "second run", "one_field": "one field changed (advert interval)"}
        out.append(markdown_table(["run", "nodes", "seconds", "changed"],
                                  [[labels[k], d[k]["nodes"], fmt(d[k]["s"], 0), d[k]["changed"]]
                                   for k in ("first", "second", "one_field") if k in d]))
    d = load("drills")
    if d:
        out.append("\n### Drills\n")
        out.append(markdown_table(["drill", "requests sent", "failed", "recovery s", "what happened"],
                                  [[r["label"], r["sent"], r["failed"], fmt(r["recovery_s"]), r.get("note", "")]
                                   for r in d["drills"]]))
    d = load("security")
    if d:
        out.append("\n### Security checks\n")
        out.append(markdown_table(["check", "found", "expected", "ok"],
                                  [[c["check"], c["found"].replace("|", "/"), c["expected"], "ok" if c["ok"] else "**FAIL**"]
                                   for c in d["checks"]]))
    return "\n".join(out) + "\n"


def main() -> int:
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        print(f"{DOC}: markers missing", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{render()}{END}{tail}")
    print(f"wrote the figures into {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
