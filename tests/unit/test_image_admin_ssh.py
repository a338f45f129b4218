"""The appliance image refuses SSH passwords until admin's first password is changed on the console.

lab/rootfs/vm: sshd refuses passwords except for the group exlb-ssh-password (05-appliance.conf);
the PAM hook admin-first-password, in the password stack's Additional block (after pam_unix's
success), puts admin in that group at the first change of its password, once. Each test runs the
real hook with ``gpasswd`` recorded by a stand-in on PATH (the image's is proved by make image-test).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from source_loader import ROOT

VM = ROOT / "lab" / "rootfs" / "vm"
HOOK = VM / "usr" / "local" / "libexec" / "exchange-lb" / "admin-first-password"
GROUP = "exlb-ssh-password"


def _run_hook(tmp_path: Path, user: str, pam_type: str = "password", gpasswd_rc: int = 0) -> tuple[int, list[str]]:
    """Run the hook as pam_exec would; its exit status and the gpasswd calls it made."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "gpasswd.calls"
    (bin_dir / "gpasswd").write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\nexit {gpasswd_rc}\n', encoding="utf-8")
    (bin_dir / "gpasswd").chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "PAM_TYPE": pam_type, "PAM_USER": user,
           "EXLB_FIRST_PASSWORD_MARKER": str(tmp_path / "admin-first-password")}
    done = subprocess.run([str(HOOK)], env=env, capture_output=True, text=True, check=False)
    return done.returncode, calls.read_text(encoding="utf-8").splitlines() if calls.exists() else []


@pytest.fixture(name="armed")
def fixture_armed(tmp_path: Path) -> Path:
    """The image as built: the marker that admin's first password is not changed yet."""
    marker = tmp_path / "admin-first-password"
    marker.touch()
    return marker


def test_the_first_change_of_admins_password_lets_admin_use_passwords_over_ssh(tmp_path: Path, armed: Path) -> None:
    assert _run_hook(tmp_path, "admin") == (0, [f"--add admin {GROUP}"])
    assert not armed.exists()


def test_later_changes_leave_the_group_alone_so_a_key_only_admin_stays_key_only(tmp_path: Path, armed: Path) -> None:
    _run_hook(tmp_path, "admin")
    assert _run_hook(tmp_path, "admin") == (0, [f"--add admin {GROUP}"])  # the first call only


@pytest.mark.parametrize(("user", "pam_type"), [("alice", "password"), ("root", "password"), ("admin", "auth"), ("admin", "")])
def test_other_accounts_and_other_pam_stacks_open_nothing(tmp_path: Path, armed: Path, user: str, pam_type: str) -> None:
    assert _run_hook(tmp_path, user, pam_type) == (0, [])
    assert armed.exists()


def test_a_failed_group_change_keeps_the_marker_so_the_next_change_retries(tmp_path: Path, armed: Path) -> None:
    rc, calls = _run_hook(tmp_path, "admin", gpasswd_rc=3)
    assert rc != 0 and calls == [f"--add admin {GROUP}"]
    assert armed.exists()


def test_the_hook_runs_only_after_the_new_password_is_stored() -> None:
    """pam-auth-update puts Additional modules after pam_unix, its pam_deny fallback and pam_permit:
    a refused or mistyped new password ends the stack (requisite pam_deny) before the hook."""
    profile = (VM / "usr" / "share" / "pam-configs" / "exlb-admin-first-password").read_text(encoding="utf-8")
    assert re.search(r"^Password-Type: Additional$", profile, re.M), profile
    assert re.search(r"^\toptional\tpam_exec\.so seteuid quiet /usr/local/libexec/exchange-lb/admin-first-password$", profile, re.M)
    assert not re.search(r"^(Auth|Account|Session)", profile, re.M)


def test_sshd_refuses_passwords_except_for_the_group() -> None:
    lines = [line.split() for line in (VM / "etc" / "ssh" / "sshd_config.d" / "05-appliance.conf").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    match = lines.index(["Match", "Group", GROUP])
    assert sorted(map(tuple, lines[:match])) == [("KbdInteractiveAuthentication", "no"), ("PasswordAuthentication", "no")]
    assert sorted(map(tuple, lines[match + 1:])) == [("KbdInteractiveAuthentication", "yes"), ("PasswordAuthentication", "yes")]


def test_the_build_arms_the_hook_after_setting_the_first_password() -> None:
    """chpasswd runs the same password stack: the marker must come after it, or the build itself opens SSH."""
    script = (ROOT / "lab" / "image" / "customize-vm.sh").read_text(encoding="utf-8")
    order = [script.index(s) for s in ("| in_root chpasswd", f"groupadd --system {GROUP}",
                                       '/var/lib/exchange-lb/admin-first-password"', "pam-auth-update --enable exlb-admin-first-password")]
    assert order == sorted(order)
