"""The appliance under test: containers exlb-bench-* in 10.89.60.80-91, converged with site.yml.

    VIP 10.89.60.80   exlb-bench-lb1 .81 (master)  exlb-bench-lb2 .82 (backup)   haproxy TLS, RSA-2048
                      exlb-bench-stn .83  stunnel TLS, RSA-2048 (single node)
                      exlb-bench-ec  .84  haproxy TLS, ECDSA P-256 (single node)
                      exlb-bench-stne .87 stunnel TLS, ECDSA P-256 (single node)
                      exlb-bench-d13 .90 / exlb-bench-d13s .91: haproxy / stunnel TLS, RSA-2048, Debian 13
                      (single nodes; the TLS benchmark of the full run only: OpenSSL 3.5 against Debian 12's 3.0)
    own stand-in CAS  exlb-bench-cas1 .85, exlb-bench-cas2 .86 (the benchmark may freeze them)

Converged with the collection's site playbook over SSH, as a real appliance is (user ansible with the lab's
key and sudo); the nodes keep fixed MAC addresses, so that a node made again at the same address is
reached at once (no stale ARP entry on the lab bridge).
"""

from __future__ import annotations

import os
import re
import sys
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, BenchError, log, pexec, podman, run

STATE = ROOT / ".build" / "bench"
NODE_IMAGE = os.environ.get("LAB_NODE_IMAGE", "localhost/exlb-node:debian12")
NODE_IMAGE_DEBIAN13 = "localhost/exlb-node:debian13"
STANDIN_IMAGE = os.environ.get("LAB_STANDIN_IMAGE", "localhost/exlb-standin:debian12")
NETWORK = "exlb-lab"
VIP = "10.89.60.80"
CLUSTER_ID = 181
ADMIN_USER, ADMIN_PASSWORD = "admin", "bench-admin-Secret"
PKI = ROOT / ".lab" / "pki"
sys.path.insert(0, str(ROOT / "lab"))
from nodessh import mac_of, ssh_vars  # noqa: E402  (reached as molecule's nodes are)


@dataclass
class Node:
    name: str        # container
    host: str        # inventory and host name
    ip: str
    kind: str        # lb | cas | hub
    vars: dict[str, t.Any] = field(default_factory=dict)
    image: str = ""  # lb nodes: the node image, NODE_IMAGE when empty


LBS = [
    Node("exlb-bench-lb1", "blb1", "10.89.60.81", "lb", {"exchange_ha_role": "master"}),
    Node("exlb-bench-lb2", "blb2", "10.89.60.82", "lb", {"exchange_ha_role": "backup"}),
    Node("exlb-bench-stn", "bstn", "10.89.60.83", "lb", {"exchange_tls_engine": "stunnel"}),
    Node("exlb-bench-ec", "bec", "10.89.60.84", "lb", {"exchange_http_certificate": str(PKI / "mail.mydomain.local-ecdsa.pfx")}),
    Node("exlb-bench-stne", "bstne", "10.89.60.87", "lb", {"exchange_tls_engine": "stunnel",
                                                          "exchange_http_certificate": str(PKI / "mail.mydomain.local-ecdsa.pfx")}),
]
# OpenSSL 3.5 (Debian 13) against 3.0 (Debian 12) in the TLS benchmark: single nodes, full run only
LBS_DEBIAN13 = [
    Node("exlb-bench-d13", "bd13", "10.89.60.90", "lb", {}, NODE_IMAGE_DEBIAN13),
    Node("exlb-bench-d13s", "bd13s", "10.89.60.91", "lb", {"exchange_tls_engine": "stunnel"}, NODE_IMAGE_DEBIAN13),
]
CAS = [
    Node("exlb-bench-cas1", "bcas1", "10.89.60.85", "cas"),
    Node("exlb-bench-cas2", "bcas2", "10.89.60.86", "cas"),
]
HUBS = [
    Node("exlb-bench-hub1", "bhub1", "10.89.60.88", "hub"),
    Node("exlb-bench-hub2", "bhub2", "10.89.60.89", "hub"),
]
ALL = LBS + CAS + HUBS


