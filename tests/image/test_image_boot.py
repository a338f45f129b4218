"""The appliance VM image boots under KVM to the first-boot wizard, which configures it (docs/image.md).

Run on demand: ``make image-test`` (``make image`` first). The image is never written: the VM runs on
a qcow2 overlay in pytest's tmp_path. Its NIC is QEMU's user-mode network with ``restrict=on``: the
guest reaches QEMU's virtual gateway (10.0.2.2) and nothing beyond this machine.
The serial console (ttyS0) is the terminal pexpect drives: what an administrator sees on a
hypervisor's serial console or ``virsh console``.

KVM by default. EXLB_IMAGE_ACCEL=tcg boots it under QEMU's software emulation instead (minutes, not
seconds): for a machine whose /dev/kvm runs only paravirtual (PVM) guest kernels, where Debian's
kernel hangs before its first line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import typing as t
from pathlib import Path

import pexpect
import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE_DIR = ROOT / ".build" / "image"
IMAGE = Path(os.environ.get("EXLB_IMAGE", IMAGE_DIR / "exchange-lb-appliance-debian12.qcow2"))
ADDRESS, NETMASK, GATEWAY = "10.0.2.15", "255.255.255.0", "10.0.2.2"
NEW_PASSWORD = "image-test-Pw-1"
ACCEL = os.environ.get("EXLB_IMAGE_ACCEL", "kvm")
# under software emulation everything takes some ten times longer
SLOW = 1 if ACCEL == "kvm" else 10
BOOT_TIMEOUT = 60 * SLOW


def _kvm_or_fail() -> str:
    if ACCEL not in ("kvm", "tcg"):
        pytest.fail(f"EXLB_IMAGE_ACCEL={ACCEL}: kvm (the default) or tcg", pytrace=False)
    if ACCEL == "kvm":
        if not os.path.exists("/dev/kvm"):
            pytest.fail("/dev/kvm is missing: this test boots the image under KVM; run it on a machine (or a VM with "
                        "nested virtualisation) that has /dev/kvm", pytrace=False)
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            pytest.fail("/dev/kvm is not readable and writable by this user: run as root or join the kvm group", pytrace=False)
        if os.path.exists("/sys/module/kvm_pvm") and not any(os.path.exists(f"/sys/module/{m}") for m in ("kvm_intel", "kvm_amd")):
            pytest.fail("/dev/kvm here is PVM (kernel module kvm_pvm), which runs only PVM guest kernels: Debian's kernel "
                        "hangs before its first line. Run on a machine with hardware KVM (kvm_intel or kvm_amd), or with "
                        "EXLB_IMAGE_ACCEL=tcg (QEMU's software emulation, minutes instead of seconds)", pytrace=False)
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        pytest.fail("qemu-system-x86_64 is missing: `make deps` installs qemu-system-x86", pytrace=False)
    if not IMAGE.is_file():
        pytest.fail(f"{IMAGE} is missing: run `make image` first", pytrace=False)
    return qemu


@pytest.fixture(name="console")
def fixture_console(tmp_path: Path) -> t.Iterator[pexpect.spawn]:
    qemu = _kvm_or_fail()
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(IMAGE), str(overlay)], check=True)
    argv = [
        "-accel", ACCEL, "-m", "1024", "-smp", "1", "-nographic",
        "-drive", f"file={overlay},if=virtio,format=qcow2",
        "-nic", "user,model=virtio-net-pci,restrict=on",
    ]
    log = (tmp_path / "console.log").open("w", encoding="utf-8")
    child = pexpect.spawn(qemu, argv, encoding="utf-8", codec_errors="replace", timeout=BOOT_TIMEOUT, dimensions=(50, 200))
    child.logfile_read = log
    child.started = time.monotonic()  # type: ignore[attr-defined]
    try:
        yield child
    finally:
        child.terminate(force=True)
        log.close()
        print(f"\nserial console log: {tmp_path / 'console.log'}")


def _expect(console: pexpect.spawn, pattern: str, timeout: float = 60) -> str:
    """Wait for ``pattern`` (a regular expression); on a timeout, fail with the console's last lines."""
    timeout *= SLOW
    try:
        console.expect(pattern, timeout=timeout)
    except (pexpect.TIMEOUT, pexpect.EOF) as error:
        tail = (console.before or "")[-3000:]
        pytest.fail(f"the console did not show {pattern!r} within {timeout} s ({type(error).__name__}); it showed:\n{tail}",
                    pytrace=False)
    return str(console.before or "") + str(console.after or "")


