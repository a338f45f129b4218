"""Helpers for the lab tests (run from the host against a running lab).

The lab layout comes from lab/env.sh (single source of truth).  Imported by
conftest.py and the test modules (pytest runs with --import-mode=importlib, so
this directory is put on sys.path explicitly).
"""
from __future__ import annotations

import http.client
import os
import shlex
import socket
import ssl
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _lab_env() -> dict[str, str]:
    out = subprocess.run(["bash", str(REPO / "lab" / "env.sh")], check=True, capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        if line.startswith("export "):
            k, _, v = line[len("export "):].partition("=")
            env[k] = shlex.split(v)[0] if v else ""
    return env


ENV = _lab_env()
STATE = Path(ENV["LAB_STATE"])
PKI = Path(ENV["LAB_PKI_DIR"])
MAIL_FQDN = ENV["LAB_MAIL_FQDN"]


def _nodes(var: str) -> list[dict]:
    out = []
    for entry in ENV[var].split():
        name, host, ip, role, kind = entry.split(":")
        out.append({"name": name, "host": host, "ip": ip, "role": role, "kind": kind})
    return out


NODES = _nodes("LAB_NODES")
STANDINS = _nodes("LAB_STANDINS")
CAS = [n for n in STANDINS if n["role"] == "cas"]
HUBS = [n for n in STANDINS if n["role"] == "hub"]
LAB_HINT = "the lab is not up: run `lab/lab.sh up` (or `lab/lab.sh up --standins-only`) first"


def tcp_open(ip: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def podman(*args: str, timeout: float = 20, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, CONTAINERS_CONF=ENV["CONTAINERS_CONF"])
    r = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise AssertionError("podman %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def tls_context() -> ssl.SSLContext:
    """Verifies against the lab root CA only (so servers must send the intermediate)."""
    ctx = ssl.create_default_context(cafile=str(PKI / "ca.crt"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an IP address while SNI + certificate check use a host name."""

    def __init__(self, ip: str, server_name: str, port: int = 443, timeout: float = 10):
        super().__init__(server_name, port, timeout=timeout, context=tls_context())
        self._ip = ip

    def connect(self):
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def http_conn(ip: str, scheme: str, timeout: float = 10) -> http.client.HTTPConnection:
    if scheme == "https":
        return PinnedHTTPSConnection(ip, MAIL_FQDN, timeout=timeout)
    return http.client.HTTPConnection(ip, 80, timeout=timeout)
