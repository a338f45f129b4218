#!/usr/bin/env python3
"""Check (and optionally wait, bounded) that the lab containers' services listen.

  probe.py [--wait SECONDS] NAME...     NAME = container name (exlb-cas1 ...)

Reads the lab layout from the environment exported by lab/env.sh (LAB_NODES,
LAB_STANDINS, LAB_STANDINS_B, LAB_STANDINS_C, LAB_GW, LAB_PROXY_PORT).  Prints a summary table and exits 1 when a
container is not running or one of its ports does not accept TCP connections.
Only the lab's own addresses are contacted.  Standard library only.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

ROLE_PORTS = {
    "lb": [22],
    "cas": [80, 443, 110, 143, 993, 995, 135, 60000, 60001],
    "hub": [25, 587],
}
ROLE_UNITS = {
    "lb": ["ssh.service"],
    "cas": ["nginx.service", "dovecot.service", "lab-epmapper.service"],
    "hub": ["postfix.service", "lab-hub-sasl.service"],  # postfix.service: wrapper on 12, the daemon on 13
}


def layout() -> dict[str, dict]:
    out = {}
    entries = " ".join(os.environ.get(var, "") for var in ("LAB_NODES", "LAB_STANDINS", "LAB_STANDINS_B", "LAB_STANDINS_C"))
    for entry in entries.split():
        name, host, ip, role, kind = entry.split(":")
        out[name] = {"host": host, "ip": ip, "role": role, "kind": kind}
    return out


def can_connect(ip: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def podman(*args: str, timeout: float = 10) -> str:
    try:
        r = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return r.stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wait", type=float, default=0, help="wait up to SECONDS for every port")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    lay = layout()
    gw, pport = os.environ.get("LAB_GW", ""), int(os.environ.get("LAB_PROXY_PORT", "3142"))

    pending = {(n, p) for n in args.names if n in lay for p in ROLE_PORTS[lay[n]["role"]]}
    ok: set[tuple[str, int]] = set()
    t0 = time.monotonic()
    deadline = t0 + args.wait
    for _round in range(10000):  # bounded by the deadline; the count is a second bound
        for n, p in sorted(pending):
            if can_connect(lay[n]["ip"], p):
                ok.add((n, p))
        pending -= ok
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    # then the role's units must be active (a crash-looping unit can let a port
    # listen for a moment; `is-system-running` can say running before "degraded")
    units_bad: dict[str, str] = {}
    for _round in range(1000):
        units_bad = {}
        for n in args.names:
            if n not in lay:
                continue
            units = ROLE_UNITS[lay[n]["role"]]
            out = podman("exec", n, "systemctl", "is-active", *units, timeout=5).split()
            if out != ["active"] * len(units):
                units_bad[n] = ",".join(u for u, st in zip(units, out + ["?"] * len(units)) if st != "active")
        if not units_bad or not args.wait or time.monotonic() >= deadline:
            break
        time.sleep(0.3)
    waited = time.monotonic() - t0

    rows = [("NAME", "HOST", "IP", "ROLE", "CONTAINER", "SYSTEMD", "PORTS (listening)")]
    bad = bool(pending) or bool(units_bad)
    for n in args.names:
        info = lay.get(n)
        if info is None:  # not one of the lab's own (e.g. a molecule node)
            hi = podman("inspect", "--format", "{{.Config.Hostname}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", n).split()
            info = {"host": hi[0] if hi else "?", "ip": ",".join(hi[1:]) or "?", "role": "-"}
        state = podman("inspect", "--format", "{{.State.Status}}", n) or "absent"
        sysd = podman("exec", n, "systemctl", "is-system-running", timeout=5) if state == "running" else "-"
        if state == "running":
            failed = podman("exec", n, "systemctl", "list-units", "--failed", "--plain", "--no-legend", timeout=5)
            failed_units = [line.split()[0] for line in failed.splitlines() if line.strip()]
            if failed_units:
                sysd += " (failed: %s)" % ",".join(failed_units)
        if n in units_bad:
            sysd += " (inactive: %s)" % units_bad[n]
        if state != "running":
            bad = True
        ports = ROLE_PORTS.get(info["role"], [])
        pcol = " ".join(str(p) if (n, p) in ok else "!%d" % p for p in ports)
        rows.append((n, info["host"], info["ip"], info["role"], state, sysd or "?", pcol))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if gw:
        print("apt proxy %s:%d %s" % (gw, pport, "listening" if can_connect(gw, pport) else "NOT reachable"))
    if args.wait:
        print("ports checked in %.1f s%s" % (waited, "" if not pending else
              "; NOT listening: " + ", ".join("%s:%d" % np for np in sorted(pending))))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
