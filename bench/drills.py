#!/usr/bin/env python3
"""`make drills` / `make drills-smoke`: faults on the bench appliance, as a client sees them.

    bench/drills.py [--smoke] [--reuse [--remove]] [--keep] [--strict] [--no-security] [--only NAME,...]

--reuse   the bench appliance a `bench/bench.py --keep` left running, if all of it is there
--remove  remove it at the end also when it was reused (make test: the bench smoke run brings it up
          and keeps it, the drills smoke run reuses it and removes it: one bring-up for both)

Exit status: 0 (findings are printed, like missed benchmark targets), 1 on a finding with --strict,
2 when a drill could not run (a broken harness or lab).

Each drill prints requests sent, failed, and the recovery time (fault -> first answer after the
last failed request; 0 when no request failed). Only the bench's own containers are harmed
(exlb-bench-*); the shared stand-ins are never touched. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import re
import ssl
import sys
import time
import typing as t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import appliance as app  # noqa: E402
import bench  # noqa: E402
import security  # noqa: E402
from common import BenchError, chart, log, machine, pexec, podman, run, run_main, save, table  # noqa: E402

LB1, LB2, STN = "exlb-bench-lb1", "exlb-bench-lb2", "exlb-bench-stn"
STN_IP = "10.89.60.83"


def observe(ip: str, fault: t.Callable[[], object], settle: float, threads: int = 2,
            timeout: float = 0.5, request: t.Callable[[str, float], bool] | None = None) -> dict[str, t.Any]:
    """Send requests to ip, apply the fault, keep sending for `settle` s (bounded), return the figures."""
    with bench.Prober(ip, threads=threads, interval=0.02, timeout=timeout, max_seconds=settle + 30,
                      request=request) as probe:
        time.sleep(0.5)
        t_fault = time.monotonic()
        fault()
        deadline = t_fault + settle
        while time.monotonic() < deadline:
            rec = probe.recovery_after(t_fault)
            # stop early once answers have flowed again for 2 s after the last failure
            if probe.failed and rec is not None and time.monotonic() - t_fault > rec + 2:
                break
            time.sleep(0.1)
    rec = probe.recovery_after(t_fault)
    after = [s for s in probe.samples if s[0] >= t_fault]
    return {"sent": len(after), "failed": sum(1 for s in after if not s[2]),
            "recovery_s": None if rec is None else round(rec, 3)}


def cert_serial(ip: str) -> int:
    c = ssl.create_default_context(cafile=str(app.PKI / "ca.crt"))
    c.check_hostname = False
    import socket
    with socket.create_connection((ip, 443), timeout=3) as raw, c.wrap_socket(raw, server_hostname="mail.mydomain.local") as s:
        der = s.getpeercert(binary_form=True) or b""
    import hashlib
    return int(hashlib.sha256(der).hexdigest()[:12], 16)


# ----------------------------------------------------------------- drills
def drill_cas_killed() -> dict[str, t.Any]:
    cas = app.CAS[0]
    res = observe(app.VIP, lambda: podman("kill", cas.name, timeout=30), settle=15)
    podman("start", cas.name, timeout=60)
    app.wait_port(cas.ip, 80, 60)
    back = bench.wait_server(cas.host, "UP", 60)
    res["note"] = f"{cas.host} back UP {back:.1f} s after restart" if back is not None else f"{cas.host} not UP 60 s after its restart"
    return res


def drill_hub_killed() -> dict[str, t.Any]:
    """SMTP sessions (banner, EHLO, QUIT) through the VIP while a HUB stand-in is killed."""
    hub = app.HUBS[0]
    if bench.wait_server(hub.host, "UP", 30, pxname="bk_smtp") is None:
        raise BenchError(f"{hub.host} is not UP in bk_smtp before the drill")
    res = observe(app.VIP, lambda: podman("kill", hub.name, timeout=30), settle=15, timeout=1.0, request=bench.smtp_ok)
    out = bench.wait_server(hub.host, "DOWN", 15, pxname="bk_smtp")
    podman("start", hub.name, timeout=60)
    app.wait_port(hub.ip, 25, 60)
    back = bench.wait_server(hub.host, "UP", 60, pxname="bk_smtp")
    res["note"] = ("SMTP sessions; " + (f"{hub.host} DOWN in bk_smtp" if out is not None else f"{hub.host} never marked DOWN")
                   + (f", back UP {back:.1f} s after its restart" if back is not None else ", not UP 60 s after its restart"))
    return res


def drill_disk_full() -> dict[str, t.Any]:
    """A configuration change while /etc/haproxy is full (a 1 MiB tmpfs filled up on the master): the run
    must fail, the old haproxy.cfg stay whole and in force, and clients see nothing."""
    app.wait_vip(LB1, 90)
    cfg = "/etc/haproxy/haproxy.cfg"
    before = pexec(LB1, f"sha256sum {cfg}", timeout=20).stdout.split()[0]
    # the current files onto a small tmpfs over /etc/haproxy, then fill it (the rest of the disk is untouched)
    pexec(LB1, "set -e; mkdir -p /run/exlb-drill && cp -a /etc/haproxy/. /run/exlb-drill/ && "
               "mount -t tmpfs -o size=1m,mode=0755 exlb-drill /etc/haproxy && cp -a /run/exlb-drill/. /etc/haproxy/ && "
               "(dd if=/dev/zero of=/etc/haproxy/.fill bs=4k 2>/dev/null || true)", timeout=30)
    inv = app.write_inventory(0.1)
    outcome: dict[str, t.Any] = {}

    def fault() -> None:
        t0 = time.monotonic()
        # a changed Timeout changes haproxy.cfg
        proc = run([str(app.ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inv), "--limit", "blb1",
                    "-e", "exchange_http_timeout=31", str(app.ROOT / "site.yml")],
                   timeout=400, env=app.playbook_env(), check=False)
        outcome["rc"] = proc.returncode
        outcome["seconds"] = round(time.monotonic() - t0, 1)
        text = re.sub(r"\s+", " ", proc.stdout + proc.stderr)
        msg = re.search(r"(No space left on device.{0,80})", text)
        outcome["msg"] = msg.group(1) if msg else text[-160:]

    try:
        res = observe(app.VIP, fault, settle=2)
        after = pexec(LB1, f"sha256sum {cfg}", timeout=20).stdout.split()[0]
        running_ok = pexec(LB1, f"haproxy -c -q -f {cfg}", timeout=30, check=False).returncode == 0
        leftovers = pexec(LB1, "ls -A /etc/haproxy | grep -v -x -e haproxy.cfg -e .fill -e errors || true",
                          timeout=20).stdout.split()
    finally:
        pexec(LB1, "umount /etc/haproxy; rm -rf /run/exlb-drill", timeout=30, check=False)
    res["refused"] = outcome["rc"] != 0
    res["old_config_kept"] = before == after and running_ok
    res["note"] = (f"run rc={outcome['rc']} in {outcome['seconds']} s ({outcome['msg'][:90]}); haproxy.cfg unchanged and "
                   f"valid: {res['old_config_kept']}; files left beside it: {', '.join(leftovers) or 'none'}")
    # after the umount the node has its old /etc/haproxy again, the inventory's: nothing to converge back
    return res


def drill_master_stopped() -> dict[str, t.Any]:
    app.wait_vip(LB1, 90)
    res = observe(app.VIP, lambda: podman("stop", "-t", "10", LB1, timeout=60), settle=15, timeout=0.3)
    res["note"] = f"VIP on {app.vip_holder()}"
    podman("start", LB1, timeout=60)
    app.wait_vip(LB1, 90)
    return res


def drill_haproxy_crashed() -> dict[str, t.Any]:
    app.wait_vip(LB1, 90)
    time.sleep(1)
    res = observe(app.VIP, lambda: pexec(LB1, "pkill -SEGV -x haproxy", timeout=30), settle=15, timeout=0.3)
    res["note"] = f"VIP on {app.vip_holder()} after the crash"
    app.wait_vip(LB1, 90)
    return res


def drill_stunnel_crashed() -> dict[str, t.Any]:
    res = observe(STN_IP, lambda: pexec(STN, "pkill -SEGV -x stunnel4 || pkill -SEGV stunnel", timeout=30), settle=15)
    state = pexec(STN, "systemctl is-active 'stunnel@*'", timeout=30, check=False).stdout.strip()
    res["note"] = f"single node; systemd restarts stunnel (now {state})"
    return res


def vip_on_both() -> list[str]:
    return [n for n in (LB1, LB2) if f" {app.VIP}/" in pexec(n, "ip -4 -o addr show", timeout=20, check=False).stdout]


def drill_partition() -> dict[str, t.Any]:
    """Cut the nodes from each other (nftables drop of the peer's packets on both); heal; no split-brain left."""
    app.wait_vip(LB1, 90)
    cut = ("nft add table inet exlb_drill && nft add chain inet exlb_drill in '{ type filter hook input priority -300; }' "
           "&& nft add rule inet exlb_drill in ip saddr {peer} drop")
    heal = "nft delete table inet exlb_drill"

    def fault() -> None:
        pexec(LB1, cut.replace("{peer}", app.LBS[1].ip), timeout=20)
        pexec(LB2, cut.replace("{peer}", app.LBS[0].ip), timeout=20)

    res = observe(app.VIP, fault, settle=4, timeout=0.3)
    both = vip_on_both()
    for n in (LB1, LB2):
        pexec(n, heal, timeout=20, check=False)
    t0 = time.monotonic()
    healed_s = None
    while time.monotonic() - t0 < 15:
        if vip_on_both() == [LB1]:
            healed_s = time.monotonic() - t0
            break
        time.sleep(0.2)
    res["note"] = (f"while cut the VIP was on {', '.join(b.split('-')[-1] for b in both) or 'none'}; "
                   + (f"one master (lb1) {healed_s:.1f} s after healing" if healed_s is not None
                      else "SPLIT-BRAIN still 15 s after healing"))
    res["split_brain_left"] = healed_s is None
    return res


def failure_message(output: str) -> str:
    """The message of the task that failed the run in ansible-playbook's output. ansible-core 2.19+
    prints it on an `[ERROR]: Task failed: ...` line; older ones only in the failure's `msg`, where
    the last failure not ignored counts (the preflight's checks may fail, ignored, before it)."""
    error = re.search(r"^\[ERROR\]: Task failed: (?:(?:Action|Module) failed: )?(.{1,200})$", output, re.M)
    if error:
        return error.group(1).strip()
    found = ""
    for block in re.split(r"FAILED!|^failed: ", output, flags=re.M)[1:]:
        block = block.split("\nTASK [")[0].split("\nPLAY RECAP")[0]
        if "...ignoring" in block:
            continue
        msg = re.search(r'"msg": "([^"]{0,200})', block) or re.search(r"\bmsg: (.{0,200})", block)
        if msg and msg.group(1).strip("'\" "):
            found = msg.group(1).strip("'\" ")
    return found


def drill_bad_certificate() -> dict[str, t.Any]:
    """Push an expired certificate to the stunnel node: the run must refuse it, the old one keeps serving."""
    before = cert_serial(STN_IP)
    inv = app.write_inventory(0.1)
    outcome: dict[str, t.Any] = {}

    def fault() -> None:
        t0 = time.monotonic()
        proc = run([str(app.ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inv), "--limit", "bstn",
                    "-e", f"exchange_http_certificate={app.PKI / 'bad' / 'expired.pfx'}", str(app.ROOT / "site.yml")],
                   timeout=400, env=app.playbook_env(), check=False)
        outcome["rc"] = proc.returncode
        outcome["seconds"] = round(time.monotonic() - t0, 1)
        outcome["msg"] = failure_message(proc.stdout)
        (app.STATE / "bad-certificate-run.log").write_text(proc.stdout + proc.stderr)

    res = observe(STN_IP, fault, settle=2)
    after = cert_serial(STN_IP)
    res["note"] = (f"run rc={outcome['rc']} in {outcome['seconds']} s ({outcome['msg'][:90]}); "
                   f"same certificate still served: {before == after}")
    res["refused"] = outcome["rc"] != 0
    res["old_cert_kept"] = before == after
    return res


DRILLS: dict[str, tuple[str, t.Callable[[], dict[str, t.Any]], bool]] = {
    # name: (label, function, in the smoke run)
    "cas_killed": ("CAS killed (podman kill, own stand-in)", drill_cas_killed, True),
    "hub_killed": ("HUB killed (podman kill, SMTP clients)", drill_hub_killed, True),
    "disk_full": ("disk full while the config is written", drill_disk_full, True),
    "haproxy_crashed": ("haproxy crashed on the master (SIGSEGV)", drill_haproxy_crashed, True),
    "stunnel_crashed": ("stunnel crashed (SIGSEGV, single node)", drill_stunnel_crashed, True),
    "master_stopped": ("master node stopped (podman stop)", drill_master_stopped, False),
    "partition": ("network between the nodes cut, then healed", drill_partition, False),
    "bad_certificate": ("bad (expired) certificate pushed", drill_bad_certificate, False),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--remove", action="store_true", help="remove the appliance at the end, also when reused")
    ap.add_argument("--only", default="")
    ap.add_argument("--no-security", action="store_true", help="skip the security checks (bench/security.py)")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 on a finding (split-brain left, bad certificate taken, a failed security check)")
    args = ap.parse_args()
    bench.SMOKE = args.smoke
    app.select_smoke()      # drills need the pair, the stunnel node and the own CAS only
    only = set(filter(None, args.only.split(",")))
    info = machine()
    log(f"machine: {info}")
    t_start = time.monotonic()
    started = False
    results: list[dict[str, t.Any]] = []
    secure = True
    try:
        started = app.bring_up(args.reuse)
        app.wait_vip(LB1, 90)
        for name, (label, fn, in_smoke) in DRILLS.items():
            if (only and name not in only) or (args.smoke and not in_smoke and not only):
                continue
            log(f"drill: {label}")
            try:
                res = fn()
            except BenchError as exc:
                res = {"sent": 0, "failed": 0, "recovery_s": None, "note": f"ERROR: {exc}"[:200]}
            res.update({"drill": name, "label": label})
            results.append(res)
        secure = True
        if not args.no_security and not only:
            log("security checks ...")
            secure = security.run_checks(info, args.smoke)
    finally:
        if (started or args.remove) and not args.keep:
            app.remove()
            log("removed the bench containers")
    rows = [[r["label"], r["sent"], r["failed"], "-" if r["recovery_s"] is None else f"{r['recovery_s']:.2f}", r.get("note", "")]
            for r in results]
    print(table("Reliability drills (new HTTPS request every 20 ms per thread)",
                ["drill", "requests sent", "failed", "recovery s", "what happened"], rows))
    save("drills", {"machine": info, "smoke": args.smoke, "drills": results},
         chart("Drills: seconds from the fault to the first answer after the last failure",
                       [(r["label"][:45], r["recovery_s"] or 0.0, None) for r in results], unit="s"))
    log(f"done in {time.monotonic() - t_start:.0f} s; results in bench/results/")
    broken = [r["drill"] for r in results if str(r.get("note", "")).startswith("ERROR")]
    missed = [r["drill"] for r in results if r.get("split_brain_left") or r.get("refused") is False
              or r.get("old_cert_kept") is False or r.get("old_config_kept") is False]
    if not secure:
        missed.append("security")
        log("some security checks FAILED (table above)")
    if broken:
        log(f"drills that could not run: {', '.join(broken)}")
        return 2
    if missed:
        log(f"findings: {', '.join(missed)}" + ("" if args.strict else " (reported; --strict makes them fail the run)"))
        return 1 if args.strict else 0
    return 0


if __name__ == "__main__":
    run_main(main, "drills")
