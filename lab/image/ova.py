#!/usr/bin/env python3
"""Pack the appliance's stream-optimized VMDK into an OVA for VMware and VirtualBox (docs/image.md).

  lab/image/ova.py DISK.vmdk OUT.ova [--name NAME]

The OVA is a POSIX (ustar) tar: the OVF 1.0 descriptor first (the OVA rule), its manifest (SHA256
of the descriptor and the disk), then the disk. The descriptor, written with xml.etree, declares
the virtual hardware of the guide's virtual appliance (3.1.1: 1 GB of memory, 2 vCPU for SSL
offloading, one network card):

- 2 vCPU, 1024 MB of memory;
- one SATA (AHCI) controller with the disk: VMware (hardware version 10 and later) and VirtualBox
  both import it, and Debian's initramfs has the ahci driver;
- one E1000 network card: VirtualBox has no VMXNET3 and VMware has E1000 everywhere (Debian's
  kernel has vmxnet3 too: switch to it on VMware after the import; the card stays eth0);
- the first serial port (COM1, the wizard's second console), optional: VirtualBox skips it;
- the product (the collection's name and version from galaxy.yml) and a note on the first login.

Standard library only: build-vm.sh runs it with the system's python3.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import struct
import sys
import tarfile
import typing as t
import xml.etree.ElementTree as ET
from pathlib import Path

OVF = "http://schemas.dmtf.org/ovf/envelope/1"
RASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VSSD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
VMW = "http://www.vmware.com/schema/ovf"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NAMESPACES = {"ovf": OVF, "rasd": RASD, "vssd": VSSD, "vmw": VMW, "xsi": XSI}
STREAM_OPTIMIZED = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"

CPUS = 2
MEMORY_MB = 1024
NIC = "E1000"
NETWORK = "VM Network"  # ESXi's default port group; VirtualBox and ovftool map it at the import
# VMware hardware version 10 (ESXi 5.5, Workstation 10): the first with SATA
HARDWARE_FAMILY = "vmx-10"
# CIM_OperatingSystem.OSType 96 "Debian 64-Bit"; VMware's newest Debian guest id that ESXi 7 knows too
CIM_OS_DEBIAN_64 = 96
VMWARE_GUEST = "debian11_64Guest"

SECTOR = 512
_VMDK_MAGIC = b"KDMV"
_GD_AT_END = 0xFFFFFFFFFFFFFFFF
# SparseExtentHeader (VMware's Virtual Disk Format 5.0): magic, version, flags, capacity, grainSize,
# descriptorOffset, descriptorSize, numGTEsPerGT, rgdOffset, gdOffset
_HEADER = struct.Struct("<4sIIQQQQIQQ")

ROOT = Path(__file__).resolve().parents[2]


class OvaError(Exception):
    """The disk is not one an OVA can carry."""


class Disk(t.NamedTuple):
    """A stream-optimized VMDK: its file size, the disk's capacity and the bytes it holds, in bytes."""

    path: Path
    size: int
    capacity: int
    populated: int


class Product(t.NamedTuple):
    """What the descriptor's ProductSection names."""

    name: str
    vendor: str
    version: str
    url: str


