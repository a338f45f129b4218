#!/usr/bin/env python3
"""Tiny forward proxy for apt inside the lab's --internal podman network.

Standard library only.  It serves GET/HEAD for http:// URLs whose host (and
path prefix) is one of the Debian mirrors configured in *this machine's* apt
sources, and nothing else.  The container side always talks plain http to the
proxy; the proxy fetches upstream with the scheme the host's own source uses
(so an https-only mirror works too).  Immutable files under /pool/ are cached
on disk (--cache DIR).

  aptproxy.py --print-mirrors            # shell-eval-able mirror variables
  aptproxy.py --bind 10.89.60.1:3142 --cache .lab/aptcache --pidfile .lab/aptproxy.pid

The mirror hosts are never written to any file: they are read from
/etc/apt/sources.list and /etc/apt/sources.list.d/*.list|*.sources at run time.
"""
from __future__ import annotations

import argparse
import glob
import http.client
import http.server
import os
import re
import shlex
import signal
import socket
import socketserver
import sys
import tempfile
import threading
import time
import urllib.parse

DEBIAN_CODENAMES = {
    "buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
    "stable", "oldstable", "testing", "unstable",
}
IP_FREEBIND = 15  # linux/in.h; lets us bind the bridge IP before netavark creates the bridge

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailers", "transfer-encoding", "upgrade", "proxy-connection",
}
FORWARD_REQ_HEADERS = (
    "Range", "If-Range", "If-Modified-Since", "If-None-Match", "Cache-Control",
    "Pragma", "User-Agent", "Accept",
)
UPSTREAM_TIMEOUT = 30


# ---------------------------------------------------------------- apt sources
def _parse_one_line(path: str) -> list[dict]:
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if parts[0] not in ("deb", "deb-src"):
                continue
            rest = parts[1:]
            if rest and rest[0].startswith("["):  # options: [arch=amd64 signed-by=...]
                while rest and not rest[0].endswith("]"):
                    rest = rest[1:]
                rest = rest[1:]
            if len(rest) < 2:
                continue
            out.append({"type": parts[0], "uri": rest[0], "suites": [rest[1]],
                        "components": rest[2:], "file": path})
    return out


def _parse_deb822(path: str) -> list[dict]:
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for raw in stanza.splitlines():
            if raw.startswith("#"):
                continue
            if raw[:1] in (" ", "\t") and key:
                fields[key] += " " + raw.strip()
                continue
            m = re.match(r"^([A-Za-z0-9-]+):\s*(.*)$", raw)
            if m:
                key = m.group(1).lower()
                fields[key] = m.group(2).strip()
        if not fields.get("uris") or fields.get("enabled", "yes").lower() == "no":
            continue
        for typ in fields.get("types", "deb").split():
            for uri in fields["uris"].split():
                out.append({"type": typ, "uri": uri, "suites": fields.get("suites", "").split(),
                            "components": fields.get("components", "").split(), "file": path})
    return out


def read_apt_sources(root: str = "/") -> list[dict]:
    etc = os.path.join(root, "etc/apt")
    entries: list[dict] = []
    main = os.path.join(etc, "sources.list")
    if os.path.isfile(main):
        entries += _parse_one_line(main)
    for path in sorted(glob.glob(os.path.join(etc, "sources.list.d", "*.list"))):
        entries += _parse_one_line(path)
    for path in sorted(glob.glob(os.path.join(etc, "sources.list.d", "*.sources"))):
        entries += _parse_deb822(path)
    return entries


def debian_mirrors(root: str = "/") -> dict:
    """Return {'main': uri, 'security': uri, 'suite': host codename, 'all': [uris]}.

    An entry counts as Debian when its suite is a Debian codename (optionally with
    -updates/-security/-backports or /updates).  Everything else (nodesource,
    google, ...) is ignored.
    """
    main = security = suite = None
    uris: list[str] = []
    for e in read_apt_sources(root):
        if e["type"] != "deb" or not re.match(r"^https?://", e["uri"]):
            continue
        for s in e["suites"]:
            base = re.split(r"[-/]", s, maxsplit=1)[0]
            if base not in DEBIAN_CODENAMES:
                continue
            uri = e["uri"].rstrip("/")
            if uri not in uris:
                uris.append(uri)
            if s.endswith("-security") or s.endswith("/updates"):
                security = security or uri
            elif s == base:
                main = main or uri
                suite = suite or base
    return {"main": main, "security": security, "suite": suite, "all": uris}


