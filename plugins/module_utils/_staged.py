# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""The staged apply: every daemon configuration is rendered into a staging folder that mirrors the
node's paths (``<stage>/etc/haproxy/haproxy.cfg``), checked there by each daemon's own checker, and
only then put in place, file by file, with a backup of what it replaces.

- :func:`check_command`: a checker sees the staged files at their real paths: it runs in a private
  mount namespace where the staged ``etc`` is laid over ``/etc`` (a read-only overlay), so a staged
  haproxy.cfg finds its staged certificates. Nothing under /etc changes.
- :func:`changes` / :func:`install`: what differs between the stage and the node, and putting it in
  place; each replaced or created file is recorded in the backup folder's manifest first.
- :func:`rollback`: the files of the manifest back as they were (created ones removed).
- :func:`commit`: the applied set becomes the last known good one (``good``); the backup is dropped.
  :func:`remember` keeps the list of the files the apply manages (``managed.json``) for it.
"""

from __future__ import annotations

import dataclasses
import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import stat
import tempfile
import typing as t

MANIFEST = "manifest.json"
#: The shell that lays the stage over /etc in the checker's own mount namespace ($0: the stage).
OVERLAY = 'mount -t overlay exlb-stage -o "lowerdir=$0/etc:/etc" /etc && exec "$@"'


@dataclasses.dataclass(frozen=True)
class Managed:
    """A file the apply puts in place: its path on the node and how it is owned."""

    path: str
    owner: str = "root"
    group: str = "root"
    mode: str = "0644"
    secret: bool = False  # its content is never shown (keys)
    redact: str = ""  # a regular expression: what it matches is never shown (a password hash), only a fingerprint


@dataclasses.dataclass(frozen=True)
class Change:
    path: str
    reason: str  # created | content | attributes
    before: str | None  # text for the diff, None when secret or binary
    after: str | None


def staged(stage: str, path: str) -> str:
    """Where ``path`` of the node lives in the stage."""
    if not os.path.isabs(path):
        raise ValueError(f"{path}: not an absolute path")
    return os.path.join(stage, path.lstrip("/"))


def check_command(stage: str, argv: t.Sequence[str]) -> list[str]:
    """``argv`` run where the stage's ``etc`` lies over ``/etc`` (root; the overlay is private)."""
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-ec", OVERLAY, stage, *argv]


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _text(data: bytes | None, item: Managed) -> str | None:
    if data is None:
        return ""
    if item.secret:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return re.sub(item.redact, _hidden, text) if item.redact else text


def _hidden(match: re.Match[str]) -> str:
    """A secret as a diff shows it: hidden, with a short fingerprint so that a change still shows."""
    return f"(hidden #{hashlib.sha256(match.group(0).encode('utf-8')).hexdigest()[:8]})"


def _ids(item: Managed) -> tuple[int, int, int]:
    return pwd.getpwnam(item.owner).pw_uid, grp.getgrnam(item.group).gr_gid, int(item.mode, 8)


def changes(stage: str, files: t.Iterable[Managed]) -> list[Change]:
    """The managed files whose staged content or ownership differs from the node's."""
    found = []
    for item in files:
        new = _read(staged(stage, item.path))
        if new is None:
            raise FileNotFoundError(f"{item.path}: not staged ({staged(stage, item.path)} is missing)")
        old = _read(item.path)
        if old is None:
            reason = "created"
        elif old != new:
            reason = "content"
        else:
            info = os.stat(item.path)
            uid, gid, mode = _ids(item)
            if (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (uid, gid, mode):
                continue
            reason = "attributes"
        found.append(Change(item.path, reason, _text(old, item), _text(new, item)))
    return found


def _load_manifest(backup: str) -> dict[str, str]:
    try:
        with open(os.path.join(backup, MANIFEST), encoding="utf-8") as handle:
            return dict(json.load(handle))
    except FileNotFoundError:
        return {}


def _save_manifest(backup: str, manifest: t.Mapping[str, str]) -> None:
    os.makedirs(backup, mode=0o700, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=backup, delete=False, encoding="utf-8") as handle:
        json.dump(dict(sorted(manifest.items())), handle, indent=1)
    os.replace(handle.name, os.path.join(backup, MANIFEST))


def _put(source: str, item: Managed) -> None:
    """``source``'s content at ``item.path`` with its ownership, replaced in one rename."""
    uid, gid, mode = _ids(item)
    directory = os.path.dirname(item.path)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".exlb-")
    try:
        with os.fdopen(descriptor, "wb") as handle, open(source, "rb") as data:
            shutil.copyfileobj(data, handle)
        os.chown(temporary, uid, gid)
        os.chmod(temporary, mode)
        os.replace(temporary, item.path)
    except BaseException:
        os.unlink(temporary)
        raise


