"""The daemons' own configuration checks, run on a rendered file as the roles' ``validate:`` runs them on a node.

A rendered file names paths of the node (certificates under ``/etc/exchange-lb/tls``, a CA bundle, haproxy's
chroot and server-state file, keepalived's track and notify scripts under ``/usr/local/sbin``) that this host
does not have. :func:`prepare` finds them in the text (:data:`NODE_PATH`: any absolute path under a top-level
directory of the node's file system), builds a stand-in for each under a directory of its own and rewrites the
text to point there; :func:`run` then runs the daemon's checker on the rewritten copy. No list of paths per case:
a new case or a new path in a template is covered as it comes.

A path's stand-in follows from how the text uses it (:func:`kinds`): a directory (it ends with ``/``, is
haproxy's ``chroot`` or holds another referenced path), an executable script (it lies in a ``bin`` or ``sbin``
directory, or starts a keepalived ``script``/``notify`` command), a real PEM with a self-signed certificate and
its key (``.pem``, ``.crt``, ``.cer``, ``.key``: haproxy loads a ``crt`` and a ``ca-file``), haproxy's
server-state file with no server in it, else an empty file (a socket, a script's argument: no check opens them).
``/dev``, ``/proc`` and ``/sys`` are the kernel's on every host and stay as they are (haproxy's ``log /dev/log``).

keepalived's and nft's checks run in a user and network namespace (``unshare -rn``) that holds the interfaces of
the node the test models: ``keepalived --config-test`` refuses an ``interface`` the host does not have, ``nft -c``
needs CAP_NET_ADMIN over a netlink socket (an unprivileged user gets "cache initialization failed: Operation not
permitted" without the namespace), and a fresh namespace starts from an empty rule set, as a new node does.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import os
import re
import shlex
import subprocess
import typing as t
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: An absolute path into the node's file system (a URL path such as ``/owa/`` is under none of these).
NODE_PATH = re.compile(
    r"(?<![\w.@+~/-])/(?:etc|var|run|usr|opt|srv|tmp|home|root|boot|mnt|media|lib|lib64|bin|sbin)(?:/[\w.@+-]+)+/?"
)
#: The first word of a keepalived command (``script "..."``, ``notify "..."``, ``notify_master ...``).
COMMAND = re.compile(r"^\s*(?:script|notify\w*)\s+\"?(/[^\s\"]+)", re.M)
#: haproxy's chroot directory.
CHROOT = re.compile(r"^\s*chroot\s+(\S+)", re.M)
#: haproxy's server-state file: its stand-in holds the format's version line and no server, as a first save writes it.
SERVER_STATE = re.compile(r"^\s*server-state-file\s+(\S+)", re.M)
CERTIFICATE_SUFFIXES = (".pem", ".crt", ".cer", ".key")
#: Where the checkers live on a Debian host, as the roles' ``validate:`` names them.
SBIN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
TIMEOUT = 60  # seconds for one check


class Kind(enum.Enum):
    DIRECTORY = "directory"
    EXECUTABLE = "executable"
    CERTIFICATE = "certificate"
    SERVER_STATE = "server-state"
    FILE = "file"


@dataclasses.dataclass(frozen=True)
class Checker:
    """A daemon's configuration check: ``command`` with ``%s`` for the file, as in the role's ``validate:``."""

    package: str
    command: tuple[str, ...]
    #: run in a user and network namespace holding the node's interfaces
    namespace: bool = False
    #: only root can pass it (keepalived's script security: every directory up to ``/`` owned by root,
    #: which a user namespace of an unprivileged user shows as owned by nobody)
    needs_root: bool = False


#: The checker of each role's file (roles/*/tasks/main.yml, ``validate:``); the check's output is wanted,
#: so haproxy runs without the role's ``-q``.
CHECKERS: dict[str, Checker] = {
    "haproxy": Checker("haproxy", ("/usr/sbin/haproxy", "-c", "-f", "%s")),
    "keepalived": Checker("keepalived", ("/usr/sbin/keepalived", "--config-test", "--use-file", "%s"), namespace=True, needs_root=True),
    "firewall": Checker("nftables", ("/usr/sbin/nft", "-c", "-f", "%s"), namespace=True),
}


def unavailable(role: str) -> str | None:
    """Why the checker of ``role`` cannot run on this host, or None."""
    checker = CHECKERS[role]
    needed = [checker.command[0]] + (["/usr/bin/unshare"] if checker.namespace else [])
    absent = [path for path in needed if not os.access(path, os.X_OK)]
    if absent:
        return f"{', '.join(absent)} not installed: run `make deps` (installs {checker.package} without starting it)"
    if checker.needs_root and os.geteuid() != 0:
        return f"{checker.package}'s check passes only as root (enable_script_security wants root-owned script directories): run the tests as root"
    return None


def kinds(text: str) -> dict[str, Kind]:
    """The node paths ``text`` references, each with the kind of stand-in it needs."""
    paths = {match.group(0) for match in NODE_PATH.finditer(text)}
    commands = set(COMMAND.findall(text))
    chroots = set(CHROOT.findall(text))
    states = set(SERVER_STATE.findall(text))
    found = {}
    for path in sorted(paths):
        bare = path.rstrip("/")
        if path.endswith("/") or path in chroots or any(other.startswith(bare + "/") for other in paths):
            found[path] = Kind.DIRECTORY
        elif path in commands or Path(path).parent.name in ("bin", "sbin"):
            found[path] = Kind.EXECUTABLE
        elif path.endswith(CERTIFICATE_SUFFIXES):
            found[path] = Kind.CERTIFICATE
        elif path in states:
            found[path] = Kind.SERVER_STATE
        else:
            found[path] = Kind.FILE
    return found


@functools.cache
def certificate_pem(name: str) -> bytes:
    """A self-signed certificate for ``name`` and its key, in one PEM (as the certificate module installs them)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def directory(path: Path) -> None:
    """``path`` and its missing parents, each 0755 whatever the umask (keepalived refuses writable ones)."""
    missing = [parent for parent in (path, *path.parents) if not parent.exists()]
    for each in reversed(missing):
        each.mkdir()
        each.chmod(0o755)