def select_smoke() -> None:
    """The smoke run (CI): the pair and the stunnel node only (the ECDSA nodes are left out)."""
    global LBS, ALL
    LBS = [n for n in LBS if n.host in ("blb1", "blb2", "bstn")]
    ALL = LBS + CAS + HUBS


def add_debian13() -> None:
    """The TLS benchmark of the full run: two more single nodes on Debian 13."""
    global LBS, ALL
    LBS = LBS + [n for n in LBS_DEBIAN13 if n not in LBS]
    ALL = LBS + CAS + HUBS


def by_host(host: str) -> Node:
    return next(n for n in ALL if n.host == host)


def group_vars(advert: float) -> dict[str, t.Any]:
    return {
        "exchange_cas_servers": [{"name": n.host, "address": n.ip} for n in CAS],
        "exchange_hub_servers": [{"name": n.host, "address": n.ip} for n in HUBS],
        "exchange_smtp_mode": "clear",
        "exchange_http_mode": "ssl-offload",
        "exchange_http_host_name": "mail.mydomain.local",
        "exchange_http_certificate": str(PKI / "mail.mydomain.local.pfx"),
        "exchange_http_certificate_password": "labpfx",
        "exchange_admin_user": ADMIN_USER,
        "exchange_admin_password": ADMIN_PASSWORD,
        "exchange_virtual_service_address": VIP,
        "exchange_cluster_identifier": CLUSTER_ID,
        "keepalived_vrrp_version": 3,
        "keepalived_advert_interval": advert,
    }


def _yaml(value: t.Any, indent: int = 0) -> str:
    """JSON is YAML: one line per variable keeps the inventory readable enough."""
    import json
    return json.dumps(value)


def write_inventory(advert: float) -> Path:
    STATE.mkdir(parents=True, exist_ok=True)
    lines = ["---", "all:", "  children:", "    exchange_lb:", "      vars:",
             "        ansible_python_interpreter: /usr/bin/python3"]
    lines += [f"        {k}: {_yaml(v)}" for k, v in ssh_vars("").items() if k != "ansible_host"]
    lines += [f"        {k}: {_yaml(v)}" for k, v in group_vars(advert).items()]
    lines.append("      hosts:")
    for n in LBS:
        lines.append(f"        {n.host}:")
        lines.append(f"          ansible_host: {n.ip}")
        lines.append(f"          exchange_network_address: {n.ip}")
        lines += [f"          {k}: {_yaml(v)}" for k, v in n.vars.items()]
    path = STATE / "inventory.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def containers_exist() -> list[str]:
    out = podman("ps", "-a", "--filter", "name=^exlb-bench-", "--format", "{{.Names}}", check=False).stdout
    return [x for x in out.split() if x]


def start() -> None:
    """(Re)create the bench containers; bounded waits for systemd and the stand-ins' ports."""
    remove()
    for n in ALL:
        args = ["run", "--detach", "--name", n.name, "--hostname", n.host, "--network", NETWORK, "--ip", n.ip,
                "--mac-address", mac_of(n.ip),
                "--systemd=always", "--label", "org.exlb.bench=1",
                "--add-host", f"mail.mydomain.local:{VIP}"]
        if n.kind == "lb":
            key = ssh_vars(n.ip)["ansible_ssh_private_key_file"]
            args += ["--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--cap-add", "SYS_ADMIN",
                     "-v", f"{key}.pub:/home/ansible/.ssh/authorized_keys:ro", n.image or NODE_IMAGE, "/sbin/init"]
        else:
            args += ["-v", f"{PKI}/standin:/etc/lab/pki:ro", STANDIN_IMAGE, "/sbin/init", f"--unit=lab-{n.kind}.target"]
        podman(*args, timeout=60)
    deadline = time.monotonic() + 90
    for n in ALL:
        left = max(deadline - time.monotonic(), 1)
        pexec(n.name, "systemctl is-system-running --wait >/dev/null 2>&1 || true", timeout=left, check=False)
    for n in CAS:
        wait_port(n.ip, 443, 60)
        wait_port(n.ip, 80, 60)
    for n in HUBS:
        wait_port(n.ip, 25, 60)
    log(f"started {len(ALL)} containers: {' '.join(n.name for n in ALL)}")