def install(stage: str, backup: str, files: t.Iterable[Managed], pending: t.Iterable[Change]) -> None:
    """Put the ``pending`` changes in place. Before a file is replaced or created, the manifest of
    ``backup`` records it (the first record of a path is kept until :func:`commit` or :func:`rollback`,
    so a run that failed half-way goes back to the set before it)."""
    by_path = {item.path: item for item in files}
    manifest = _load_manifest(backup)
    for change in pending:
        item = by_path[change.path]
        if change.path not in manifest:
            if change.reason == "created":
                manifest[change.path] = "created"
            else:
                saved = staged(os.path.join(backup, "files"), change.path)
                os.makedirs(os.path.dirname(saved), mode=0o700, exist_ok=True)
                shutil.copy2(change.path, saved)
                info = os.stat(change.path)
                os.chown(saved, info.st_uid, info.st_gid)
                manifest[change.path] = "replaced"
            _save_manifest(backup, manifest)
        _put(staged(stage, change.path), item)


def rollback(backup: str) -> list[str]:
    """Every file of the manifest back as it was before the uncommitted apply; the paths restored."""
    manifest = _load_manifest(backup)
    for path, how in manifest.items():
        if how == "created":
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        else:
            saved = staged(os.path.join(backup, "files"), path)
            info = os.stat(saved)
            if _same(saved, path, info):
                continue  # never replaced (the apply failed on it, e.g. a full disk): nothing to write
            os.replace(_copy_beside(saved, path, info), path)
    shutil.rmtree(backup, ignore_errors=True)
    return sorted(manifest)


def _same(saved: str, path: str, info: os.stat_result) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    return (now.st_uid, now.st_gid, now.st_mode) == (info.st_uid, info.st_gid, info.st_mode) and _read(saved) == _read(path)


def _copy_beside(saved: str, path: str, info: os.stat_result) -> str:
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".exlb-")
    with os.fdopen(descriptor, "wb") as handle, open(saved, "rb") as data:
        shutil.copyfileobj(data, handle)
    os.chown(temporary, info.st_uid, info.st_gid)
    os.chmod(temporary, stat.S_IMODE(info.st_mode))
    return temporary


def remember(registry: str, files: t.Iterable[Managed]) -> None:
    """Add ``files`` to the registry of the files the apply manages (what :func:`commit` keeps)."""
    known = {item.path: item for item in managed(registry)}
    known.update({item.path: item for item in files})
    os.makedirs(os.path.dirname(registry), mode=0o700, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(registry), delete=False, encoding="utf-8") as handle:
        json.dump([dataclasses.asdict(known[path]) for path in sorted(known)], handle, indent=1)
    os.replace(handle.name, registry)


def managed(registry: str) -> list[Managed]:
    """The files the apply has managed on this node (empty before the first apply)."""
    try:
        with open(registry, encoding="utf-8") as handle:
            return [Managed(**entry) for entry in json.load(handle)]
    except FileNotFoundError:
        return []


def commit(backup: str, good: str, files: t.Iterable[Managed]) -> None:
    """The node's managed files become the last known good set (kept in ``good``); the backup goes."""
    fresh = f"{good}.new"
    shutil.rmtree(fresh, ignore_errors=True)
    os.makedirs(fresh, mode=0o700)
    for item in files:
        if os.path.exists(item.path):
            target = staged(fresh, item.path)
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            shutil.copy2(item.path, target)
    shutil.rmtree(good, ignore_errors=True)
    os.replace(fresh, good)
    shutil.rmtree(backup, ignore_errors=True)


def stale(directory: str, keep: t.Iterable[str]) -> list[str]:
    """The files of ``directory`` (not below it) that ``keep`` does not name: keys of a service that no
    longer ends TLS on the appliance, of an SNI name that was removed."""
    wanted = set(keep)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(path for path in (os.path.join(directory, name) for name in names) if os.path.isfile(path) and path not in wanted)


def prune(paths: t.Iterable[str]) -> None:
    """Remove ``paths`` (see :func:`stale`)."""
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