def prepare(text: str, name: str, workdir: Path) -> Path:
    """Stand-ins of the node paths of ``text`` under ``workdir/root``; the rewritten text as ``workdir/name``."""
    root = workdir / "root"
    directory(root)
    for path, kind in kinds(text).items():
        target = root / path.strip("/")
        if kind is Kind.DIRECTORY:
            directory(target)
            continue
        directory(target.parent)
        if kind is Kind.EXECUTABLE:
            target.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
            target.chmod(0o755)
        elif kind is Kind.CERTIFICATE:
            target.write_bytes(certificate_pem(Path(path).stem))
            target.chmod(0o600)
        elif kind is Kind.SERVER_STATE:
            target.write_text("1\n", encoding="utf-8")
        else:
            target.touch()
    rewritten = NODE_PATH.sub(lambda match: f"{root}{match.group(0)}", text)
    checked = workdir / name
    checked.write_text(rewritten, encoding="utf-8")
    return checked


@dataclasses.dataclass(frozen=True)
class Outcome:
    command: str
    returncode: int
    output: str


def command(role: str, path: Path, interfaces: t.Sequence[str] = ()) -> list[str]:
    checker = CHECKERS[role]
    argv = [str(path) if word == "%s" else word for word in checker.command]
    if not checker.namespace:
        return argv
    # a dummy interface where the kernel has the module (a user namespace cannot load it), else a bridge
    links = "".join(f"ip link add {shlex.quote(name)} type dummy 2>/dev/null || ip link add {shlex.quote(name)} type bridge; " for name in interfaces)
    return ["unshare", "--user", "--map-root-user", "--net", "sh", "-ec", f'{links}exec "$@"', "sh", *argv]


def run(role: str, path: Path, interfaces: t.Sequence[str] = ()) -> Outcome:
    """The checker of ``role`` on ``path`` (stdout and stderr together)."""
    argv = command(role, path, interfaces)
    env = {**os.environ, "PATH": f"{SBIN_PATH}:{os.environ.get('PATH', '')}", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env, timeout=TIMEOUT, check=False,
        )
    except subprocess.TimeoutExpired as error:
        return Outcome(shlex.join(argv), -1, f"no answer in {TIMEOUT} s: {error.output or ''}")
    return Outcome(shlex.join(argv), done.returncode, done.stdout)
