#!/usr/bin/env python3
"""Security checks of the bench appliance (part of `make drills`; also alone).

    bench/security.py [--reuse] [--keep] [--smoke]

- TLS on the VIP against Mozilla's intermediate profile: protocols and TLS 1.2 cipher suites, tried
  one by one with the host's OpenSSL (Python's ssl module), and sslyze's own Mozilla "intermediate"
  compliance check (sslyze in a venv of its own, .build/sslyze: `make drills` installs it); what it
  says of the lab's certificate (its CA, its 397-day life) is reported apart from the TLS settings
- key files 0600 root (every file under /etc holding a private key, on each node); 0640 root:stunnel4
  where stunnel re-reads it after dropping root (readable by the daemon, not writable by it)
- the statistics page and Prometheus metrics refuse access without / with a wrong password
- the firewall: the TCP ports open from this host are exactly the ones the plan lists
- no secret (the PFX password, the admin password, private key material) in a --check --diff -vvv
  run's output nor in the nodes' journals (full run only: the -vvv run takes minutes)
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures as cf
import http.client
import socket
import ssl
import sys
import time
import typing as t
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import appliance as app  # noqa: E402
from common import BenchError, log, machine, pexec, run, run_main, save, table  # noqa: E402

# Mozilla server-side TLS "intermediate" (v5.7): TLS 1.2 + 1.3; these TLS 1.2 suites (OpenSSL names).
MOZILLA_INTERMEDIATE_TLS12 = {
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
}
SECRETS = ["labpfx", app.ADMIN_PASSWORD, "PRIVATE KEY-----\nMI"]


def try_tls(ip: str, version: ssl.TLSVersion, cipher: str | None = None) -> bool:
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():   # TLS 1.0/1.1 are deprecated: that is what is being checked
        warnings.simplefilter("ignore", DeprecationWarning)
        c.minimum_version = c.maximum_version = version
    try:
        c.set_ciphers((cipher or "ALL:COMPLEMENTOFALL") + ":@SECLEVEL=0")
    except ssl.SSLError:
        return False
    try:
        with socket.create_connection((ip, 443), timeout=3) as raw, c.wrap_socket(raw, server_hostname="mail.mydomain.local"):
            return True
    except (OSError, ssl.SSLError):
        return False


def check_tls(ip: str) -> list[list[t.Any]]:
    rows: list[list[t.Any]] = []
    for version, want in ((ssl.TLSVersion.TLSv1, False), (ssl.TLSVersion.TLSv1_1, False),
                          (ssl.TLSVersion.TLSv1_2, True), (ssl.TLSVersion.TLSv1_3, True)):
        got = try_tls(ip, version)
        rows.append([f"{ip} {version.name}", "accepted" if got else "refused", "accepted" if want else "refused", got == want])
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    names = sorted({c["name"] for c in probe.get_ciphers() if c["protocol"] != "TLSv1.3"})
    with cf.ThreadPoolExecutor(8) as pool:
        accepted = {n for n, ok in zip(names, pool.map(lambda n: try_tls(ip, ssl.TLSVersion.TLSv1_2, n), names)) if ok}
    extra = sorted(accepted - MOZILLA_INTERMEDIATE_TLS12)
    missing = sorted(MOZILLA_INTERMEDIATE_TLS12 - accepted - {n for n in MOZILLA_INTERMEDIATE_TLS12 if "ECDSA" in n})
    rows.append([f"{ip} TLS 1.2 suites beyond Mozilla intermediate", ", ".join(extra) or "none", "none", not extra])
    rows.append([f"{ip} Mozilla intermediate RSA suites not offered", ", ".join(missing) or "none", "report", True])
    return rows


SSLYZE = app.ROOT / ".build" / "sslyze" / "bin" / "sslyze"
# sslyze's compliance checks that judge the certificate (the lab's), not the appliance's TLS settings
CERTIFICATE_CHECKS = ("certificate_", "maximum_certificate_lifespan", "rsa_key_size", "ecdh_param_size")


def check_sslyze(ip: str) -> list[list[t.Any]]:
    """sslyze's Mozilla "intermediate" compliance check of ip:443; the certificate's findings apart."""
    if not SSLYZE.exists():
        raise BenchError(f"{SSLYZE} is missing: `make drills` installs it (bench/requirements-sslyze.txt)")
    proc = run([str(SSLYZE), "--mozilla_config=intermediate", "--certinfo_ca_file", str(app.PKI / "ca.crt"), f"{ip}:443"],
               timeout=300, check=False)
    text = proc.stdout
    if "COMPLIANCE AGAINST" not in text:
        raise BenchError(f"sslyze gave no compliance result for {ip} (rc={proc.returncode}): {(text + proc.stderr)[-300:]}")
    verdict = text.split("COMPLIANCE AGAINST", 1)[1]
    findings = [line.strip()[2:] for line in verdict.splitlines() if line.strip().startswith("* ")]
    tls = [f for f in findings if not f.startswith(CERTIFICATE_CHECKS)]
    cert = [f for f in findings if f.startswith(CERTIFICATE_CHECKS)]
    return [[f"{ip} sslyze vs Mozilla intermediate: TLS settings", "; ".join(tls) or "compliant", "compliant", not tls],
            [f"{ip} sslyze vs Mozilla intermediate: the lab's certificate", "; ".join(cert) or "compliant", "report", True]]


def check_key_modes(node: str) -> list[list[t.Any]]:
    out = pexec(node, "grep -rlZ 'PRIVATE KEY' /etc 2>/dev/null | xargs -0 -r stat -c '%a %U:%G %n'", timeout=30,
                check=False).stdout
    rows = []
    for line in out.splitlines():
        mode, owner, path = line.split(" ", 2)
        if path.startswith("/etc/ssh/"):
            continue
        # root-only, or readable (not writable) by stunnel, which re-reads its key after dropping root
        ok = (mode, owner) == ("600", "root:root") or (mode, owner) == ("640", "root:stunnel4")
        rows.append([f"{node.split('-')[-1]} {path}", f"{mode} {owner}", "600 root:root (640 root:stunnel4)", ok])
    return rows


def http_status(ip: str, port: int, path: str, auth: str | None) -> int:
    conn = http.client.HTTPConnection(ip, port, timeout=3)
    try:
        headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
        conn.request("GET", path, headers=headers)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


def check_stats(ip: str) -> list[list[t.Any]]:
    rows = []
    for path in ("/", "/;csv", "/metrics"):
        for label, auth in (("no password", None), ("wrong password", f"{app.ADMIN_USER}:wrong")):
            st = http_status(ip, 8404, path, auth)
            rows.append([f"{ip}:8404{path} {label}", st, "401", st == 401])
    st = http_status(ip, 8404, "/metrics", f"{app.ADMIN_USER}:{app.ADMIN_PASSWORD}")
    rows.append([f"{ip}:8404/metrics with the password", st, "200", st == 200])
    return rows


def open_ports(ip: str, ports: list[int]) -> set[int]:
    def probe(port: int) -> int | None:
        try:
            with socket.create_connection((ip, port), timeout=0.5):
                return port
        except OSError:
            return None
    with cf.ThreadPoolExecutor(64) as pool:
        return {p for p in pool.map(probe, ports) if p is not None}


def check_firewall() -> list[list[t.Any]]:
    ports = list(range(1, 1025)) + [2049, 3306, 5000, 8080, 8404, 8443, 10000, 20000, 20001, 20002, 20003, 60000, 60001]
    # the plan: Exchange services on the VIP (SMTP, HTTP redirect, HTTPS, RPC endpoint mapper + the two RPC
    # ports); SSH (on every address of the node, the VIP included) and the statistics port on the node
    # address, from the admin networks (this host is in the node's subnet); peers only from the other node
    expected = {app.VIP: {22, 25, 80, 443, 135, 60000, 60001}, app.LBS[0].ip: {22, 8404}}
    rows = []
    for ip, want in expected.items():
        got = open_ports(ip, ports)
        # a busy host can miss a SYN/ACK within 0.5 s: expected ports not seen get one slower retry
        for port in want - got:
            try:
                with socket.create_connection((ip, port), timeout=3):
                    got.add(port)
            except OSError:
                pass
        rows.append([f"{ip} open TCP ports ({len(ports)} probed)", sorted(got), sorted(want), got == want])
    return rows


def check_secrets(full: bool) -> list[list[t.Any]]:
    rows = []
    for node in ("exlb-bench-lb1", "exlb-bench-stn"):
        out = pexec(node, "journalctl --no-pager -o cat 2>/dev/null; cat /var/log/*.log 2>/dev/null", timeout=60,
                    check=False).stdout
        found = [s[:12] for s in SECRETS if s in out]
        rows.append([f"{node.split('-')[-1]} journal + /var/log", ", ".join(found) or "none", "none", not found])
    if full:
        inv = app.write_inventory(0.1)
        proc = run([str(app.ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inv), "--limit", "bstn", "--check",
                    "--diff", "-vvv", "-e", "exchange_admin_password=bench-admin-Changed", str(app.ROOT / "site.yml")],
                   timeout=600, env=app.playbook_env(), check=False)
        text = proc.stdout + proc.stderr
        found = [s[:12] for s in SECRETS + ["bench-admin-Changed"] if s in text]
        rows.append([f"site.yml --check --diff -vvv, password changed (rc={proc.returncode}, {len(text)} chars)",
                     ", ".join(found) or "none", "none", not found])
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    app.select_smoke()
    info = machine()
    started = False
    t0 = time.monotonic()
    try:
        started = app.bring_up(args.reuse)
        ok = run_checks(info, args.smoke)
    finally:
        if started and not args.keep:
            app.remove()
    log(f"security checks done in {time.monotonic() - t0:.0f} s")
    return 0 if ok else 1


def run_checks(info: dict[str, t.Any], smoke: bool) -> bool:
    """All checks against the running bench appliance; prints the table, saves security.json."""
    app.write_inventory(0.1)
    app.wait_vip("exlb-bench-lb1", 90)
    rows = check_tls(app.VIP) + check_tls("10.89.60.83")
    rows += check_sslyze(app.VIP) + check_sslyze("10.89.60.83")
    rows += check_key_modes("exlb-bench-lb1") + check_key_modes("exlb-bench-stn")
    rows += check_stats(app.LBS[0].ip)
    rows += check_firewall()
    rows += check_secrets(full=not smoke)
    print(table("Security checks", ["check", "found", "expected", "ok"],
                [[r[0], r[1], r[2], "ok" if r[3] else "FAIL"] for r in rows]))
    save("security", {"machine": info, "smoke": smoke,
                      "checks": [{"check": r[0], "found": str(r[1]), "expected": str(r[2]), "ok": bool(r[3])} for r in rows]})
    return all(r[3] for r in rows)


if __name__ == "__main__":
    run_main(main, "security")
