"""Shared pieces of `make bench` and `make drills`: bounded commands, podman, results, tables, charts.

Only the Python standard library. Every wait here is bounded in time and count.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
import typing as t
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


class BenchError(RuntimeError):
    """A benchmark could not run (not a bad figure: a broken setup)."""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: list[str], timeout: float, check: bool = True, env: dict[str, str] | None = None,
        quiet: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command with a hard time limit; raise BenchError on failure when check."""
    try:
        proc = subprocess.run(cmd, capture_output=quiet, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"timed out after {timeout} s: {' '.join(cmd)}") from exc
    if check and proc.returncode != 0:
        tail = ((proc.stdout or "") + (proc.stderr or ""))[-2000:]
        raise BenchError(f"rc={proc.returncode}: {' '.join(cmd)}\n{tail}")
    return proc


def podman_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(ROOT / ".lab" / "containers.conf"))
    return env


def podman(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["podman", *args], timeout=timeout, check=check, env=podman_env())


def pexec(name: str, script: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """A shell script inside a container."""
    return podman("exec", name, "sh", "-c", script, timeout=timeout, check=check)


def need_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise BenchError(f"missing host tools {missing}: run `make deps` (HOST_PACKAGES)")


def machine() -> dict[str, t.Any]:
    """The machine the figures come from."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    load1, load5, _ = os.getloadavg()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "loadavg_1m_at_start": round(load1, 2),
        "loadavg_5m_at_start": round(load5, 2),
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def table(title: str, headers: list[str], rows: list[list[t.Any]]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [title, line, "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |", line]
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    out.append(line)
    return "\n".join(out)


def markdown_table(headers: list[str], rows: list[list[t.Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def bar_chart_svg(title: str, bars: list[tuple[str, float, float | None]], unit: str = "x") -> str:
    """Horizontal bars: (label, value, target or None). A target is a dashed mark on the bar's row."""
    left, right, top, row, width = 330, 90, 50, 30, 860
    limit = max([b[1] for b in bars] + [b[2] or 0 for b in bars] + [1e-9])
    plot = width - left - right
    height = top + row * len(bars) + 30

    def x(v: float) -> float:
        return left + plot * v / limit

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, value, target) in enumerate(bars):
        y = top + row * i
        ok = target is None or value >= target if unit == "x" else target is None or value <= target
        colour = "#4a7fb5" if ok else "#d9822b"
        out.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        out.append(f'<rect x="{left}" y="{y + 3}" width="{max(x(value) - left, 1):.1f}" height="16" fill="{colour}"/>')
        out.append(f'<text x="{x(value) + 5:.1f}" y="{y + 15}" font-size="11">{value:.3g} {escape(unit)}</text>')
        if target is not None:
            out.append(f'<line x1="{x(target):.1f}" y1="{y}" x2="{x(target):.1f}" y2="{y + 22}" '
                       'stroke="#b00" stroke-width="2" stroke-dasharray="3,2"/>')
    out.append(f'<text x="{left}" y="{height - 8}" font-size="11" fill="#555">red dash: target; '
               'orange bar: target missed</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def chart(title: str, bars: list[tuple[str, float, float | None]], unit: str = "x") -> str:
    """The bar chart, as SVG (browsers and GitHub show it; docs/performance.md embeds it)."""
    return bar_chart_svg(title, bars, unit)


def save(name: str, data: dict[str, t.Any], chart: str | None = None) -> Path:
    """bench/results/<name>.json (+ .svg); a smoke run writes under bench/results/smoke/ (not committed)."""
    out = RESULTS / "smoke" if data.get("smoke") else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    if chart is not None:
        (out / f"{name}.svg").write_text(chart)
    return path


def run_main(main: t.Callable[[], int], name: str) -> t.NoReturn:
    """A bench command's entry point: its exit status, or 2 with one line when it cannot run."""
    try:
        sys.exit(main())
    except (BenchError, subprocess.SubprocessError) as exc:
        print(f"{name}: ERROR: {exc}", file=sys.stderr)
        sys.exit(2)
