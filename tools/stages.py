#!/usr/bin/env python3
"""The stages of `make test`: each timed, its tests counted, and a table at the end.

    tools/stages.py reset                          forget the stages of an earlier run
    tools/stages.py run NAME -- CMD [ARG...]       one stage, its output shown as it comes
    tools/stages.py lanes NAME=SHELL-CMD ... [:: NAME=SHELL-CMD ...]...
                                                   lanes side by side (separated by ::), each lane's
                                                   stages one after the other; a stage's output is
                                                   shown whole when it ends (in the order they end)
    tools/stages.py report                         the table: stage, seconds, tests, result

A stage's tests are read off pytest's closing lines in its output ("12 passed, 1 failed in 3.2s"),
also when molecule's verifier prints them; a stage without such a line shows "-". The table ends with
the plain closing line "N passed, M failed" over all stages. Standard library only: the first stages
run before the venv exists.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / ".build" / "stages.jsonl"
LOGS = ROOT / ".build" / "stage-logs"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# pytest's closing line: "==== 12 passed, 2 skipped in 3.21s ====", "382 passed in 3.2s" (-q), and
# molecule's verifier output prefixes it with "│ "
CLOSING = re.compile(r"^[\s│]*(?:=+ )?((?:\d+ [a-z]+(?:, )?)+) in [0-9.]+s\b")
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")


def counts(text: str) -> dict[str, int]:
    """Tests per outcome over every pytest closing line of ``text``."""
    total: dict[str, int] = {}
    for line in ANSI.sub("", text).splitlines():
        match = CLOSING.search(line)
        if not match:
            continue
        for number, outcome in COUNT.findall(match.group(1)):
            outcome = "error" if outcome.startswith("error") else outcome
            total[outcome] = total.get(outcome, 0) + int(number)
    return total


def record(name: str, started: float, seconds: float, rc: int, text: str) -> None:
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    entry = {"stage": name, "started": started, "seconds": round(seconds, 1), "rc": rc, "tests": counts(text)}
    with RECORD.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")


def stamp() -> str:
    return time.strftime("%H:%M:%S")


def ended(name: str, started: float, seconds: float, rc: int, text: str) -> None:
    """Record a stage and print its closing line."""
    record(name, started, seconds, rc, text)
    print(f"<== [{stamp()}] stage {name}: {'ok' if rc == 0 else f'FAILED (rc {rc})'} in {seconds:.0f} s", flush=True)


def run(name: str, command: list[str]) -> int:
    print(f"==> [{stamp()}] stage {name}: {' '.join(command)}", flush=True)
    started, t0 = time.time(), time.monotonic()
    seen: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                          text=True, errors="replace", bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            seen.append(line)
    ended(name, started, time.monotonic() - t0, proc.returncode, "".join(seen))
    return proc.returncode


def lanes(groups: list[list[tuple[str, str]]]) -> int:
    """Run each group of jobs (name, shell command) in order, the groups side by side.

    A lane owns what its jobs share (make test: a scenario that disturbs a stand-in CAS runs in a lane
    with a set of stand-ins of its own), so a job never moves to another lane. The first failure
    anywhere stops new starts in every lane; what runs finishes and is recorded."""
    LOGS.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    failed: list[str] = []

    def lane(jobs: list[tuple[str, str]]) -> None:
        for name, command in jobs:
            with lock:
                if failed:
                    return
                print(f"==> [{stamp()}] stage {name} started (output below when it ends)", flush=True)
            log = LOGS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".log")
            started, t0 = time.time(), time.monotonic()
            with log.open("w", encoding="utf-8") as out:
                rc = subprocess.run(["bash", "-c", command], stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, check=False).returncode
            seconds = time.monotonic() - t0
            text = log.read_text(encoding="utf-8", errors="replace")
            with lock:
                print(f"==> [{stamp()}] stage {name}: output", flush=True)
                sys.stdout.write(text)
                ended(name, started, seconds, rc, text)
                if rc != 0:
                    failed.append(name)

    threads = [threading.Thread(target=lane, args=(jobs,)) for jobs in groups if jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        print(f"stages failed: {', '.join(failed)}", flush=True)
        return 1
    return 0


def parse_lanes(words: list[str]) -> list[list[tuple[str, str]]]:
    """``a=cmd b=cmd :: c=cmd`` -> [[(a, cmd), (b, cmd)], [(c, cmd)]]; ValueError on a word without '='."""
    groups: list[list[tuple[str, str]]] = [[]]
    for word in words:
        if word == "::":
            groups.append([])
            continue
        name, sep, command = word.partition("=")
        if not sep or not name:
            raise ValueError(f"lanes: {word!r} is not NAME=SHELL-COMMAND")
        groups[-1].append((name, command))
    return [group for group in groups if group]


def report() -> int:
    if not RECORD.exists():
        print("no stages recorded")
        return 0
    entries = [json.loads(line) for line in RECORD.read_text(encoding="utf-8").splitlines() if line.strip()]
    width = max(len("stage"), *(len(e["stage"]) for e in entries))
    print()
    print("make test: the stages")
    print(f"{'stage':<{width}}  {'seconds':>7}  {'tests':>6}  result")
    passed = failed = 0
    for entry in entries:
        tests = entry["tests"]
        ok, bad = tests.get("passed", 0), tests.get("failed", 0) + tests.get("error", 0)
        passed, failed = passed + ok, failed + bad
        shown = f"{ok}" if tests else "-"
        if bad:
            shown += f" ({bad} failed)"
        result = "ok" if entry["rc"] == 0 else f"FAILED (rc {entry['rc']})"
        print(f"{entry['stage']:<{width}}  {entry['seconds']:>7.0f}  {shown:>6}  {result}")
    wall = max(e["started"] + e["seconds"] for e in entries) - min(e["started"] for e in entries)
    busy = sum(e["seconds"] for e in entries)
    print(f"{'wall clock':<{width}}  {wall:>7.0f}  ({wall / 60:.1f} min; the stages add up to {busy / 60:.1f} min)")
    print(f"{passed} passed, {failed} failed")
    return 0


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    verb, rest = argv[0], argv[1:]
    if verb == "reset":
        RECORD.unlink(missing_ok=True)
        return 0
    if verb == "run" and len(rest) >= 3 and rest[1] == "--":
        return run(rest[0], rest[2:])
    if verb == "lanes" and rest:
        try:
            return lanes(parse_lanes(rest))
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
    if verb == "report":
        return report()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main(sys.argv[1:]))
