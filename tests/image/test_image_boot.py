"""The appliance VM image boots under KVM to the first-boot wizard, which configures it (docs/image.md).

Run on demand: ``make image-test`` (``make image`` first). The image is never written: the VM runs on
a qcow2 overlay in pytest's tmp_path. Its NIC is QEMU's user-mode network with ``restrict=on``: the
guest reaches QEMU's virtual gateway (10.0.2.2) and nothing beyond this machine; a ``hostfwd`` from
127.0.0.1 to its port 22 lets the test's ``ssh`` client reach its sshd.
The serial console (ttyS0) is the terminal pexpect drives: what an administrator sees on a
hypervisor's serial console or ``virsh console``.

KVM by default. EXLB_IMAGE_ACCEL=tcg boots it under QEMU's software emulation instead (minutes, not
seconds): for a machine whose /dev/kvm runs only paravirtual (PVM) guest kernels, where Debian's
kernel hangs before its first line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import typing as t
import xml.etree.ElementTree as ET
from pathlib import Path

import pexpect
import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE_DIR = ROOT / ".build" / "image"
IMAGE = Path(os.environ.get("EXLB_IMAGE", IMAGE_DIR / "exchange-lb-appliance-debian12.qcow2"))
OVA = Path(os.environ.get("EXLB_OVA", IMAGE_DIR / "exchange-lb-appliance-debian12.ova"))
OVF_NS = {"ovf": "http://schemas.dmtf.org/ovf/envelope/1",
          "rasd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"}
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
    return qemu


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _boot(tmp_path: Path, disk: Path, disk_format: str, hardware: list[str], nic: str, ssh_port: int | None = None) -> pexpect.spawn:
    """Power on a VM on a throw-away qcow2 overlay of ``disk``; its serial console, as pexpect drives it.

    ``ssh_port``: this machine's 127.0.0.1:ssh_port forwarded to the guest's port 22 (at 10.0.2.15)."""
    qemu = _kvm_or_fail()
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", disk_format, "-b", str(disk), str(overlay)], check=True)
    argv = [
        "-accel", ACCEL, "-nographic", *hardware,
        "-drive", f"file={overlay},format=qcow2,if=none,id=disk0",
        "-nic", f"user,model={nic},restrict=on" + (f",hostfwd=tcp:127.0.0.1:{ssh_port}-{ADDRESS}:22" if ssh_port else ""),
    ]
    log = (tmp_path / "console.log").open("w", encoding="utf-8")
    child = pexpect.spawn(qemu, argv, encoding="utf-8", codec_errors="replace", timeout=BOOT_TIMEOUT, dimensions=(50, 200))
    child.logfile_read = log
    child.started = time.monotonic()  # type: ignore[attr-defined]
    child.log = log  # type: ignore[attr-defined]
    child.ssh_port = ssh_port  # type: ignore[attr-defined]
    return child


def _power_off(child: pexpect.spawn, tmp_path: Path) -> None:
    child.terminate(force=True)
    child.log.close()  # type: ignore[attr-defined]
    print(f"\nserial console log: {tmp_path / 'console.log'}")


@pytest.fixture(name="console")
def fixture_console(tmp_path: Path) -> t.Iterator[pexpect.spawn]:
    """The qcow2 as KVM and Proxmox run it: a virtio disk and a virtio NIC."""
    if not IMAGE.is_file():
        pytest.fail(f"{IMAGE} is missing: run `make image` first", pytrace=False)
    child = _boot(tmp_path, IMAGE, "qcow2", ["-m", "1024", "-smp", "1", "-device", "virtio-blk-pci,drive=disk0"], "virtio-net-pci",
                  ssh_port=_free_port())
    try:
        yield child
    finally:
        _power_off(child, tmp_path)


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


def _ssh_password_login(port: int, password: str, timeout: float = 300) -> str:
    """An SSH login as admin through the VM's forwarded port, offering ``password`` and no key.

    "refused": sshd answered without asking for a password; "logged in": the password was asked for and
    the command ran; else what ssh showed after asking (an expired password: "Password change required"). Until sshd answers (it waits for the host keys made at the first boot), it retries."""
    deadline = time.monotonic() + timeout * SLOW
    argv = ["-p", str(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
            "-o", "NumberOfPasswordPrompts=1", "-o", f"ConnectTimeout={10 * SLOW}", "-F", "/dev/null",
            "admin@127.0.0.1", "echo SSH-AS-$(id -un)"]
    seen = ""
    while time.monotonic() < deadline:
        ssh = pexpect.spawn("ssh", argv, encoding="utf-8", codec_errors="replace", timeout=60 * SLOW)
        outcome = ssh.expect([r"(?i)password: ", r"Permission denied \([^)]*\)", pexpect.EOF, pexpect.TIMEOUT])
        seen = str(ssh.before or "") + str(ssh.after if isinstance(ssh.after, str) else "")
        if outcome == 0:
            ssh.sendline(password)
            ssh.expect([pexpect.EOF, pexpect.TIMEOUT])
            seen += str(ssh.before or "")
            ssh.close()
            return "logged in" if "SSH-AS-admin" in seen else f"asked for the password, then: {seen!r}"
        ssh.close()
        if outcome == 1:
            assert "password" not in seen.split("Permission denied")[1] and "keyboard-interactive" not in seen, seen
            return "refused"
        time.sleep(5)  # no SSH answer yet (QEMU accepts and drops the connection until sshd listens)
    pytest.fail(f"sshd did not answer on 127.0.0.1:{port} within {timeout * SLOW} s; ssh said: {seen!r}", pytrace=False)


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

    # The login prompt follows the wizard on the same console. A first login whose new password is
    # mistyped changes nothing: login ends, and SSH still takes no password (the box is on a network now).
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
    console.sendline(NEW_PASSWORD + "-typo")
    _expect(console, r"login: ", 60)
    port: int = console.ssh_port  # type: ignore[attr-defined]
    ssh_before = time.monotonic()
    assert _ssh_password_login(port, "admin") == "refused"
    ssh_refused = time.monotonic() - ssh_before

    # The first login on the console changes the password.
    console.sendline("")
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
    # That change opened SSH to admin's (new) password; the expired first one is gone.
    assert _ssh_password_login(port, NEW_PASSWORD) == "logged in"
    assert "exlb-ssh-password" in _shell(console, "id -nG admin")
    assert _shell(console, "ls /var/lib/apt/lists/ | grep -c _Packages").strip() == "0"
    # The collection is on the image; root has no password; admin becomes root with its own.
    assert "exchange_lb.appliance" in _shell(console, "ls -d /usr/share/ansible/collections/ansible_collections/exchange_lb/appliance "
                                                       "&& echo exchange_lb.appliance")
    console.sendline(f"echo {NEW_PASSWORD} | sudo -S -p '' id -u; echo SUDO-DONE")
    assert re.search(r"\b0\r*\n", _expect(console, r"SUDO-DONE\r*\n", 30))

    build = (IMAGE_DIR / "build-seconds").read_text(encoding="utf-8").strip() if (IMAGE_DIR / "build-seconds").exists() else "?"
    report = (f"{ACCEL}: image {IMAGE.name}: {IMAGE.stat().st_size / 1e6:.0f} MB, built in {build} s; boot to the wizard's prompt: {boot_to_wizard:.1f} s; "
              f"SSH refused admin's password {ssh_refused:.1f} s after a mistyped first change on the console")
    (IMAGE_DIR / "boot-report.txt").write_text(report + "\n", encoding="utf-8")
    print(report)


def _ova_hardware(ovf: ET.Element) -> list[str]:
    """QEMU's arguments for the virtual hardware the OVF descriptor declares (the devices VMware and VirtualBox give)."""
    items = {i.findtext("rasd:ResourceType", namespaces=OVF_NS): i for i in ovf.iterfind(".//ovf:VirtualHardwareSection/ovf:Item", OVF_NS)}

    def field(resource: str, name: str) -> str:
        return items[resource].findtext(f"rasd:{name}", namespaces=OVF_NS) or ""

    assert field("20", "ResourceSubType") == "vmware.sata.ahci" and field("17", "Parent") == field("20", "InstanceID")
    assert field("10", "ResourceSubType") == "E1000"
    return ["-smp", field("3", "VirtualQuantity"), "-m", field("4", "VirtualQuantity"),
            "-device", "ich9-ahci,id=sata", "-device", "ide-hd,drive=disk0,bus=sata.0"]


