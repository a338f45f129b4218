"""lab/image/ova.py packs the image's stream-optimized VMDK into an OVA that VMware and VirtualBox import.

Each test packs a real VMDK that qemu-img wrote (as build-vm.sh does) and reads the OVA back as an
importer would: the tar's order, the OVF descriptor's namespaces and references, the disk's sizes
(checked against qemu-img's own reading of the disk), the manifest's digests.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from source_loader import ROOT, load_source

ova = load_source("lab/image/ova.py")

OVF = "http://schemas.dmtf.org/ovf/envelope/1"
RASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VSSD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
VMW = "http://www.vmware.com/schema/ovf"
NS = {"ovf": OVF, "rasd": RASD, "vssd": VSSD, "vmw": VMW}
NAME = "exchange-lb-appliance-debian12"
MIB = 1 << 20
GRAIN = 64 << 10  # qemu-img's stream-optimized grain


def _vmdk(tmp_path: Path, size: int, chunks: list[tuple[int, int]], subformat: str = "streamOptimized") -> Path:
    """A VMDK that qemu-img converts from a raw disk of ``size`` bytes with data at (offset, length)."""
    raw = tmp_path / "disk.raw"
    with raw.open("wb") as disk:
        disk.truncate(size)
        for offset, length in chunks:
            disk.seek(offset)
            disk.write((bytes(range(1, 252)) * (length // 251 + 1))[:length])
    vmdk = tmp_path / f"{NAME}-{subformat}.vmdk"
    subprocess.run(["qemu-img", "convert", "-O", "vmdk", "-o", f"subformat={subformat}", str(raw), str(vmdk)], check=True)
    return vmdk


def _qemu_sizes(vmdk: Path) -> tuple[int, int]:
    """qemu-img's reading of the disk: its virtual size and the bytes that hold data."""
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(vmdk)], check=True,
                                     capture_output=True, text=True).stdout)
    extents = json.loads(subprocess.run(["qemu-img", "map", "--output=json", str(vmdk)], check=True,
                                        capture_output=True, text=True).stdout)
    return info["virtual-size"], sum(e["length"] for e in extents if e["data"])


@pytest.fixture(name="packed", scope="module")
def fixture_packed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp_path = tmp_path_factory.mktemp("ova")
    vmdk = _vmdk(tmp_path, 16 * MIB, [(0, 4096), (5 * MIB + 100, 3 * GRAIN)])
    return vmdk, ova.write_ova(vmdk, tmp_path / f"{NAME}.ova", NAME, ova.galaxy_product())


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def _descriptor_of(path: Path, name: str) -> ET.Element:
    return ET.fromstring(_members(path)[f"{name}.ovf"])


def _descriptor(path: Path) -> ET.Element:
    return _descriptor_of(path, NAME)


def test_the_ova_is_a_ustar_tar_with_the_descriptor_first(packed: tuple[Path, Path]) -> None:
    path = packed[1]
    with tarfile.open(path) as tar:
        assert tar.getnames() == [f"{NAME}.ovf", f"{NAME}.mf", f"{NAME}.vmdk"]
    # POSIX ustar (OVF 1.0, 5.3), not GNU's tar format: "ustar\0" and version "00"
    assert path.read_bytes()[257:265] == b"ustar\x0000"


def test_the_descriptor_is_ovf_1_0_in_the_dmtf_namespaces(packed: tuple[Path, Path]) -> None:
    data = _members(packed[1])[f"{NAME}.ovf"]
    declared = dict(namespace for _event, namespace in ET.iterparse(io.BytesIO(data), events=["start-ns"]))
    assert {k: declared[k] for k in NS} == NS
    root = ET.fromstring(data)
    assert root.tag == f"{{{OVF}}}Envelope" and root.get(f"{{{OVF}}}version") == "1.0"
    # References, then the sections, then the virtual system (OVF 1.0's Envelope)
    assert [child.tag.split("}")[1] for child in root] == ["References", "DiskSection", "NetworkSection", "VirtualSystem"]
    # every ovf element's attributes are in the ovf namespace too (an importer validates them)
    for element in root.iter():
        if element.tag.startswith(f"{{{OVF}}}"):
            assert all(key.startswith("{") for key in element.attrib), element.tag


def test_the_references_sizes_and_digests_are_the_disk_s(packed: tuple[Path, Path]) -> None:
    vmdk, path = packed
    members = _members(path)
    root = ET.fromstring(members[f"{NAME}.ovf"])
    files = root.findall("ovf:References/ovf:File", NS)
    assert len(files) == 1
    href, file_id = files[0].get(f"{{{OVF}}}href"), files[0].get(f"{{{OVF}}}id")
    assert members[href] == vmdk.read_bytes()
    assert int(files[0].get(f"{{{OVF}}}size", "")) == vmdk.stat().st_size

    disk = root.find("ovf:DiskSection/ovf:Disk", NS)
    assert disk is not None and disk.get(f"{{{OVF}}}fileRef") == file_id
    assert disk.get(f"{{{OVF}}}format") == "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
    capacity, populated = _qemu_sizes(vmdk)
    assert int(disk.get(f"{{{OVF}}}capacity", "")) == capacity == 16 * MIB
    # bytes in capacity (no capacityAllocationUnits); the populated size is what qemu-img maps as data:
    # the first grain and the four grains the 3-grain write at 5 MiB + 100 spans
    assert disk.get(f"{{{OVF}}}capacityAllocationUnits") is None
    assert int(disk.get(f"{{{OVF}}}populatedSize", "")) == populated == 5 * GRAIN

    manifest = members[f"{NAME}.mf"].decode("ascii")
    digests = dict(re.findall(r"^SHA256\((.+)\)= ([0-9a-f]{64})$", manifest, re.M))
    assert len(manifest.splitlines()) == len(digests) == 2
    assert digests == {name: hashlib.sha256(data).hexdigest() for name, data in members.items() if name != f"{NAME}.mf"}


