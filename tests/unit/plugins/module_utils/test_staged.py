"""The staged apply on real files: what differs, putting it in place with a backup, rolling back,
keeping the last known good set; and a checker that sees the stage at the node's real paths."""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ansible_collections.exchange_lb.appliance.plugins.module_utils._staged import (
    Managed,
    changes,
    check_command,
    commit,
    install,
    managed,
    prune,
    remember,
    rollback,
    staged,
    stale,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import daemon_checks  # noqa: E402  (tests/unit: a real certificate for haproxy -c)

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def item(path: Path, mode: str = "0640", secret: bool = False) -> Managed:
    return Managed(str(path), USER, GROUP, mode, secret)


def stage_file(stage: Path, path: Path, text: str) -> None:
    target = Path(staged(str(stage), str(path)))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


@pytest.fixture(name="node")
def fixture_node(tmp_path: Path) -> dict[str, Path]:
    live = tmp_path / "etc" / "app"
    live.mkdir(parents=True)
    return {"base": tmp_path / "var", "live": live, "stage": tmp_path / "var" / "stage", "backup": tmp_path / "var" / "backup"}


def test_what_differs_is_created_changed_content_or_attributes_and_secrets_are_not_shown(node: dict[str, Path]) -> None:
    config, key, same = node["live"] / "app.cfg", node["live"] / "app.pem", node["live"] / "same.cfg"
    config.write_text("listen old\n", encoding="utf-8")
    same.write_text("x\n", encoding="utf-8")
    same.chmod(0o600)
    stage_file(node["stage"], config, "listen new\n")
    stage_file(node["stage"], key, "PRIVATE KEY\n")
    stage_file(node["stage"], same, "x\n")
    found = {change.path: change for change in changes(str(node["stage"]), [item(config), item(key, "0600", True), item(same)])}
    assert found[str(config)].reason == "content" and found[str(config)].after == "listen new\n"
    assert found[str(key)].reason == "created" and found[str(key)].after is None  # a key is never shown
    assert found[str(same)].reason == "attributes"  # 0600 on the node, 0640 wanted


def test_a_redacted_password_hash_never_shows_in_the_diff(node: dict[str, Path]) -> None:
    config = node["live"] / "haproxy.cfg"
    config.write_text("userlist admins\n    user admin password $6$old$hash1\n", encoding="utf-8")
    stage_file(node["stage"], config, "userlist admins\n    user admin password $6$new$hash2\n")
    managed_file = Managed(str(config), USER, GROUP, "0640", redact=r"(?<= password )\S+")
    (change,) = changes(str(node["stage"]), [managed_file])
    assert change.before and change.after
    assert re.fullmatch(r"userlist admins\n    user admin password \(hidden #[0-9a-f]{8}\)\n", change.before)
    assert re.fullmatch(r"userlist admins\n    user admin password \(hidden #[0-9a-f]{8}\)\n", change.after)
    assert change.before != change.after, "a changed password still shows as a change"
    assert "$6$" not in f"{change.before}{change.after}"


def test_a_file_that_was_not_staged_is_an_error_not_a_silent_skip(node: dict[str, Path]) -> None:
    with pytest.raises(FileNotFoundError, match="not staged"):
        changes(str(node["stage"]), [item(node["live"] / "missing.cfg")])


def test_install_then_rollback_puts_the_node_back_exactly(node: dict[str, Path]) -> None:
    config, new = node["live"] / "app.cfg", node["live"] / "new.pem"
    config.write_text("listen old\n", encoding="utf-8")
    config.chmod(0o644)
    stage_file(node["stage"], config, "listen new\n")
    stage_file(node["stage"], new, "KEY\n")
    files = [item(config), item(new, "0600", True)]
    install(str(node["stage"]), str(node["backup"]), files, changes(str(node["stage"]), files))
    assert config.read_text(encoding="utf-8") == "listen new\n" and oct(config.stat().st_mode & 0o777) == "0o640"
    assert new.read_text(encoding="utf-8") == "KEY\n" and oct(new.stat().st_mode & 0o777) == "0o600"
    assert changes(str(node["stage"]), files) == []  # idempotent
    # a second apply in the same failed run keeps the first backup: rollback goes back to the start
    stage_file(node["stage"], config, "listen newer\n")
    install(str(node["stage"]), str(node["backup"]), files, changes(str(node["stage"]), files))
    restored = rollback(str(node["backup"]))
    assert restored == sorted([str(config), str(new)])
    assert config.read_text(encoding="utf-8") == "listen old\n" and oct(config.stat().st_mode & 0o777) == "0o644"
    assert not new.exists(), "a file the failed apply created is removed"
    assert not node["backup"].exists()
    assert rollback(str(node["backup"])) == []  # nothing pending: nothing to do


def test_a_file_the_failed_apply_never_replaced_is_not_written_again(node: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # the disk is full: the backup is taken, the new file cannot be written; rolling back must not write either
    config = node["live"] / "app.cfg"
    config.write_text("listen old\n", encoding="utf-8")
    stage_file(node["stage"], config, "listen new\n")
    files = [item(config)]
    from ansible_collections.exchange_lb.appliance.plugins.module_utils import _staged

    def full(*_: object, **__: object) -> tuple[int, str]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_staged.tempfile, "mkstemp", full)
    with pytest.raises(OSError, match="No space left"):
        install(str(node["stage"]), str(node["backup"]), files, changes(str(node["stage"]), files))
    assert rollback(str(node["backup"])) == [str(config)]  # still writes nothing: mkstemp would fail
    assert config.read_text(encoding="utf-8") == "listen old\n"


def test_commit_keeps_the_set_in_force_as_the_last_known_good_one(node: dict[str, Path]) -> None:
    config = node["live"] / "app.cfg"
    config.write_text("listen old\n", encoding="utf-8")
    stage_file(node["stage"], config, "listen new\n")
    files = [item(config)]
    registry = str(node["base"] / "managed.json")
    install(str(node["stage"]), str(node["backup"]), files, changes(str(node["stage"]), files))
    remember(registry, files)
    commit(str(node["backup"]), str(node["base"] / "good"), managed(registry))
    assert Path(staged(str(node["base"] / "good"), str(config))).read_text(encoding="utf-8") == "listen new\n"
    assert not node["backup"].exists(), "after a good run there is nothing to roll back"
    assert rollback(str(node["backup"])) == []
    assert managed(registry) == files


def test_keys_no_service_uses_any_more_are_found_and_removed(node: dict[str, Path]) -> None:
    tls = node["live"] / "tls"
    tls.mkdir()
    for name in ("http.pem", "imap.pem", "http-sni1.pem"):
        (tls / name).write_text("KEY\n", encoding="utf-8")
    (tls / "sub").mkdir()  # not a file of the folder: left alone
    keep = [str(tls / "http.pem")]
    assert stale(str(tls), keep) == sorted([str(tls / "imap.pem"), str(tls / "http-sni1.pem")])
    prune(stale(str(tls), keep))
    assert sorted(path.name for path in tls.iterdir()) == ["http.pem", "sub"]
    assert stale(str(tls), keep) == [] and stale(str(node["live"] / "absent"), keep) == []


def _checker_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the overlay of the stage over /etc needs root"
    return daemon_checks.unavailable("haproxy") or (None if shutil.which("unshare") else "unshare is missing")


def test_a_checker_sees_the_staged_files_at_the_real_paths_and_etc_is_untouched(tmp_path: Path) -> None:
    reason = _checker_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    folder = f"/etc/exlb-stage-test-{uuid.uuid4().hex[:8]}"  # exists only in the stage
    stage = tmp_path / "stage"
    config = (
        "global\n    log stdout format raw local0\ndefaults\n    mode http\n    timeout connect 1s\n"
        "    timeout client 1s\n    timeout server 1s\n"
        f"frontend web\n    bind 127.0.0.1:65443 ssl crt {folder}/web.pem\n"
    )
    stage_file(stage, Path(f"{folder}/haproxy.cfg"), config)
    Path(staged(str(stage), f"{folder}/web.pem")).write_bytes(daemon_checks.certificate_pem("web.example.test"))
    argv = ["/usr/sbin/haproxy", "-c", "-f", f"{folder}/haproxy.cfg"]
    good = subprocess.run(check_command(str(stage), argv), capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stdout + good.stderr
    assert not os.path.exists(folder), "the stage was laid over /etc for the checker only"
    stage_file(stage, Path(f"{folder}/haproxy.cfg"), config.replace("ssl crt", "no-such-keyword ssl crt"))
    bad = subprocess.run(check_command(str(stage), argv), capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and "no-such-keyword" in bad.stdout + bad.stderr