def test_the_ova_carries_the_disk_and_boots_on_its_hardware_to_the_wizard(tmp_path: Path) -> None:
    """The OVA as an importer reads it: its tar, manifest and descriptor; its VMDK boots on SATA with an E1000 card."""
    if not OVA.is_file():
        pytest.fail(f"{OVA} is missing: run `make image` first", pytrace=False)
    listing = subprocess.run(["tar", "tf", str(OVA)], check=True, capture_output=True, text=True).stdout.split()
    name = OVA.name.removesuffix(".ova")
    assert listing == [f"{name}.ovf", f"{name}.mf", f"{name}.vmdk"], listing
    subprocess.run(["tar", "xf", str(OVA), "-C", str(tmp_path)], check=True)
    ovf = ET.parse(tmp_path / f"{name}.ovf").getroot()
    for line in (tmp_path / f"{name}.mf").read_text(encoding="ascii").splitlines():
        member, digest = re.fullmatch(r"SHA256\((.+)\)= ([0-9a-f]{64})", line).groups()  # type: ignore[union-attr]
        assert hashlib.sha256((tmp_path / member).read_bytes()).hexdigest() == digest, member
    vmdk = tmp_path / f"{name}.vmdk"
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(vmdk)], check=True, capture_output=True, text=True).stdout)
    assert info["format"] == "vmdk" and info["format-specific"]["data"]["create-type"] == "streamOptimized"
    disk = ovf.find("ovf:DiskSection/ovf:Disk", OVF_NS)
    assert disk is not None and int(disk.get(f"{{{OVF_NS['ovf']}}}capacity", "")) == info["virtual-size"]
    populated = int(disk.get(f"{{{OVF_NS['ovf']}}}populatedSize", ""))
    hardware = _ova_hardware(ovf)

    console = _boot(tmp_path, vmdk, "vmdk", hardware, "e1000")
    try:
        started: float = console.started  # type: ignore[attr-defined]
        _expect(console, re.escape("Retrieve IP using DHCP or configure static ... 10sec (D/s)? "), BOOT_TIMEOUT / SLOW + 30)
        boot_to_wizard = time.monotonic() - started
        # the E1000 card is eth0, and the wizard configures it
        console.send("s")
        for prompt, answer in ((r"Use IP address \(192\.168\.0\.200\)\? ", ADDRESS), (r"Use netmask \(255\.255\.255\.0\)\? ", NETMASK),
                               (r"Use default gateway \(none\)\? ", GATEWAY), (re.escape("Commit and save this configuration (N/y)? "), "y")):
            _expect(console, prompt)
            console.sendline(answer)
        summary = _expect(console, r"then let Ansible take over: [^\r\n]*", 90)
        assert f"{ADDRESS} on eth0" in summary, summary
    finally:
        _power_off(console, tmp_path)
    report = (f"{ACCEL}: OVA {OVA.name}: {OVA.stat().st_size / 1e6:.0f} MB (VMDK {vmdk.stat().st_size / 1e6:.0f} MB, "
              f"{info['virtual-size'] / 2**30:.0f} GiB disk, {populated / 1e6:.0f} MB populated); "
              f"its VMDK on SATA with an E1000 card ({' '.join(hardware[:4])}): boot to the wizard's prompt {boot_to_wizard:.1f} s")
    with (IMAGE_DIR / "boot-report.txt").open("a", encoding="utf-8") as out:
        out.write(report + "\n")
    print(report)