def _shell(console: pexpect.spawn, command: str, timeout: float = 30) -> str:
    """Run ``command`` in the logged-in shell; its output (between two markers)."""
    console.sendline(f"echo '<<'OUT; {command}; echo 'OUT'\">>\"")
    _expect(console, r"<<OUT\r*\n", timeout)
    text = _expect(console, r"OUT>>", timeout)
    return text[: -len("OUT>>")].replace("\r", "")


def test_the_image_boots_to_the_wizard_and_the_admin_logs_in(console: pexpect.spawn) -> None:
    started: float = console.started  # type: ignore[attr-defined]
    _expect(console, re.escape("Warning: No IP configuration found !"), BOOT_TIMEOUT / SLOW)
    _expect(console, re.escape("Retrieve IP using DHCP or configure static ... 10sec (D/s)? "), 30)
    boot_to_wizard = time.monotonic() - started
    console.send("s")
    _expect(console, r"Use IP address \(192\.168\.0\.200\)\? ")
    console.sendline(ADDRESS)
    _expect(console, r"Use netmask \(255\.255\.255\.0\)\? ")
    console.sendline(NETMASK)
    _expect(console, r"Use default gateway \(none\)\? ")
    console.sendline(GATEWAY)
    _expect(console, re.escape("Commit and save this configuration (N/y)? "))
    console.sendline("y")
    summary = _expect(console, r"then let Ansible take over: [^\r\n]*", 90)
    print(summary)
    assert f"{ADDRESS} on eth0" in summary
    assert f"Reach it with:  ssh admin@{ADDRESS}" in summary and "ssh root@" not in summary

    # The login prompt follows the wizard on the same console; the first login changes the password.
    _expect(console, r"login: ", 60)
    console.sendline("admin")
    _expect(console, r"Password: ")
    console.sendline("admin")
    _expect(console, r"(?i)you are required to change your password immediately")
    _expect(console, r"(?i)current password: ")
    console.sendline("admin")
    _expect(console, r"(?i)new password: ")
    console.sendline(NEW_PASSWORD)
    _expect(console, r"(?i)retype new password: ")
    console.sendline(NEW_PASSWORD)
    _expect(console, r"admin@exchange-lb:~\$ ", 30)
    console.sendline("export PS1='$ ' TERM=dumb; stty -echo")
    time.sleep(1)

    # The address, the route, the wizard's marker: the configuration is the one committed.
    assert f"inet {ADDRESS}/24" in _shell(console, "ip -4 -o addr show dev eth0")
    assert f"default via {GATEWAY} dev eth0" in _shell(console, "ip -4 route show default")
    assert "configured by exlb-netcfg" in _shell(console, "cat /etc/exchange-lb/configured")
    stored = _shell(console, "cat /etc/exchange-lb/network.json")
    assert f'"exchange_network_address": "{ADDRESS}"' in stored, stored
    # Sealed: a machine id and SSH host keys of its own, made at this boot; sshd up; apt lists empty.
    assert re.fullmatch(r"[0-9a-f]{32}\n", _shell(console, "cat /etc/machine-id"))
    assert "ssh_host_ed25519_key.pub" in _shell(console, "ls /etc/ssh/")
    # (sshd waits for its new host keys; under emulation that may take a while after the login prompt)
    active = "for i in $(seq 120); do systemctl is-active --quiet ssh.service && break; sleep 1; done; systemctl is-active ssh.service"
    assert _shell(console, active, 150).strip() == "active", \
        _shell(console, "systemctl status --no-pager -n 20 ssh.service; systemctl list-jobs --no-pager; systemctl --failed --no-pager")
    assert _shell(console, "test -e /var/lib/exchange-lb/image-firstboot; echo $?").strip() == "1"  # done once
    assert _shell(console, "ls /var/lib/apt/lists/ | grep -c _Packages").strip() == "0"
    # The collection is on the image; root has no password; admin becomes root with its own.
    assert "exchange_lb.appliance" in _shell(console, "ls -d /usr/share/ansible/collections/ansible_collections/exchange_lb/appliance "
                                                       "&& echo exchange_lb.appliance")
    console.sendline(f"echo {NEW_PASSWORD} | sudo -S -p '' id -u; echo SUDO-DONE")
    assert re.search(r"\b0\r*\n", _expect(console, r"SUDO-DONE\r*\n", 30))

    build = (IMAGE_DIR / "build-seconds").read_text(encoding="utf-8").strip() if (IMAGE_DIR / "build-seconds").exists() else "?"
    report = f"{ACCEL}: image {IMAGE.name}: {IMAGE.stat().st_size / 1e6:.0f} MB, built in {build} s; boot to the wizard's prompt: {boot_to_wizard:.1f} s"
    (IMAGE_DIR / "boot-report.txt").write_text(report + "\n", encoding="utf-8")
    print(report)