# ---------------------------------------------------------------- the proxy
class Upstreams:
    """Allowed upstreams: http(s) URIs from the host's apt sources."""

    def __init__(self, uris: list[str]):
        self.prefixes = []  # (host, path-prefix, scheme, netloc)
        for u in uris:
            p = urllib.parse.urlsplit(u)
            self.prefixes.append((p.hostname.lower(), (p.path.rstrip("/") + "/"), p.scheme, p.netloc))
        self.prefixes.sort(key=lambda t: -len(t[1]))

    def resolve(self, url: str):
        p = urllib.parse.urlsplit(url)
        if p.scheme != "http" or not p.hostname:
            return None
        path = p.path or "/"
        if "/../" in path or path.endswith("/..") or "\x00" in path:
            return None
        for host, prefix, scheme, netloc in self.prefixes:
            if p.hostname.lower() == host and path.startswith(prefix):
                target = path + (("?" + p.query) if p.query else "")
                return scheme, netloc, target
        return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "exlb-aptproxy"
    upstreams: Upstreams
    cache_dir: str | None = None
    _local = threading.local()

    # quieter, single-line log
    def log_message(self, fmt, *args):  # noqa: N802 (stdlib name)
        sys.stderr.write("%s %s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), self.client_address[0], fmt % args))

    def _refuse(self, code: int, why: str):
        body = (why + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _not_allowed(self):
        self.close_connection = True
        self._refuse(405, "exlb-aptproxy: only GET and HEAD are allowed")

    do_POST = do_PUT = do_DELETE = do_CONNECT = do_OPTIONS = do_PATCH = _not_allowed  # noqa: N815

    def do_HEAD(self):  # noqa: N802
        self._proxy()

    def do_GET(self):  # noqa: N802
        self._proxy()

    def _conn(self, scheme: str, netloc: str):
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        key = (scheme, netloc)
        conn = pool.get(key)
        if conn is None:
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = pool[key] = cls(netloc, timeout=UPSTREAM_TIMEOUT)
        return conn

    def _drop_conn(self, scheme: str, netloc: str):
        pool = getattr(self._local, "pool", {})
        conn = pool.pop((scheme, netloc), None)
        if conn is not None:
            conn.close()

    def _cache_path(self, netloc: str, target: str) -> str | None:
        if not self.cache_dir or "/pool/" not in target or "?" in target or not target.endswith(".deb"):
            return None
        return os.path.join(self.cache_dir, netloc.replace(":", "_"), target.lstrip("/"))

    def _serve_cached(self, path: str) -> bool:
        try:
            fh = open(path, "rb")
        except OSError:
            return False
        with fh:
            size = os.fstat(fh.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.debian.binary-package")
            self.send_header("Content-Length", str(size))
            self.send_header("X-Cache", "HIT")
            self.end_headers()
            if self.command == "GET":
                while True:
                    chunk = fh.read(256 * 1024)
                    if not chunk:
                        break
                    self.wfile.write(chunk)
        return True

    def _proxy(self):
        resolved = self.upstreams.resolve(self.path)
        if resolved is None:
            self.close_connection = True
            self._refuse(403, "exlb-aptproxy: not an allowed Debian mirror URL")
            return
        scheme, netloc, target = resolved
        cpath = self._cache_path(netloc, target)
        has_range = any(self.headers.get(h) for h in ("Range", "If-Range"))
        if cpath and not has_range and self._serve_cached(cpath):
            return
        headers = {h: self.headers[h] for h in FORWARD_REQ_HEADERS if self.headers.get(h)}
        headers["Host"] = netloc
        resp = None
        for attempt in (1, 2):  # one retry on a stale pooled connection
            conn = self._conn(scheme, netloc)
            try:
                conn.request(self.command, target, headers=headers)
                resp = conn.getresponse()
                break
            except (OSError, http.client.HTTPException) as exc:
                self._drop_conn(scheme, netloc)
                if attempt == 2:
                    self.close_connection = True
                    self._refuse(502, "exlb-aptproxy: upstream error: %s" % exc)
                    return
        assert resp is not None
        try:
            self._relay(resp, cpath if (resp.status == 200 and not has_range and self.command == "GET") else None)
        except (OSError, http.client.HTTPException):
            self._drop_conn(scheme, netloc)
            self.close_connection = True
            return
        if resp.will_close:
            self._drop_conn(scheme, netloc)

    def _relay(self, resp, cpath):
        length = resp.getheader("Content-Length")
        body = None
        if self.command == "GET" and length is None:
            body = resp.read()  # chunked/unknown length: buffer (rare for a mirror)
            length = str(len(body))
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() in HOP_BY_HOP or k.lower() == "content-length":
                continue
            self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        if self.command == "HEAD":
            resp.read()
            return
        if body is not None:
            self.wfile.write(body)
            return
        tmp = None
        if cpath:
            os.makedirs(os.path.dirname(cpath), exist_ok=True)
            tmp = tempfile.NamedTemporaryFile(dir=os.path.dirname(cpath), prefix=".part-", delete=False)
        remaining = int(length)
        try:
            while remaining > 0:
                chunk = resp.read(min(256 * 1024, remaining))
                if not chunk:
                    raise http.client.IncompleteRead(b"")
                remaining -= len(chunk)
                self.wfile.write(chunk)
                if tmp:
                    tmp.write(chunk)
            if tmp:
                tmp.close()
                os.replace(tmp.name, cpath)
                tmp = None
        finally:
            if tmp:
                tmp.close()
                os.unlink(tmp.name)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        try:
            self.socket.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        except OSError:
            pass
        super().server_bind()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--print-mirrors", action="store_true", help="print LAB_MIRROR_* shell variables and exit")
    ap.add_argument("--root", default="/", help="read apt sources below this root (tests)")
    ap.add_argument("--bind", default="127.0.0.1:3142", help="ADDR:PORT to listen on")
    ap.add_argument("--cache", help="directory for cached /pool/*.deb files")
    ap.add_argument("--pidfile", help="write our pid here once listening")
    ap.add_argument("--lab-marker", help="opaque tag so lab.sh can find its own leftovers")
    args = ap.parse_args()

    mirrors = debian_mirrors(args.root)
    if args.print_mirrors:
        if not mirrors["main"]:
            print("aptproxy: no Debian mirror found in the host's apt sources", file=sys.stderr)
            return 1
        print("LAB_MIRROR_MAIN=%s" % shlex.quote(mirrors["main"]))
        print("LAB_MIRROR_SECURITY=%s" % shlex.quote(mirrors["security"] or ""))
        print("LAB_HOST_SUITE=%s" % shlex.quote(mirrors["suite"] or ""))
        return 0
    if not mirrors["all"]:
        print("aptproxy: no Debian mirror found in the host's apt sources", file=sys.stderr)
        return 1

    Handler.upstreams = Upstreams(mirrors["all"])
    Handler.cache_dir = os.path.abspath(args.cache) if args.cache else None
    addr, _, port = args.bind.rpartition(":")
    httpd = Server((addr, int(port)), Handler)
    if args.pidfile:
        tmp = args.pidfile + ".tmp"
        with open(tmp, "w") as fh:
            fh.write("%d\n" % os.getpid())
        os.replace(tmp, args.pidfile)

    def _remove_pidfile():
        if not args.pidfile:
            return
        try:
            with open(args.pidfile) as fh:
                if fh.read().strip() == str(os.getpid()):
                    os.unlink(args.pidfile)
        except OSError:
            pass

    def _stop(signum, frame):  # noqa: ARG001
        # exit at once: in-flight downloads are apt's to retry, cache writes are atomic
        _remove_pidfile()
        sys.stderr.write("%s exlb-aptproxy stopped (signal %d)\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), signum))
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sys.stderr.write("%s exlb-aptproxy listening on %s, %d allowed mirror(s), cache=%s\n"
                     % (time.strftime("%Y-%m-%dT%H:%M:%S"), args.bind, len(mirrors["all"]), Handler.cache_dir))
    sys.stderr.flush()
    try:
        httpd.serve_forever(poll_interval=0.5)
    finally:
        httpd.server_close()
        _remove_pidfile()
    return 0


if __name__ == "__main__":
    sys.exit(main())