def read_disk(path: Path) -> Disk:
    """Read a stream-optimized VMDK's header and grain tables: its capacity and populated size."""
    with path.open("rb") as vmdk:
        header = vmdk.read(SECTOR)
        if len(header) < _HEADER.size or header[:4] != _VMDK_MAGIC:
            raise OvaError(f"{path}: not a sparse VMDK (no KDMV header)")
        fields = _HEADER.unpack_from(header)
        capacity, grain, desc_offset, desc_size, gtes = fields[3:8]
        gd_offset = fields[9]
        vmdk.seek(desc_offset * SECTOR)
        descriptor = vmdk.read(desc_size * SECTOR).split(b"\0", 1)[0].decode("ascii", "replace")
        if not re.search(r'^createType="streamOptimized"', descriptor, re.M):
            raise OvaError(f"{path}: not a stream-optimized VMDK (qemu-img convert -O vmdk -o subformat=streamOptimized)")
        size = vmdk.seek(0, os.SEEK_END)
        if gd_offset == _GD_AT_END:
            # the footer: a copy of the header with the grain directory's offset, 1024 bytes before the end
            vmdk.seek(size - 2 * SECTOR)
            footer = vmdk.read(SECTOR)
            if footer[:4] != _VMDK_MAGIC:
                raise OvaError(f"{path}: no footer (an unfinished VMDK?)")
            gd_offset = _HEADER.unpack_from(footer)[9]
        span = grain * gtes
        vmdk.seek(gd_offset * SECTOR)
        directory = struct.unpack(f"<{-(-capacity // span)}I", vmdk.read(4 * -(-capacity // span)))
        grains = 0
        for table in directory:
            if table:
                vmdk.seek(table * SECTOR)
                # an entry of 0 is a hole, 1 a grain of zeros: neither holds data
                grains += sum(1 for entry in struct.unpack(f"<{gtes}I", vmdk.read(4 * gtes)) if entry > 1)
    return Disk(path, size, capacity * SECTOR, min(grains * grain * SECTOR, capacity * SECTOR))


def galaxy_product(galaxy: Path = ROOT / "galaxy.yml") -> Product:
    """The collection's name, authors, version and repository, from galaxy.yml's top-level keys."""
    text = galaxy.read_text(encoding="utf-8")

    def key(name: str) -> str:
        found = re.search(rf"^{name}:\s*(\S+)\s*$", text, re.M)
        if not found:
            raise OvaError(f"{galaxy}: no {name}")
        return found.group(1)

    vendor = re.search(r"^authors:\s*\n\s+-\s*(.+?)\s*$", text, re.M)
    return Product(f"{key('namespace')}.{key('name')}", vendor.group(1) if vendor else "", key("version"), key("repository"))


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _sub(parent: ET.Element, namespace: str, tag: str, text: str | None = None, /, **attributes: str) -> ET.Element:
    """A child element ``tag`` with ``text`` and ovf: ``attributes``."""
    element = ET.SubElement(parent, _q(namespace, tag), {_q(OVF, k): v for k, v in attributes.items()})
    if text is not None:
        element.text = text
    return element


def _item(hardware: ET.Element, required: bool = True, **fields: str) -> ET.Element:
    item = _sub(hardware, OVF, "Item")
    if not required:
        item.set(_q(OVF, "required"), "false")
    # the CIM schema's order: rasd elements alphabetically
    for field in sorted(fields):
        _sub(item, RASD, field, fields[field])
    return item


def descriptor(name: str, disk: Disk, product: Product, disk_file: str) -> bytes:
    """The OVF 1.0 descriptor of the appliance's virtual machine with ``disk`` as ``disk_file``."""
    for prefix, uri in NAMESPACES.items():
        ET.register_namespace(prefix, uri)
    envelope = ET.Element(_q(OVF, "Envelope"), {_q(OVF, "version"): "1.0", "{http://www.w3.org/XML/1998/namespace}lang": "en-US"})
    references = _sub(envelope, OVF, "References")
    _sub(references, OVF, "File", href=disk_file, id="file1", size=str(disk.size))

    disks = _sub(envelope, OVF, "DiskSection")
    _sub(disks, OVF, "Info", "The appliance's virtual disk")
    _sub(disks, OVF, "Disk", capacity=str(disk.capacity), diskId="vmdisk1", fileRef="file1",
         format=STREAM_OPTIMIZED, populatedSize=str(disk.populated))

    networks = _sub(envelope, OVF, "NetworkSection")
    _sub(networks, OVF, "Info", "The logical network the appliance's card is on")
    network = _sub(networks, OVF, "Network", name=NETWORK)
    _sub(network, OVF, "Description", "The management and service network (eth0)")

    system = _sub(envelope, OVF, "VirtualSystem", id=name)
    _sub(system, OVF, "Info", "A load balancer for Exchange 2010 (HAProxy, stunnel, keepalived)")
    _sub(system, OVF, "Name", name)

    product_section = _sub(system, OVF, "ProductSection")
    _sub(product_section, OVF, "Info", "The Ansible collection that configures this appliance")
    _sub(product_section, OVF, "Product", product.name)
    _sub(product_section, OVF, "Vendor", product.vendor)
    _sub(product_section, OVF, "Version", product.version)
    _sub(product_section, OVF, "FullVersion", f"{product.name} {product.version} on Debian 12")
    _sub(product_section, OVF, "ProductUrl", product.url)

    annotation = _sub(system, OVF, "AnnotationSection")
    _sub(annotation, OVF, "Info", "How to start")
    _sub(annotation, OVF, "Annotation",
         "At the first boot the network wizard runs on the console and on COM1 (115200 baud). "
         "Log in as admin on the console (first password admin, changed at that first login; SSH takes "
         "no password until then), then configure the "
         f"appliance from an Ansible controller: {product.url} (docs/image.md).")

    os_section = _sub(system, OVF, "OperatingSystemSection", id=str(CIM_OS_DEBIAN_64))
    os_section.set(_q(VMW, "osType"), VMWARE_GUEST)
    _sub(os_section, OVF, "Info", "The guest operating system")
    _sub(os_section, OVF, "Description", "Debian GNU/Linux 12 (64-bit)")

    hardware = _sub(system, OVF, "VirtualHardwareSection")
    _sub(hardware, OVF, "Info", "2 vCPU, 1 GB of memory, a SATA disk, an E1000 network card, a serial port")
    hw_system = _sub(hardware, OVF, "System")
    for field, value in (("ElementName", "Virtual Hardware Family"), ("InstanceID", "0"),
                         ("VirtualSystemIdentifier", name), ("VirtualSystemType", HARDWARE_FAMILY)):
        _sub(hw_system, VSSD, field, value)
    _item(hardware, AllocationUnits="hertz * 10^6", Description="Number of virtual CPUs",
          ElementName=f"{CPUS} virtual CPUs", InstanceID="1", ResourceType="3", VirtualQuantity=str(CPUS))
    _item(hardware, AllocationUnits="byte * 2^20", Description="Memory size",
          ElementName=f"{MEMORY_MB} MB of memory", InstanceID="2", ResourceType="4", VirtualQuantity=str(MEMORY_MB))
    _item(hardware, Address="0", Description="SATA controller", ElementName="SATA controller 0",
          InstanceID="3", ResourceSubType="vmware.sata.ahci", ResourceType="20")
    _item(hardware, AddressOnParent="0", ElementName="Hard disk 1", HostResource="ovf:/disk/vmdisk1",
          InstanceID="4", Parent="3", ResourceType="17")
    _item(hardware, AddressOnParent="1", AutomaticAllocation="true", Connection=NETWORK,
          Description=f"{NIC} network card on {NETWORK} (eth0)", ElementName="Network adapter 1",
          InstanceID="5", ResourceSubType=NIC, ResourceType="10")
    _item(hardware, required=False, AutomaticAllocation="false",
          Description="COM1: the kernel's second console and the first-boot wizard (ttyS0, 115200 baud)",
          ElementName="Serial port 1", InstanceID="6", ResourceType="21")

    ET.indent(envelope)
    text: bytes = ET.tostring(envelope, encoding="UTF-8", xml_declaration=True)
    return text + b"\n"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_ova(vmdk: Path, ova: Path, name: str, product: Product) -> Path:
    """Write ``ova``: ``name``.ovf, ``name``.mf, then the disk as ``name``.vmdk. Returns ``ova``."""
    disk = read_disk(vmdk)
    disk_file = f"{name}.vmdk"
    ovf = descriptor(name, disk, product, disk_file)
    manifest = (f"SHA256({name}.ovf)= {hashlib.sha256(ovf).hexdigest()}\n"
                f"SHA256({disk_file})= {_sha256(vmdk)}\n").encode("ascii")
    mtime = int(vmdk.stat().st_mtime)
    partial = ova.with_name(ova.name + ".partial")
    try:
        with tarfile.open(partial, "w", format=tarfile.USTAR_FORMAT) as tar:
            for member, data in ((f"{name}.ovf", ovf), (f"{name}.mf", manifest)):
                info = tarfile.TarInfo(member)
                info.size, info.mtime, info.mode = len(data), mtime, 0o644
                tar.addfile(info, io.BytesIO(data))
            info = tarfile.TarInfo(disk_file)
            info.size, info.mtime, info.mode = disk.size, mtime, 0o644
            with vmdk.open("rb") as stream:
                tar.addfile(info, stream)
        partial.replace(ova)
    finally:
        partial.unlink(missing_ok=True)
    return ova


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("vmdk", type=Path, help="the stream-optimized VMDK")
    parser.add_argument("ova", type=Path, help="the OVA to write")
    parser.add_argument("--name", help="the virtual machine's name (default: the OVA's file name without .ova)")
    args = parser.parse_args(argv)
    try:
        write_ova(args.vmdk, args.ova, args.name or args.ova.name.removesuffix(".ova"), galaxy_product())
    except (OSError, OvaError) as error:
        print(f"ova: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