def test_the_hardware_is_the_guide_s_virtual_appliance(packed: tuple[Path, Path]) -> None:
    root = _descriptor(packed[1])
    hardware = root.find("ovf:VirtualSystem/ovf:VirtualHardwareSection", NS)
    assert hardware is not None
    assert hardware.findtext("ovf:System/vssd:VirtualSystemType", namespaces=NS) == "vmx-10"
    items = {item.findtext("rasd:InstanceID", namespaces=NS): item for item in hardware.findall("ovf:Item", NS)}

    def of_type(resource: int) -> list[ET.Element]:
        return [i for i in items.values() if i.findtext("rasd:ResourceType", namespaces=NS) == str(resource)]

    (cpu,), (memory,), (sata,), (disk,), (nic,), (serial,) = (of_type(n) for n in (3, 4, 20, 17, 10, 21))
    assert cpu.findtext("rasd:VirtualQuantity", namespaces=NS) == "2"
    assert memory.findtext("rasd:VirtualQuantity", namespaces=NS) == "1024"
    assert memory.findtext("rasd:AllocationUnits", namespaces=NS) == "byte * 2^20"
    # the disk on the SATA controller, naming the DiskSection's disk
    assert sata.findtext("rasd:ResourceSubType", namespaces=NS) == "vmware.sata.ahci"
    assert disk.findtext("rasd:Parent", namespaces=NS) == sata.findtext("rasd:InstanceID", namespaces=NS)
    disk_id = root.find("ovf:DiskSection/ovf:Disk", NS).get(f"{{{OVF}}}diskId")  # type: ignore[union-attr]
    assert disk.findtext("rasd:HostResource", namespaces=NS) == f"ovf:/disk/{disk_id}"
    # one E1000 card on the network the NetworkSection declares
    assert nic.findtext("rasd:ResourceSubType", namespaces=NS) == "E1000"
    networks = [n.get(f"{{{OVF}}}name") for n in root.findall("ovf:NetworkSection/ovf:Network", NS)]
    assert networks == [nic.findtext("rasd:Connection", namespaces=NS)]
    # the serial port: optional, so that an importer without serial ports (VirtualBox) skips it
    assert serial.get(f"{{{OVF}}}required") == "false"
    assert all(item.get(f"{{{OVF}}}required") is None for item in (cpu, memory, sata, disk, nic))
    assert len(items) == 6
    os_section = root.find("ovf:VirtualSystem/ovf:OperatingSystemSection", NS)
    assert os_section is not None and os_section.get(f"{{{OVF}}}id") == "96"  # CIM: Debian 64-Bit


def test_the_product_is_the_collection_at_its_version(packed: tuple[Path, Path]) -> None:
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
    product = _descriptor(packed[1]).find("ovf:VirtualSystem/ovf:ProductSection", NS)
    assert product is not None
    assert product.findtext("ovf:Product", namespaces=NS) == f"{galaxy['namespace']}.{galaxy['name']}"
    assert product.findtext("ovf:Version", namespaces=NS) == galaxy["version"]
    assert product.findtext("ovf:Vendor", namespaces=NS) == galaxy["authors"][0]
    assert product.findtext("ovf:ProductUrl", namespaces=NS) == galaxy["repository"]


@pytest.mark.parametrize("chunks", [[], [(0, 16 * MIB)], [(GRAIN - 1, 2)], [(i * MIB, 1) for i in range(16)]],
                         ids=["empty", "full", "straddling", "scattered"])
def test_the_populated_size_is_what_qemu_img_maps(tmp_path: Path, chunks: list[tuple[int, int]]) -> None:
    vmdk = _vmdk(tmp_path, 16 * MIB, chunks)
    disk = ova.read_disk(vmdk)
    assert (disk.capacity, disk.populated) == _qemu_sizes(vmdk)
    assert disk.size == vmdk.stat().st_size


def test_a_vmdk_that_is_not_stream_optimized_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sparse = _vmdk(tmp_path, 4 * MIB, [(0, 512)], subformat="monolithicSparse")
    with pytest.raises(ova.OvaError, match="not a stream-optimized VMDK"):
        ova.write_ova(sparse, tmp_path / "x.ova", NAME, ova.galaxy_product())
    raw = tmp_path / "disk.raw"
    with pytest.raises(ova.OvaError, match="not a sparse VMDK"):
        ova.read_disk(raw)
    assert not list(tmp_path.glob("*.ova*"))
    # the command line says so and fails
    assert ova.main([str(sparse), str(tmp_path / "y.ova")]) == 1
    assert not (tmp_path / "y.ova").exists()
    assert "not a stream-optimized VMDK (qemu-img convert -O vmdk -o subformat=streamOptimized)" in capsys.readouterr().err


def test_the_command_line_names_the_vm_after_the_ova(tmp_path: Path) -> None:
    vmdk = _vmdk(tmp_path, 4 * MIB, [(0, 512)])
    assert ova.main([str(vmdk), str(tmp_path / "lb.ova")]) == 0
    with tarfile.open(tmp_path / "lb.ova") as tar:
        assert tar.getnames() == ["lb.ovf", "lb.mf", "lb.vmdk"]
    assert _descriptor_of(tmp_path / "lb.ova", "lb").find("ovf:VirtualSystem/ovf:Name", NS).text == "lb"  # type: ignore[union-attr]
