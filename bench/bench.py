#!/usr/bin/env python3
"""`make bench` / `make bench-smoke`: the appliance's figures as ratios measured in one run.

    bench/bench.py [--smoke] [--reuse] [--keep] [--only NAME,...]

--smoke  the same code path with tiny counts and short loads (CI)
--reuse  use the bench containers already up and converged (skips bring-up and converge timings)
--keep   leave the containers running afterwards (default: remove everything started)

Writes bench/results/<name>.json (+ .svg chart) and prints a table per benchmark.
Every load is bounded (<= 10 s each); traffic goes only to the lab's containers.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import re
import signal
import smtplib
import ssl
import statistics
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import appliance as app  # noqa: E402
from common import (BenchError, chart, log, machine, need_tools, pexec, podman,  # noqa: E402
                    run, run_main, save, table)

SMOKE = False
RESULTS: dict[str, dict[str, t.Any]] = {}
MACHINE: dict[str, t.Any] = {}


def p(full: t.Any, smoke: t.Any) -> t.Any:
    return smoke if SMOKE else full


# ----------------------------------------------------------------- clients
def ctx() -> ssl.SSLContext:
    c = ssl.create_default_context(cafile=str(app.PKI / "ca.crt"))
    c.check_hostname = False      # an IP in the URL; the chain is still verified
    return c


def get(ip: str, path: str = "/owa/", timeout: float = 1.0, tls: bool = True,
        context: ssl.SSLContext | None = None) -> int:
    """One request on a new connection; the status, or 0 when it failed."""
    conn: http.client.HTTPConnection
    if tls:
        conn = http.client.HTTPSConnection(ip, 443, timeout=timeout, context=context or ctx())
    else:
        conn = http.client.HTTPConnection(ip, 80, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": "mail.mydomain.local"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


def smtp_ok(ip: str, timeout: float = 1.0) -> bool:
    """One SMTP session on a new connection (banner, EHLO, QUIT) through port 25."""
    try:
        with smtplib.SMTP(ip, 25, timeout=timeout) as smtp:
            return smtp.ehlo("bench.lab.test")[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


class Prober:
    """Threads sending new-connection requests to ip; bounded by max_seconds and max_requests.

    ``request(ip, timeout) -> bool`` is one request; the default is an HTTPS GET of /owa/ that must answer 200.
    """

    def __init__(self, ip: str, threads: int = 2, interval: float = 0.02, timeout: float = 1.0,
                 max_seconds: float = 30, max_requests: int = 20000,
                 request: t.Callable[[str, float], bool] | None = None) -> None:
        self.ip, self.interval, self.timeout = ip, interval, timeout
        if request is None:
            context = ctx()     # built here: a missing lab CA fails the caller, not a thread silently
            request = lambda ip, timeout: get(ip, timeout=timeout, context=context) == 200  # noqa: E731
        self.request = request
        self.max_seconds, self.max_requests = max_seconds, max_requests
        self.samples: list[tuple[float, float, bool]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, args=(i * interval / max(threads, 1),), daemon=True)
                         for i in range(threads)]

    def _loop(self, stagger: float = 0.0) -> None:
        time.sleep(stagger)     # threads spread over the interval: finer resolution when one hangs
        end = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < end and len(self.samples) < self.max_requests:
            t0 = time.monotonic()
            ok = self.request(self.ip, self.timeout)
            with self._lock:
                self.samples.append((t0, time.monotonic(), ok))
            time.sleep(self.interval)

    def __enter__(self) -> "Prober":
        for th in self._threads:
            th.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for th in self._threads:
            th.join(self.timeout + 2)

    @property
    def sent(self) -> int:
        return len(self.samples)

    @property
    def failed(self) -> int:
        return sum(1 for s in self.samples if not s[2])

    def recovery_after(self, t_fault: float) -> float | None:
        """Seconds from the fault to the first answer after the last failure (0 if nothing failed)."""
        after = sorted(s for s in self.samples if s[1] >= t_fault)
        fails = [s for s in after if not s[2]]
        if not fails:
            return 0.0
        last_fail_start = max(s[0] for s in fails)
        oks = [s[1] for s in after if s[2] and s[0] >= last_fail_start]
        return (min(oks) - t_fault) if oks else None


def stats_rows(ip: str) -> list[dict[str, str]]:
    conn = http.client.HTTPConnection(ip, 8404, timeout=2)
    auth = base64.b64encode(f"{app.ADMIN_USER}:{app.ADMIN_PASSWORD}".encode()).decode()
    try:
        conn.request("GET", "/;csv", headers={"Authorization": f"Basic {auth}"})
        body = conn.getresponse().read().decode()
    except (OSError, http.client.HTTPException):
        return []
    finally:
        conn.close()
    lines = body.splitlines()
    if not lines:
        return []
    head = lines[0].lstrip("# ").split(",")
    return [dict(zip(head, line.split(","))) for line in lines[1:] if line]


# ----------------------------------------------------------------- tool output
def parse_speed(out: str, kind: str) -> float:
    """sign/s from `openssl speed` output, read under its own header line: OpenSSL 3.0 prints
    `sign verify sign/s verify/s`, 3.5 adds encrypt/decrypt columns (and KEM/signature sections)."""
    header: list[str] = []
    for line in out.splitlines():
        words = line.split()
        if "sign/s" in words:
            header = words
            continue
        is_rsa = re.match(r"\s*rsa\s+2048 bits", line)
        is_ecdsa = "ecdsa (nistp256)" in line
        if header and ((kind == "rsa" and is_rsa) or (kind == "ecdsa" and is_ecdsa)) and len(words) >= len(header):
            return float(words[len(words) - len(header) + header.index("sign/s")])
    raise BenchError(f"no {kind} line in openssl speed output:\n{out[-800:]}")


def openssl_speed(node: str, alg: str, kind: str) -> float:
    secs = p(3, 1)
    out = pexec(node, f"openssl speed -seconds {secs} {alg} 2>/dev/null", timeout=60).stdout
    return parse_speed(out, kind)


def s_time(ip: str, seconds: int, procs: int = 2) -> int:
    """Full handshakes (no resumption, no request) by `procs` parallel `openssl s_time -new` clients."""
    children = [subprocess.Popen(["openssl", "s_time", "-connect", f"{ip}:443", "-new", "-time", str(seconds)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(procs)]
    total = 0
    for child in children:
        try:
            out, _ = child.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            child.kill()
            out, _ = child.communicate()
        found = re.search(r"(\d+) connections in [\d.]+s;", out)
        if not found:
            raise BenchError(f"openssl s_time gave no result: {out[-500:]}")
        total += int(found.group(1))
    return total


def wrk(url: str, seconds: int, conns: int = 16, cpus: str | None = None) -> dict[str, float]:
    """wrk keep-alive; on the CPUs `cpus` only (taskset) when given."""
    pinned = ["taskset", "-c", cpus] if cpus else []
    proc = run([*pinned, "wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "-H", "Host: mail.mydomain.local", url],
               timeout=seconds + 30, check=False)
    out = proc.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rps:
        raise BenchError(f"wrk gave no result: {out[-500:]}{proc.stderr[-500:]}")
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    total = re.search(r"(\d+) requests in", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2 = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(rps.group(1)),
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
        "requests": int(total.group(1)) if total else 0,
        "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0,
        "non_2xx": int(non2.group(1)) if non2 else 0,
    }


# ----------------------------------------------------------------- benchmarks
def bench_tls() -> None:
    """Full handshakes per second of appliance CPU time vs openssl speed sign/s on one core.

    Each case runs 3 times (1 in the smoke run), the cases interleaved (a busy host's noise spreads over
    all of them); the table shows the median ratio and the range."""
    need_tools("openssl")
    cases = [("RSA-2048", "haproxy", "exlb-bench-lb1", "rsa2048", "rsa"),
             ("RSA-2048", "stunnel", "exlb-bench-stn", "rsa2048", "rsa"),
             ("ECDSA P-256", "haproxy", "exlb-bench-ec", "ecdsap256", "ecdsa"),
             ("ECDSA P-256", "stunnel", "exlb-bench-stne", "ecdsap256", "ecdsa"),
             ("RSA-2048", "haproxy", "exlb-bench-d13", "rsa2048", "rsa"),
             ("RSA-2048", "stunnel", "exlb-bench-d13s", "rsa2048", "rsa")]
    nodes = {n.name: n for n in app.LBS}
    cases = [c for c in cases if c[2] in nodes]
    # the master is reached through the VIP, the single nodes at their own address
    address = {node: app.VIP if node == "exlb-bench-lb1" else nodes[node].ip for _k, _e, node, _a, _kd in cases}
    release = {node: "Debian 13" if nodes[node].image == app.NODE_IMAGE_DEBIAN13 else "Debian 12"
               for _k, _e, node, _a, _kd in cases}
    speeds: dict[tuple[str, str], float] = {}
    for _key, _engine, node, alg, kind in cases:
        if (release[node], alg) not in speeds:
            speeds[(release[node], alg)] = openssl_speed(node, alg, kind)
    samples: dict[str, list[dict[str, t.Any]]] = {c[2]: [] for c in cases}
    for _ in range(p(3, 1)):
        for _key, _engine, node, _alg, _kind in cases:
            by0, w0 = app.cpu_by_process(node), time.monotonic()
            ok = s_time(address[node], p(5, 1))
            wall = time.monotonic() - w0
            by1 = app.cpu_by_process(node)
            split = {k: round(v - by0.get(k, 0.0), 2) for k, v in by1.items() if v - by0.get(k, 0.0) >= 0.01}
            cpu = sum(by1.values()) - sum(by0.values())
            samples[node].append({"handshakes": ok, "wall_s": round(wall, 2), "appliance_cpu_s": round(cpu, 2),
                                  "cpu_s_by_process": split, "handshakes_per_cpu_s": round(ok / cpu if cpu > 0 else 0.0, 1)})
    rows: list[list[t.Any]] = []
    data: list[dict[str, t.Any]] = []
    bars: list[tuple[str, float, float | None]] = []
    for key, engine, node, alg, _kind in cases:
        sign = speeds[(release[node], alg)]
        runs = samples[node]
        ratios = sorted(r["handshakes_per_cpu_s"] / sign for r in runs)
        ratio = statistics.median(ratios)
        per_cpu = statistics.median(r["handshakes_per_cpu_s"] for r in runs)
        target = 0.8 if key == "RSA-2048" and release[node] == "Debian 12" else None
        spread = f" ({ratios[0]:.2f}-{ratios[-1]:.2f})" if len(ratios) > 1 else ""
        split_total: dict[str, float] = {}
        for r in runs:
            for k, v in r["cpu_s_by_process"].items():
                split_total[k] = round(split_total.get(k, 0.0) + v, 2)
        top = sorted(split_total.items(), key=lambda kv: -kv[1])[:4]
        log(f"CPU s by process, {key} {engine} ({release[node]}): " + ", ".join(f"{k} {v}" for k, v in top))
        rows.append([key, engine, release[node], sum(r["handshakes"] for r in runs), f"{per_cpu:.0f}", f"{sign:.0f}",
                     f"{ratio:.2f}{spread}", ">= 0.8" if target else "report"])
        data.append({"key": key, "engine": engine, "release": release[node], "node": node, "runs": runs,
                     "handshakes": sum(r["handshakes"] for r in runs), "cpu_s_by_process": split_total,
                     "handshakes_per_cpu_s": round(per_cpu, 1), "openssl_sign_per_s_one_core": sign,
                     "ratio": round(ratio, 3), "ratio_min": round(ratios[0], 3), "ratio_max": round(ratios[-1], 3),
                     "target": target})
        bars.append((f"{key} {engine} ({release[node]})", ratio, target))
    print(table(f"TLS full handshakes (2 x openssl s_time -new, {p(3, 1)} run(s) per case, interleaved) per appliance "
                "CPU-second vs openssl speed sign/s (1 core): median ratio (range)",
                ["key", "engine", "node", "handshakes", "hs/CPU-s", "sign/s 1 core", "ratio", "target"], rows))
    RESULTS["tls"] = {"cases": data}
    save("tls", {"machine": MACHINE, "smoke": SMOKE, "cases": data},
         chart("TLS handshakes per appliance CPU-second / openssl sign per second (median)", bars))


def haproxy_info(node: str) -> dict[str, str]:
    """haproxy's `show info` on the node's admin socket."""
    script = ("import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/haproxy/admin.sock'); "
              "s.sendall(b'show info\\n'); print(s.makefile().read())")
    out = pexec(node, f'python3 -c "{script}"', timeout=20, check=False).stdout
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def pin(node_cpus: dict[str, str]) -> None:
    for node, cpus in node_cpus.items():
        podman("update", "--cpuset-cpus", cpus, node, timeout=30)


def bench_http() -> None:
    """wrk keep-alive through the VIP against straight to a stand-in CAS, in interleaved pairs (the median pair
    ratio damps a busy host's noise). Twice: with every container on every core, and with the appliance on a
    core of its own (client and CAS on the other), as a deployed appliance that does not share its CPU."""
    need_tools("wrk", "taskset")
    secs, pairs = p(3, 1), p(3, 1)
    ncpu = os.cpu_count() or 1
    every = f"0-{ncpu - 1}"
    holder = app.vip_holder() or "exlb-bench-lb1"
    layouts: list[tuple[str, str | None]] = [("every container on every core", None)]
    if ncpu >= 2:
        layouts.append((f"the appliance on core {ncpu - 1}, client and CAS on the rest", f"0-{ncpu - 2}"))
    results: list[dict[str, t.Any]] = []
    rows: list[list[t.Any]] = []
    for label, rest in layouts:
        if rest:
            pin({holder: str(ncpu - 1), **{n.name: rest for n in app.CAS}})
        try:
            dropped0 = int(haproxy_info(holder).get("DroppedLogs", "0") or 0)
            runs = []
            for _ in range(pairs):
                d = wrk(f"https://{app.CAS[0].ip}/owa/", secs, cpus=rest)
                v = wrk(f"https://{app.VIP}/owa/", secs, cpus=rest)
                runs.append((v["rps"] / d["rps"] if d["rps"] else 0.0, d, v))
            dropped = int(haproxy_info(holder).get("DroppedLogs", "0") or 0) - dropped0
        finally:
            if rest:
                pin({holder: every, **{n.name: every for n in app.CAS}})
        runs.sort(key=lambda r: r[0])
        ratio, direct, via = runs[len(runs) // 2]
        all_ratios = [round(r[0], 3) for r in runs]
        via_requests = sum(r[2]["requests"] for r in runs)
        results.append({"layout": label, "direct": direct, "via_appliance": via, "ratio_rps": round(ratio, 3),
                        "pair_ratios": all_ratios, "dropped_logs": dropped, "via_requests": via_requests,
                        "p99_ratio": round(via["p99_ms"] / direct["p99_ms"], 2) if direct["p99_ms"] else None})
        for name, r in (("straight to a stand-in CAS", direct), ("through the appliance (VIP)", via)):
            rows.append([label, name, f"{r['rps']:.0f}", f"{r['p99_ms']:.2f}", r["socket_errors"] + r["non_2xx"],
                         f"{ratio:.2f} {all_ratios}" if r is via else ""])
    print(table(f"HTTPS keep-alive (wrk -t2 -c16 -d{secs}s, {pairs} interleaved pair(s) per layout, median pair shown; "
                "target >= 0.8 with the appliance on its own core)",
                ["layout", "path", "req/s", "p99 ms", "errors", "ratio (pairs)"], rows))
    for r in results:
        log(f"{r['layout']}: haproxy dropped {r['dropped_logs']} of {r['via_requests']} request log lines "
            "(journald did not keep up)")
    main_result = results[-1]
    data = {"layouts": results, "direct": main_result["direct"], "via_appliance": main_result["via_appliance"],
            "ratio_rps": main_result["ratio_rps"], "layout": main_result["layout"], "target": 0.8,
            "pair_ratios": main_result["pair_ratios"], "seconds_per_run": secs, "p99_ratio": main_result["p99_ratio"]}
    RESULTS["http"] = data
    save("http", {"machine": MACHINE, "smoke": SMOKE, **data},
         chart("HTTPS keep-alive req/s: through the appliance / straight to a CAS",
               [(f"req/s ratio, {r['layout']}", r["ratio_rps"], 0.8 if r is main_result else None) for r in results]))


def bench_memory_idle() -> dict[str, int]:
    return app.rss_kib("exlb-bench-lb1")


def bench_memory(idle: dict[str, int]) -> None:
    need_tools("wrk")
    box: dict[str, dict[str, int]] = {}

    def sample() -> None:
        time.sleep(p(3, 1))
        box["load"] = app.rss_kib("exlb-bench-lb1")

    th = threading.Thread(target=sample)
    th.start()
    wrk(f"https://{app.VIP}/owa/", p(5, 2), conns=64)
    th.join(30)
    stn_idle = app.rss_kib("exlb-bench-stn")
    load = box.get("load", {})
    rows = [[d, idle[d], load.get(d, "-")] for d in ("haproxy", "keepalived")]
    rows.append(["stunnel (stunnel node, idle)", stn_idle["stunnel"], "-"])
    print(table("Resident memory on the master (KiB; load = wrk -c64 HTTPS keep-alive)", ["daemon", "idle", "under load"], rows))
    RESULTS["memory"] = {"idle_kib": idle, "load_kib": load, "stunnel_idle_kib": stn_idle["stunnel"]}
    save("memory", {"machine": MACHINE, "smoke": SMOKE, **RESULTS["memory"]})


def backend_rows(server: str) -> list[dict[str, str]]:
    holder = app.vip_holder() or "exlb-bench-lb1"
    ip = next(n.ip for n in app.LBS if n.name == holder)
    return [r for r in stats_rows(ip) if r.get("svname") == server and r.get("pxname", "").startswith("bk_")]


def wait_server(server: str, state: str, seconds: float, pxname: str = "bk_owa") -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        rows = [r for r in backend_rows(server) if r["pxname"] == pxname]
        if rows and all(r["status"].startswith(state) for r in rows):
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def bench_cas_dark() -> None:
    cas = app.CAS[0]
    if wait_server(cas.host, "UP", 30) is None:
        raise BenchError(f"{cas.host} is not UP before the test")
    with Prober(app.VIP, threads=2, max_seconds=40) as probe:
        time.sleep(1)
        t_fault = time.monotonic()
        podman("pause", cas.name, timeout=30)
        try:
            out_s = wait_server(cas.host, "DOWN", 15)
            time.sleep(1)
        finally:
            podman("unpause", cas.name, timeout=30, check=False)
        fails_meanwhile = sum(1 for s in probe.samples if not s[2] and s[0] >= t_fault)
        sent = sum(1 for s in probe.samples if s[0] >= t_fault)
    back_s = wait_server(cas.host, "UP", 20)
    rows = [[f"{cas.host} frozen (podman pause)", f"{out_s:.2f}" if out_s is not None else "> 15",
             sent, fails_meanwhile, f"{back_s:.2f}" if back_s is not None else "> 20", "<= 3 s"]]
    print(table("A CAS going dark: out of rotation (bk_owa, from haproxy's stats) and client requests meanwhile",
                ["fault", "out of rotation s", "requests sent", "failed", "back UP after thaw s", "target"], rows))
    data = {"out_of_rotation_s": out_s, "requests_sent": sent, "requests_failed": fails_meanwhile,
            "back_up_s": back_s, "target_s": 3.0}
    RESULTS["cas_dark"] = data
    save("cas_dark", {"machine": MACHINE, "smoke": SMOKE, **data},
         chart("A CAS going dark: seconds until out of rotation", [("bk_owa", out_s or 15.0, 3.0)], unit="s"))


def bench_reload() -> None:
    need_tools("wrk")
    reloads = p(50, 5)
    secs = p(10, 3)
    holder = app.vip_holder() or "exlb-bench-lb1"
    script = (f"i=0; while [ $i -lt {reloads} ]; do systemctl reload haproxy || echo FAIL; "
              f"sleep 0.05; i=$((i+1)); done")
    box: dict[str, t.Any] = {}

    def reload_loop() -> None:
        time.sleep(0.5)
        t0 = time.monotonic()
        res = pexec(holder, script, timeout=120, check=False)
        box["seconds"] = time.monotonic() - t0
        box["failed_reloads"] = res.stdout.count("FAIL") + (0 if res.returncode == 0 else 1)

    with Prober(app.VIP, threads=2, interval=0.01, max_seconds=secs + 30) as probe:
        th = threading.Thread(target=reload_loop)
        th.start()
        # wrk in chunks of at most `secs` seconds until the reloads are done (bounded: 8 chunks)
        chunks = []
        for _ in range(8):
            chunks.append(wrk(f"https://{app.VIP}/owa/", secs))
            if not th.is_alive():
                break
        th.join(150)
        ka = {"requests": sum(c["requests"] for c in chunks), "socket_errors": sum(c["socket_errors"] for c in chunks),
              "non_2xx": sum(c["non_2xx"] for c in chunks), "chunks": len(chunks)}
    rows: list[list[t.Any]] = [["keep-alive (wrk -c16)", ka["requests"], ka["socket_errors"] + ka["non_2xx"], "0"],
            ["new connection per request (2 threads)", probe.sent, probe.failed, "0"]]
    print(table(f"{reloads} haproxy reloads in {box.get('seconds', 0):.1f} s under load "
                f"(reload command failures: {box.get('failed_reloads')})",
                ["client", "requests", "failed", "target"], rows))
    data = {"reloads": reloads, "reload_seconds": round(box.get("seconds", 0), 2),
            "reload_command_failures": box.get("failed_reloads"),
            "keepalive": ka, "new_conn": {"sent": probe.sent, "failed": probe.failed}}
    RESULTS["reload"] = data
    save("reload", {"machine": MACHINE, "smoke": SMOKE, **data})


def fault_in(node: str, command: str) -> float:
    """Run `command` in the node; the monotonic time at which it started there (the node's clock is the host's)."""
    out = pexec(node, f"date +%s.%N; {command}", timeout=30).stdout
    started_wall = float(out.split()[0])
    return time.monotonic() - (time.time() - started_wall)


def failover_once(fault: str) -> dict[str, t.Any]:
    lb1 = "exlb-bench-lb1"
    app.wait_vip(lb1, 90)
    if wait_server(app.CAS[0].host, "UP", 20) is None:
        raise BenchError("bcas1 not UP before the failover run")
    time.sleep(p(2, 1))      # the pair settles (adverts, tracking) before the fault
    with Prober(app.VIP, threads=3, interval=0.02, timeout=0.3, max_seconds=40) as probe:
        time.sleep(0.5)
        # the fault's own moment, not when `podman exec` was called (its start-up takes 0.1-0.3 s here)
        if fault == "clean keepalived stop":
            t_fault = fault_in(lb1, "systemctl stop keepalived")
        elif fault == "master crash":
            # SIGKILL to the node's PID 1 from the host: the whole node dies at once, as `podman kill` does
            pid = int(podman("inspect", "--format", "{{.State.Pid}}", lb1, timeout=30).stdout.strip())
            t_fault = time.monotonic()
            os.kill(pid, signal.SIGKILL)
        elif fault == "haproxy killed":
            t_fault = fault_in(lb1, "pkill -KILL -x haproxy")
        # watch at least 4 s: what the fault sets off later (a tracking check that fails twice, 1 s apart,
        # and moves the address) is part of what the client sees
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            rec = probe.recovery_after(t_fault)
            since = time.monotonic() - t_fault
            if since > 4 and (not probe.failed or (rec is not None and since > rec + 1)):
                break
            time.sleep(0.1)
        moved_to = app.vip_holder()
    rec = probe.recovery_after(t_fault)
    failed = sum(1 for s in probe.samples if not s[2] and s[0] >= t_fault)
    # restore the master
    if fault == "clean keepalived stop":
        pexec(lb1, "systemctl start keepalived", timeout=30)
    elif fault == "master crash":
        podman("wait", lb1, timeout=30, check=False)
        podman("start", lb1, timeout=60)
    app.wait_vip(lb1, 90)
    return {"fault": fault, "client_gap_s": None if rec is None else round(rec, 3), "failed": failed,
            "vip_on": moved_to}


def bench_failover(advert: float, faults: list[str], reps: int) -> list[dict[str, t.Any]]:
    """Each fault `reps` times, the faults interleaved; per fault the median gap and the range."""
    tries: dict[str, list[dict[str, t.Any]]] = {f: [] for f in faults}
    for _ in range(reps):
        for fault in faults:
            res = failover_once(fault)
            tries[fault].append(res)
            log(f"failover {fault} (advert {advert} s): gap {res['client_gap_s']} s, {res['failed']} failed, "
                f"VIP then on {res['vip_on']}")
    out = []
    for fault, runs in tries.items():
        # no answer within the run's 15 s counts as 15 s
        gaps = sorted(15.0 if r["client_gap_s"] is None else r["client_gap_s"] for r in runs)
        out.append({"fault": fault, "advert_s": advert, "runs": runs, "client_gap_s": round(statistics.median(gaps), 3),
                    "gap_min_s": gaps[0], "gap_max_s": gaps[-1],
                    "failed": int(statistics.median(r["failed"] for r in runs)),
                    "vip_on": sorted({str(r["vip_on"]) for r in runs})})
    return out


def report_failover(runs: list[dict[str, t.Any]]) -> None:
    targets = {("clean keepalived stop", 0.1): 0.3, ("master crash", 0.1): 0.5, ("haproxy killed", 0.1): 0.5}
    rows, bars = [], []
    for r in runs:
        target = targets.get((r["fault"], r["advert_s"]))
        r["target_s"] = target
        spread = f" ({r['gap_min_s']:.3f}-{r['gap_max_s']:.3f})" if len(r["runs"]) > 1 else ""
        rows.append([r["fault"], r["advert_s"], len(r["runs"]), f"{r['client_gap_s']:.3f}{spread}", r["failed"],
                     ", ".join(r["vip_on"]), f"< {target}" if target else "report"])
        bars.append((f"{r['fault']} (adv {r['advert_s']} s)", r["client_gap_s"], target))
    print(table("Failover as a client sees it (3 staggered clients, each a new HTTPS request every 20 ms, "
                "0.3 s timeout, through the VIP): median (range) over the runs",
                ["fault", "advert s", "runs", "fault -> first answer s", "failed requests (median)", "VIP then on",
                 "target"], rows))
    RESULTS["failover"] = {"runs": runs}
    save("failover", {"machine": MACHINE, "smoke": SMOKE, "runs": runs},
         chart("Failover: seconds from the fault to the first answer through the VIP (median)", bars, unit="s"))


def bench_converge(first: tuple[float, int] | None, second: tuple[float, int] | None,
                   changed: tuple[float, int] | None) -> None:
    n = len(app.LBS)
    rows: list[list[t.Any]] = []
    data: dict[str, t.Any] = {}
    if first:
        rows.append([f"first run ({n} nodes, from bare containers)", f"{first[0]:.0f}", first[1]])
        data["first"] = {"s": round(first[0], 1), "changed": first[1], "nodes": n}
    if second and not SMOKE:
        rows.append([f"second run ({n} nodes)", f"{second[0]:.0f}", second[1]])
        data["second"] = {"s": round(second[0], 1), "changed": second[1], "nodes": n}
    if changed:
        rows.append(["one field changed (VRRP advert interval; the pair, --limit)", f"{changed[0]:.0f}", changed[1]])
        data["one_field"] = {"s": round(changed[0], 1), "changed": changed[1], "nodes": 2}
    if not rows:
        return
    print(table("Converge times (ansible-playbook site.yml over podman's connection)", ["run", "seconds", "changed"], rows))
    RESULTS["converge"] = data
    save("converge", {"machine": MACHINE, "smoke": SMOKE, **data})


# ----------------------------------------------------------------- main
def main() -> int:
    global SMOKE, MACHINE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    SMOKE = args.smoke
    only = set(filter(None, args.only.split(",")))

    def want(name: str) -> bool:
        return not only or name in only

    if SMOKE:
        app.select_smoke()
    elif want("tls"):
        app.add_debian13()

    MACHINE = machine()
    log(f"machine: {MACHINE}")
    need_tools("podman", "wrk", "openssl")
    t_start = time.monotonic()
    started = False
    first = second = changed = None
    try:
        if not (args.reuse and {n.name for n in app.ALL} <= set(app.containers_exist())):
            app.start()
            started = True
            app.prepare(0.1)
            log("converging (first run) ...")
            first = app.converge(0.1)
            log(f"first converge {first[0]:.0f} s, changed={first[1]}; second run ...")
            second = app.converge(0.1) if not SMOKE else (0.0, 0)
            if second[1] != 0:
                raise BenchError(f"second converge changed {second[1]} things (must be 0)")
        else:
            app.write_inventory(0.1)
        app.wait_vip("exlb-bench-lb1", 90)
        idle = bench_memory_idle()
        if want("tls"):
            bench_tls()
        if want("http"):
            bench_http()
        if want("memory"):
            bench_memory(idle)
        if want("cas_dark"):
            bench_cas_dark()
        if want("reload"):
            bench_reload()
        runs: list[dict[str, t.Any]] = []
        if want("failover"):
            runs += bench_failover(0.1, ["clean keepalived stop", "master crash", "haproxy killed"]
                                   if not SMOKE else ["clean keepalived stop"], p(3, 1))
        if not SMOKE and (want("failover") or want("converge")):
            # one field changed: the advert interval to keepalived's 1 s default (timed), then back
            changed = limited_converge(1)
            if want("failover"):
                runs += bench_failover(1, ["master crash", "clean keepalived stop"], p(2, 1))
            if args.keep:
                changed_back = limited_converge(0.1)
                log(f"advert back to 0.1 s in {changed_back[0]:.0f} s")
        if runs:
            report_failover(runs)
        bench_converge(first, second, changed)
    finally:
        if started and not args.keep:
            app.remove()
            log("removed the bench containers")
    log(f"done in {time.monotonic() - t_start:.0f} s; results in bench/results/")
    return 0


def limited_converge(advert: float) -> tuple[float, int]:
    """site.yml on the pair only, with one field changed (the VRRP advert interval)."""
    inv = app.write_inventory(advert)
    t0 = time.monotonic()
    proc = run([str(app.ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inv), "--limit", "blb1,blb2",
                str(app.ROOT / "site.yml")], timeout=600, env=app.playbook_env(), check=False)
    secs = time.monotonic() - t0
    out = proc.stdout
    if proc.returncode != 0:
        (app.STATE / "last-failed-playbook.log").write_text(out + proc.stderr)
        raise BenchError("converge with one field changed failed; see .build/bench/last-failed-playbook.log")
    recap = out[out.rfind("PLAY RECAP"):]
    return secs, sum(int(x) for x in re.findall(r"changed=(\d+)", recap))


if __name__ == "__main__":
    run_main(main, "bench")