def remove() -> None:
    names = containers_exist()
    if names:
        podman("rm", "-f", "-t", "0", *names, timeout=120, check=False)


def wait_port(ip: str, port: int, seconds: float) -> None:
    import socket
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ip, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise BenchError(f"{ip}:{port} not listening after {seconds} s")


def playbook_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build" / "collections"),
        "ANSIBLE_FORKS": "10",
        "LAB_APT_PROXY": env.get("LAB_APT_PROXY", "http://10.89.60.1:3142"),
        "PATH": f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}",
    })
    return env


def playbook(playbook_path: Path, inventory: Path, timeout: float = 600) -> tuple[float, int, str]:
    """Run a playbook; return (seconds, changed total, recap)."""
    t0 = time.monotonic()
    proc = run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory), str(playbook_path)],
               timeout=timeout, env=playbook_env(), check=False)
    seconds = time.monotonic() - t0
    out = proc.stdout or ""
    recap = out[out.rfind("PLAY RECAP"):] if "PLAY RECAP" in out else out[-3000:]
    if proc.returncode != 0:
        (STATE / "last-failed-playbook.log").write_text(out + (proc.stderr or ""))
        raise BenchError(f"{playbook_path.name} failed (rc={proc.returncode}); see .build/bench/last-failed-playbook.log\n"
                         + recap[-1500:])
    changed = sum(int(x) for x in re.findall(r"changed=(\d+)", recap))
    return seconds, changed, recap


def converge(advert: float) -> tuple[float, int]:
    inv = write_inventory(advert)
    return playbook(ROOT / "site.yml", inv)[:2]


def bring_up(reuse: bool, advert: float = 0.1) -> bool:
    """Start, prepare and converge the bench appliance, unless `reuse` finds all its containers there;
    True when it was started here (the caller removes it)."""
    if reuse and all(n.name in containers_exist() for n in ALL):
        write_inventory(advert)
        return False
    start()
    prepare(advert)
    log("converging ...")
    secs, changed = converge(advert)
    log(f"converged in {secs:.0f} s (changed={changed})")
    return True


def prepare(advert: float) -> None:
    inv = write_inventory(advert)
    playbook(ROOT / ".config" / "molecule" / "prepare.yml", inv)


def vip_holder() -> str | None:
    for n in LBS[:2]:
        out = pexec(n.name, "ip -4 -o addr show", timeout=20, check=False).stdout
        if f" {VIP}/" in out:
            return n.name
    return None


def wait_vip(name: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if vip_holder() == name:
            return
        time.sleep(0.3)
    raise BenchError(f"the VIP {VIP} is not on {name} after {seconds} s")


def cpu_by_process(name: str) -> dict[str, float]:
    """utime+stime (s) of every process now in the container, summed by command name."""
    out = pexec(name, "cat /proc/[0-9]*/stat 2>/dev/null", timeout=20, check=False).stdout
    by: dict[str, float] = {}
    tck = os.sysconf("SC_CLK_TCK")
    for line in out.splitlines():
        comm = line[line.find("(") + 1:line.rfind(")")]
        rest = line[line.rfind(")") + 2:].split()
        if len(rest) > 13:
            by[comm] = by.get(comm, 0.0) + (int(rest[11]) + int(rest[12])) / tck
    return by


def cpu_seconds(name: str) -> float:
    """utime+stime of every process now in the container (the appliance's CPU time)."""
    return sum(cpu_by_process(name).values())


def rss_kib(name: str) -> dict[str, int]:
    out = pexec(name, "ps -e -o rss=,comm=", timeout=20, check=False).stdout
    total: dict[str, int] = {"haproxy": 0, "stunnel": 0, "keepalived": 0}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        for key in total:
            if parts[1].startswith(key):
                total[key] += int(parts[0])
    return total
