# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""exlb-netcfg: the appliance's network configuration, rendered and applied safely.

ONE implementation used by both the ``network`` role (through the
``network_config`` module, which imports this file) and the first-boot console
wizard (the ``firstboot`` role installs this file on the target as
``/usr/local/sbin/exlb-netcfg``).  Standard library only: it runs on a bare
Debian with nothing but python3 and iproute2.

The configuration is a JSON object whose keys are the ``exchange`` role's
variable names (``exchange_network_address`` ...), stored in
``/etc/exchange-lb/network.json`` and exposed to Ansible as the local fact
``ansible_local.exchange_network``.  It is rendered for the network stack the
host really uses - ifupdown (a Debian VM as its installer leaves it) or
systemd-networkd - detected, not assumed.

Applying is transactional: the files it replaces are kept, the new ones
written and brought up, the address and the gateway checked; a failed check
puts the old files back at once, and with a confirmation timeout a detached
guard puts them back unless ``exlb-netcfg confirm TOKEN`` arrives in time (the
classic "apply, reconnect, confirm" of a change made over SSH).

Commands: show, check, plan, apply, confirm, rollback, wizard (see ``--help``).
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import ipaddress
import json
import os
import re
import secrets
import select
import shutil
import socket
import subprocess
import sys
import time
import typing as t

# --- where things live -------------------------------------------------------------
CONFIG = "/etc/exchange-lb/network.json"
MARKER = "/etc/exchange-lb/configured"  # present: the first-boot wizard stays quiet
FACT = "/etc/ansible/facts.d/exchange_network.fact"
STATE_DIR = "/var/lib/exchange-lb/netcfg"
RUN_DIR = "/run/exchange-lb"
IFUPDOWN_MAIN = "/etc/network/interfaces"
IFUPDOWN_FILE = "/etc/network/interfaces.d/exchange-lb"
NETWORKD_DIR = "/etc/systemd/network"
NETWORKD_PREFIX = "10-exchange-lb-"
RESOLV = "/etc/resolv.conf"
HOSTNAME = "/etc/hostname"
TOOL = "/usr/local/sbin/exlb-netcfg"

#: The guide's fallback when DHCP gives no lease (4.1).
FALLBACK_ADDRESS = "192.168.0.200"
FALLBACK_NETMASK = "255.255.255.0"
HEADER = "# Managed by exchange_lb.appliance (exlb-netcfg). Change it with Ansible or the first-boot wizard.\n"

NETWORK = "Network"
KEYS = (
    "exchange_network_interface",
    "exchange_network_mode",
    "exchange_network_hostname",
    "exchange_network_address",
    "exchange_network_netmask",
    "exchange_network_gateway",
    "exchange_network_vlan_id",
    "exchange_network_static_routes",
    "exchange_network_dns_servers",
)
# ASCII only and matched whole (fullmatch): no re.IGNORECASE, which folds look-alikes in (the long s,
# the Kelvin sign), no "$", which takes a trailing newline; [0-9], not \d or str.isdigit (they take
# other scripts' digits, such as "²", which int() then refuses with a traceback).
_IFNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14}")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_DIGITS = re.compile(r"[0-9]+")


class NetError(ValueError):
    """A configuration the appliance refuses, named as the guide's WUI names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


# --- validation ----------------------------------------------------------------------
def _ipv4(field: str, value: t.Any) -> str:
    if isinstance(value, bool) or value is None or str(value).strip() == "":
        raise NetError(field, "an IPv4 address is required")
    try:
        return str(ipaddress.IPv4Address(str(value).strip()))
    except ValueError:
        raise NetError(field, f"{str(value).strip()!r} is not an IPv4 address (like 192.168.0.200)") from None


_LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def special(address: str) -> str:
    """What makes ``address`` (dotted IPv4) no host's address, or "" when it can be one."""
    ip = ipaddress.IPv4Address(address)
    if ip.is_unspecified:
        return "the unspecified address (any address of the node)"
    if ip.is_loopback:
        return "a loopback address (the node itself, 127.0.0.0/8)"
    if ip.is_multicast:
        return "a multicast address (224.0.0.0/4)"
    if ip == _LIMITED_BROADCAST:
        return "the broadcast address"
    if ip.is_link_local:
        return "a link-local address (169.254.0.0/16)"
    if ip.is_reserved:
        return "a reserved address (240.0.0.0/4)"
    return ""


def edge(address: str, network: ipaddress.IPv4Network) -> str:
    """What makes ``address`` unusable in ``network`` (its network or broadcast address), or ""."""
    if network.prefixlen >= 31:  # RFC 3021: both addresses of a /31 are hosts
        return ""
    ip = ipaddress.IPv4Address(address)
    if ip == network.network_address:
        return f"the network address of {network}"
    if ip == network.broadcast_address:
        return f"the broadcast address of {network}"
    return ""


def _prefix(field: str, value: t.Any) -> int:
    text = str(value if value is not None else "").strip().lstrip("/")
    if _DIGITS.fullmatch(text) and 0 <= int(text) <= 32:
        return int(text)
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{text}").prefixlen
    except ValueError:
        raise NetError(field, f"{text!r} is not a netmask (dotted like 255.255.255.0, or a prefix length like 24)") from None


def _netmask(prefix: int) -> str:
    return str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)


def static_routes(entries: t.Any, address: str = "", netmask: str = "") -> list[dict[str, str]]:
    """The Network tab's static routes as {network, netmask, router}; with the node's address and
    netmask, each router must be in the node's subnet."""
    routes = []
    subnet = ipaddress.IPv4Interface(f"{address}/{netmask}").network if address else None
    for index, route in enumerate(entries or [], start=1):
        field = f"{NETWORK} › Static Routes › Route {index}"
        if not isinstance(route, dict):
            raise NetError(field, "a route needs network, netmask and router")
        net_address = _ipv4(f"{field} › Network", route.get("network"))
        length = _prefix(f"{field} › Netmask", route.get("netmask", "255.255.255.255"))
        try:
            network = ipaddress.IPv4Network(f"{net_address}/{length}")
        except ValueError:
            raise NetError(f"{field} › Network", f"{net_address} has host bits set for netmask /{length}") from None
        router = _ipv4(f"{field} › Router", route.get("router"))
        why = special(router)
        if why:
            raise NetError(f"{field} › Router", f"{router} is {why}, not the address of a router")
        if subnet is not None and ipaddress.IPv4Address(router) not in subnet:
            raise NetError(f"{field} › Router", f"{router} is not in the node's subnet {subnet}")
        why = edge(router, subnet) if subnet is not None else ""
        if why:
            raise NetError(f"{field} › Router", f"{router} is {why}, not the address of a router")
        if router == address:
            raise NetError(f"{field} › Router", f"{router} is the node's own address ({NETWORK} › Address): a route goes through another host")
        routes.append({"network": str(network.network_address), "netmask": str(network.netmask), "router": router})
    return routes


def dns_servers(entries: t.Any, address: str = "", netmask: str = "") -> list[str]:
    """The Network tab's DNS servers: hosts on the network, not the appliance (which runs no DNS server)
    nor an address no host has. A link-local one is taken (some clouds serve DNS at 169.254.169.253)."""
    servers = []
    subnet = ipaddress.IPv4Interface(f"{address}/{netmask}").network if address else None
    for index, server in enumerate(entries or [], start=1):
        field = f"{NETWORK} › DNS server {index}"
        server = _ipv4(field, server)
        why = "" if ipaddress.IPv4Address(server).is_link_local else special(server)
        if not why and subnet is not None and ipaddress.IPv4Address(server) in subnet:
            why = edge(server, subnet)
        if not why and server == address:
            why = f"the node's own address ({NETWORK} › Address)"
        if why:
            raise NetError(field, f"{server} is {why}, not the address of a DNS server (the appliance runs none of its own)")
        servers.append(server)
    return servers


def normalize(raw: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Validate ``raw`` and return the canonical configuration (every key, plain JSON)."""
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise NetError("settings", f"unknown key(s): {', '.join(unknown)}")
    interface = str(raw.get("exchange_network_interface") or "").strip()
    if not _IFNAME.fullmatch(interface):
        raise NetError(f"{NETWORK} › interface (exchange_network_interface)", f"{interface!r} is not a network interface name")
    mode = str(raw.get("exchange_network_mode") or "static").strip()
    if mode not in ("static", "dhcp"):
        raise NetError(f"{NETWORK} › mode (exchange_network_mode)", f"unknown value {mode!r}; choose one of: static, dhcp")
    name = str(raw.get("exchange_network_hostname") or "").strip(" ")
    name = name[:-1] if name.endswith(".") else name
    if name and (len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split("."))):
        raise NetError(f"{NETWORK} › Hostname", f"{name!r} is not a valid host name (ASCII letters, digits, '-' and '.')")
    name = name.lower()
    address, netmask, gateway = "", "", ""
    if mode == "static" or str(raw.get("exchange_network_address") or "").strip():
        address = _ipv4(f"{NETWORK} › Address", raw.get("exchange_network_address"))
        prefix = _prefix(f"{NETWORK} › Netmask", raw.get("exchange_network_netmask") or "255.255.255.0")
        if prefix < 1 or prefix > 32:
            raise NetError(f"{NETWORK} › Netmask", f"/{prefix} is not a usable netmask")
        netmask = _netmask(prefix)
        subnet = ipaddress.IPv4Interface(f"{address}/{prefix}").network
        if prefix < 31 and ipaddress.IPv4Address(address) in (subnet.network_address, subnet.broadcast_address):
            raise NetError(f"{NETWORK} › Address", f"{address} is the network or broadcast address of {subnet}")
        if str(raw.get("exchange_network_gateway") or "").strip():
            gateway = _ipv4(f"{NETWORK} › Gateway", raw.get("exchange_network_gateway"))
            if ipaddress.IPv4Address(gateway) not in subnet:
                raise NetError(f"{NETWORK} › Gateway", f"{gateway} is not in the node's subnet {subnet}")
            if gateway == address:
                raise NetError(f"{NETWORK} › Gateway", f"{gateway} is the node's own address")
    if mode == "dhcp":
        address, netmask, gateway = "", "", ""
    vlan: int | None = None
    if raw.get("exchange_network_vlan_id") not in (None, ""):
        text = str(raw.get("exchange_network_vlan_id")).strip()
        if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= 4094:
            raise NetError(f"{NETWORK} › vLAN Identifier", f"{text!r} is not a VLAN number (1-4094)")
        vlan = int(text)
    routes = static_routes(raw.get("exchange_network_static_routes"), address, netmask)
    dns = dns_servers(raw.get("exchange_network_dns_servers"), address, netmask)
    return {
        "exchange_network_interface": interface,
        "exchange_network_mode": mode,
        "exchange_network_hostname": name,
        "exchange_network_address": address,
        "exchange_network_netmask": netmask,
        "exchange_network_gateway": gateway,
        "exchange_network_vlan_id": vlan,
        "exchange_network_static_routes": routes,
        "exchange_network_dns_servers": dns,
    }


def device(config: t.Mapping[str, t.Any]) -> str:
    """The device that carries the address: the interface, or its 802.1Q sub-interface."""
    vlan = config["exchange_network_vlan_id"]
    return f"{config['exchange_network_interface']}.{vlan}" if vlan else str(config["exchange_network_interface"])


def _cidr(config: t.Mapping[str, t.Any]) -> str:
    return str(ipaddress.IPv4Interface(f"{config['exchange_network_address']}/{config['exchange_network_netmask']}").with_prefixlen)


def _route_cidr(route: t.Mapping[str, str]) -> str:
    return str(ipaddress.IPv4Network(f"{route['network']}/{route['netmask']}"))


# --- rendering -------------------------------------------------------------------------
_STANZA = ("iface", "mapping", "auto", "source", "source-directory", "rewrite", "template")


def _ifupdown_owned(line: str, names: t.Collection[str]) -> tuple[bool, str]:
    """Is ``line`` a stanza start about one of ``names``? Returns (starts_stanza, kept_line)."""
    words = line.split()
    if not words or line[:1] in (" ", "\t") or words[0].startswith("#"):
        return False, line
    if words[0] == "auto" or words[0].startswith("allow-"):
        kept = [word for word in words[1:] if word not in names]
        if len(kept) == len(words) - 1:
            return True, line
        return True, f"{words[0]} {' '.join(kept)}\n" if kept else ""
    return words[0] in _STANZA, line


def strip_ifupdown_main(text: str, names: t.Collection[str]) -> str:
    """The main interfaces file without the stanzas of ``names`` (they move to our file)."""
    out: list[str] = []
    dropping = False
    for line in text.splitlines(keepends=True):
        starts, kept = _ifupdown_owned(line, names)
        words = line.split()
        if starts:
            dropping = words[0] in ("iface", "mapping") and len(words) > 1 and words[1] in names
            if not dropping:
                out.append(kept)
            continue
        if dropping and words and not words[0].startswith("#"):
            continue
        out.append(line)
    result = "".join(out)
    if not re.search(r"^\s*(source\s+/etc/network/interfaces\.d/\*|source-directory\s+/etc/network/interfaces\.d)\s*$", result, re.M):
        result = result.rstrip("\n") + "\n\nsource /etc/network/interfaces.d/*\n"
    return result


def render_ifupdown(config: t.Mapping[str, t.Any]) -> str:
    iface = config["exchange_network_interface"]
    dev = device(config)
    lines = [HEADER]
    if dev != iface:
        lines += [f"auto {iface}\n", f"iface {iface} inet manual\n", "\n"]
    lines.append(f"auto {dev}\n")
    if config["exchange_network_mode"] == "dhcp":
        lines.append(f"iface {dev} inet dhcp\n")
    else:
        lines += [f"iface {dev} inet static\n", f"    address {_cidr(config)}\n"]
        if config["exchange_network_gateway"]:
            lines.append(f"    gateway {config['exchange_network_gateway']}\n")
    if dev != iface:
        lines.append(f"    vlan-raw-device {iface}\n")
    for route in config["exchange_network_static_routes"]:
        lines.append(f"    up ip route replace {_route_cidr(route)} via {route['router']} dev {dev}\n")
        lines.append(f"    down ip route del {_route_cidr(route)} via {route['router']} dev {dev} || true\n")
    return "".join(lines)


def _networkd_network(name: str, network: list[str], tail: t.Sequence[str] = ()) -> str:
    """A systemd-networkd .network file for ``name``: its [Network] lines (no IPv6 of its own), then ``tail``."""
    return "".join([HEADER, "[Match]\n", f"Name={name}\n", "\n", "[Network]\n", *network, "LinkLocalAddressing=no\nIPv6AcceptRA=no\n", *tail])


def render_networkd(config: t.Mapping[str, t.Any]) -> dict[str, str]:
    iface = config["exchange_network_interface"]
    dev = device(config)
    if config["exchange_network_mode"] == "dhcp":
        network = ["DHCP=ipv4\n"]
    else:
        network = [f"Address={_cidr(config)}\n"]
        if config["exchange_network_gateway"]:
            network.append(f"Gateway={config['exchange_network_gateway']}\n")
    network += [f"DNS={server}\n" for server in config["exchange_network_dns_servers"]]
    routes = [f"\n[Route]\nDestination={_route_cidr(route)}\nGateway={route['router']}\n" for route in config["exchange_network_static_routes"]]
    files = {f"{NETWORKD_DIR}/{NETWORKD_PREFIX}{dev}.network": _networkd_network(dev, network, routes)}
    if dev != iface:
        files[f"{NETWORKD_DIR}/{NETWORKD_PREFIX}{iface}.network"] = _networkd_network(iface, [f"VLAN={dev}\n"])
        files[f"{NETWORKD_DIR}/{NETWORKD_PREFIX}{dev}.netdev"] = "".join(
            [HEADER, "[NetDev]\n", f"Name={dev}\n", "Kind=vlan\n", "\n", "[VLAN]\n", f"Id={config['exchange_network_vlan_id']}\n"]
        )
    return files


def config_text(config: t.Mapping[str, t.Any]) -> str:
    return json.dumps(dict(config), indent=2, sort_keys=True) + "\n"


# --- the host ----------------------------------------------------------------------------
# subprocess, not AnsibleModule.run_command: this file is also /usr/local/sbin/exlb-netcfg on the node
# (the first-boot wizard, the boot-time rollback), where no module exists, and it starts the rollback
# timer as a detached process that must outlive the module run (ansible-bad-function, disabled below).
def _run(argv: list[str], timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)  # pylint: disable=ansible-bad-function
    except FileNotFoundError:
        result = subprocess.CompletedProcess(argv, 127, "", f"{argv[0]}: not found")
    if check and result.returncode != 0:
        raise NetError("", f"{' '.join(argv)} failed: {(result.stderr or result.stdout).strip()}")
    return result


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _write(path: str, content: str | None) -> None:
    if content is None:
        if os.path.lexists(path):
            os.unlink(path)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if path in (RESOLV, HOSTNAME) and os.path.exists(path) and not os.path.islink(path):
        # Written in place: a container bind-mounts these, and a rename cannot replace a mount.
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)
        return
    tmp = f"{path}.exlb-tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _unit_state(unit: str, verb: str) -> str:
    return _run(["systemctl", verb, unit], timeout=10).stdout.strip()


def detect_stack() -> str:
    """ifupdown or networkd: what the host really uses, or an error naming what it found."""
    has_ifupdown = shutil.which("ifup") is not None and os.path.exists(IFUPDOWN_MAIN)
    networkd = _unit_state("systemd-networkd.service", "is-enabled") == "enabled" or _unit_state("systemd-networkd.service", "is-active") == "active"
    if has_ifupdown and (_unit_state("networking.service", "is-enabled") == "enabled" or not networkd):
        return "ifupdown"
    if networkd:
        return "networkd"
    if _unit_state("NetworkManager.service", "is-active") == "active":
        raise NetError("", "this host runs NetworkManager; the appliance supports ifupdown and systemd-networkd")
    raise NetError("", "no network stack found: install ifupdown (as Debian's installer does) or enable systemd-networkd")


def _link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def _managed_networkd_files() -> list[str]:
    try:
        names = os.listdir(NETWORKD_DIR)
    except FileNotFoundError:
        return []
    return sorted(f"{NETWORKD_DIR}/{name}" for name in names if name.startswith(NETWORKD_PREFIX))


def desired_files(config: t.Mapping[str, t.Any], stack: str) -> dict[str, str | None]:
    """Every file the configuration owns, with its wanted content (None: must not exist)."""
    files: dict[str, str | None] = {CONFIG: config_text(config), FACT: config_text(config)}
    iface = config["exchange_network_interface"]
    if stack == "ifupdown":
        main = _read(IFUPDOWN_MAIN) or ""
        names = {iface, device(config)} | {name for name in _ifupdown_names() if name.startswith(f"{iface}.")}
        files[IFUPDOWN_MAIN] = strip_ifupdown_main(main, names)
        files[IFUPDOWN_FILE] = render_ifupdown(config)
    else:
        wanted = render_networkd(config)
        for path in _managed_networkd_files():
            files[path] = None
        files.update(wanted)
    if config["exchange_network_mode"] == "static" and config["exchange_network_dns_servers"]:
        current = _read(RESOLV) or ""
        kept = [line for line in current.splitlines(keepends=True) if not line.startswith("nameserver") and not line.startswith(HEADER[:20])]
        files[RESOLV] = HEADER + "".join(kept) + "".join(f"nameserver {server}\n" for server in config["exchange_network_dns_servers"])
    if config["exchange_network_hostname"]:
        files[HOSTNAME] = config["exchange_network_hostname"] + "\n"
    return files


def _ifupdown_names() -> list[str]:
    names = []
    for text in (_read(IFUPDOWN_MAIN) or "", _read(IFUPDOWN_FILE) or ""):
        names += re.findall(r"^\s*iface\s+(\S+)", text, re.M)
    return names


def plan(config: t.Mapping[str, t.Any], stack: str | None = None) -> dict[str, t.Any]:
    """What applying ``config`` would change: the files, each with before and after."""
    stack = stack or detect_stack()
    changes = []
    for path, after in desired_files(config, stack).items():
        before = _read(path)
        if before != after:
            changes.append({"path": path, "before": before, "after": after})
    return {"stack": stack, "changed": bool(changes), "files": changes, "config": dict(config)}


def check(config: t.Mapping[str, t.Any], stack: str) -> None:
    """Refuse a configuration the host cannot take, before anything changes."""
    iface = config["exchange_network_interface"]
    if not _link_exists(iface):
        raise NetError(f"{NETWORK} › interface (exchange_network_interface)", f"this host has no network interface {iface!r}")
    if config["exchange_network_vlan_id"] and not os.path.exists("/proc/net/vlan"):
        _run(["modprobe", "8021q"], timeout=10)
        if not os.path.exists("/proc/net/vlan"):
            raise NetError(f"{NETWORK} › vLAN Identifier", "this host's kernel has no 802.1Q VLAN support (module 8021q)")
    if stack == "ifupdown":
        path = f"{RUN_DIR}/netcfg-check.interfaces"
        _write(path, render_ifupdown(config))
        result = _run(["ifup", "--no-act", "--force", "-i", path, device(config)], timeout=20)
        os.unlink(path)
        if result.returncode != 0:
            raise NetError("", f"ifupdown refuses the rendered configuration: {(result.stderr or result.stdout).strip()}")
        if config["exchange_network_mode"] == "dhcp" and not (shutil.which("dhclient") or shutil.which("udhcpc") or shutil.which("dhcpcd")):
            raise NetError(f"{NETWORK} › mode (exchange_network_mode)", "DHCP needs a DHCP client (isc-dhcp-client) on this host")


# --- bringing interfaces down and up ----------------------------------------------------
def _devices_of(iface: str) -> list[str]:
    """The interface's VLAN sub-interfaces that exist now, and the interface (children first)."""
    try:
        names = os.listdir("/sys/class/net")
    except FileNotFoundError:
        names = []
    return sorted(name for name in names if name.startswith(f"{iface}.")) + [iface]


def _down(iface: str, stack: str) -> None:
    for dev in _devices_of(iface):
        if stack == "ifupdown":
            _run(["ifdown", "--force", dev], timeout=30)
        if dev != iface:
            _run(["ip", "link", "del", dev], timeout=10)
    _run(["ip", "-4", "addr", "flush", "dev", iface], timeout=10)
    _run(["ip", "-4", "route", "flush", "dev", iface], timeout=10)


def _up(iface: str, stack: str, dhcp_wait: float) -> None:
    if stack == "networkd":
        _run(["networkctl", "reload"], timeout=30)
        _run(["ip", "link", "set", iface, "up"], timeout=10)
        _run(["networkctl", "reconfigure", iface], timeout=30)
        for dev in _devices_of(iface)[:-1]:
            _run(["networkctl", "reconfigure", dev], timeout=30)
        return
    defined = set(_ifupdown_names())
    for dev in [iface] + sorted(name for name in defined if name.startswith(f"{iface}.")):
        if dev not in defined:
            continue
        try:
            with subprocess.Popen(  # pylint: disable=ansible-bad-function
                ["ifup", "--force", dev], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
            ) as proc:
                try:
                    proc.wait(timeout=max(dhcp_wait, 5))
                except subprocess.TimeoutExpired:
                    # A DHCP client still waiting for a lease: stop waiting (the caller checks the address).
                    os.killpg(proc.pid, 15)
                    proc.wait(timeout=10)
        except FileNotFoundError:
            raise NetError("", "ifup is not installed") from None


def addresses(dev: str) -> list[str]:
    result = _run(["ip", "-4", "-o", "addr", "show", "dev", dev], timeout=10)
    return re.findall(r"\binet (\d+\.\d+\.\d+\.\d+/\d+)", result.stdout)


def _gateway_answers(gateway: str, dev: str, wait: float = 4.0) -> bool:
    """Does the gateway answer ARP on ``dev``? (no ping needed: a datagram makes the kernel ask)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
                probe.sendto(b"exlb", (gateway, 9))
            except OSError:
                pass
        time.sleep(0.5)
        state = _run(["ip", "neigh", "show", gateway, "dev", dev], timeout=5).stdout
        if re.search(r"\b(REACHABLE|STALE|DELAY|PROBE|PERMANENT)\b", state) and "lladdr" in state:
            return True
    return False


def verify(config: t.Mapping[str, t.Any], dhcp_wait: float) -> str:
    """The address the configuration gave, after checking it is there and the gateway answers."""
    dev = device(config)
    if config["exchange_network_mode"] == "dhcp":
        deadline = time.monotonic() + dhcp_wait
        while time.monotonic() < deadline:
            found = addresses(dev)
            if found:
                return found[0].split("/")[0]
            time.sleep(1)
        raise NetError(f"{NETWORK} › DHCP", f"no DHCP lease on {dev} within {dhcp_wait:.0f} s")
    wanted = _cidr(config)
    deadline = time.monotonic() + 10
    while wanted not in addresses(dev):
        if time.monotonic() > deadline:
            raise NetError(f"{NETWORK} › Address", f"{wanted} did not come up on {dev}")
        time.sleep(0.5)
    gateway = config["exchange_network_gateway"]
    if gateway and not _gateway_answers(gateway, dev):
        raise NetError(f"{NETWORK} › Gateway", f"{gateway} does not answer on {dev}")
    return str(config["exchange_network_address"])


# --- apply, confirm, roll back -----------------------------------------------------------
def _backup_path() -> str:
    return f"{STATE_DIR}/rollback.json"


def _switch(files: t.Mapping[str, str | None], iface: str, stack: str, dhcp_wait: float) -> None:
    _down(iface, stack)
    for path, content in files.items():
        _write(path, content)
    _up(iface, stack, dhcp_wait)


def rollback(reason: str = "", at_boot: bool = False) -> bool:
    """Put back the files kept by the last apply and bring the interface up with them.

    ``at_boot``: the node restarted while a change waited for its confirmation (its guard, a process,
    did not survive). Run before the network comes up (exlb-netcfg-pending.service), it only puts the
    files back: the network then starts with the configuration that was confirmed last.
    """
    saved = _read(_backup_path())
    if saved is None:
        return False
    data = json.loads(saved)
    if at_boot:
        for path, content in data["files"].items():
            _write(path, content)
    else:
        _switch(data["files"], data["interface"], data["stack"], 15)
    hostname_before = data["files"].get(HOSTNAME)
    if hostname_before and HOSTNAME in data["files"]:
        _run(["hostname", hostname_before.strip()], timeout=5)
    os.unlink(_backup_path())
    if reason:
        _log(f"rolled back: {reason}")
    return True


def _log(message: str) -> None:
    os.makedirs(STATE_DIR, exist_ok=True)
    with open(f"{STATE_DIR}/netcfg.log", "a", encoding="utf-8") as handle:
        handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")
    _run(["logger", "-t", "exlb-netcfg", message], timeout=5)


def apply(config: t.Mapping[str, t.Any], confirm_timeout: int = 0, dhcp_wait: float = 20, stack: str | None = None) -> dict[str, t.Any]:
    """Apply ``config``; with ``confirm_timeout`` > 0 a guard reverts unless confirmed in time."""
    stack = stack or detect_stack()
    check(config, stack)
    result = plan(config, stack)
    if not result["changed"]:
        return {**result, "address": config["exchange_network_address"], "token": ""}
    if os.path.exists(_backup_path()):
        rollback("a new apply arrived before the previous one was confirmed")
    before = {change["path"]: change["before"] for change in result["files"]}
    _write(_backup_path(), json.dumps({"files": before, "interface": config["exchange_network_interface"], "stack": stack}))
    after = {change["path"]: change["after"] for change in result["files"]}
    try:
        _switch(after, config["exchange_network_interface"], stack, dhcp_wait)
        if config["exchange_network_hostname"] and HOSTNAME in after:
            _run(["hostname", config["exchange_network_hostname"]], timeout=5)
        address = verify(config, dhcp_wait)
    except NetError as error:
        rollback(str(error))
        raise NetError(error.field, f"{error.message}; the previous network configuration was restored") from None
    token = ""
    if confirm_timeout > 0:
        token = secrets.token_hex(8)
        os.makedirs(RUN_DIR, exist_ok=True)
        # The installed tool when there is one: under Ansible this file runs from a temporary zip.
        program = [TOOL] if os.access(TOOL, os.X_OK) else [sys.executable, os.path.abspath(__file__)]
        subprocess.Popen(  # pylint: disable=ansible-bad-function,consider-using-with
            program + ["guard", token, str(confirm_timeout)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
        )
        _log(f"applied {device(config)} {address}; rolled back unless confirmed within {confirm_timeout} s (token {token})")
    else:
        commit()
        _log(f"applied {device(config)} {address}")
    return {**result, "address": address, "token": token}


def commit() -> None:
    """The applied configuration is the one to keep: forget the old files, silence the wizard."""
    if os.path.exists(_backup_path()):
        os.unlink(_backup_path())
    _write(MARKER, "configured by exlb-netcfg\n")


def confirm(token: str) -> bool:
    """Confirm the pending apply ``token``; False when there is none (it was rolled back)."""
    if not re.fullmatch(r"[0-9a-f]{16}", token) or not os.path.exists(_backup_path()):
        return False
    _write(f"{RUN_DIR}/netcfg.confirm-{token}", "confirmed\n")
    commit()
    return True


def guard(token: str, timeout: int) -> None:
    """Detached: revert the last apply unless ``token`` is confirmed within ``timeout`` seconds."""
    flag = f"{RUN_DIR}/netcfg.confirm-{token}"
    deadline = time.monotonic() + timeout
    while not os.path.exists(flag):
        if time.monotonic() >= deadline:
            rollback(f"no confirmation of {token} within {timeout} s")
            return
        time.sleep(0.5)
    os.unlink(flag)


# --- the first-boot wizard (guide 4.1) ----------------------------------------------------
def _read_key(stream: t.TextIO, timeout: float) -> str | None:
    """One key within ``timeout`` seconds ("" when none; None at the end of the input), without
    waiting for Enter on a terminal. Input that is no terminal (a pipe, a file, /dev/null) is read
    by lines, its first character the key: the wizard runs there too instead of failing."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file at all (a test's StringIO)
        line = stream.readline()
        return line[:1] if line else None
    saved: t.Any = None
    try:
        import termios  # pylint: disable=import-outside-toplevel
        import tty  # pylint: disable=import-outside-toplevel

        saved = termios.tcgetattr(fd)
        # TCSANOW: a key typed since the prompt appeared stays (the default, TCSAFLUSH, drops it)
        tty.setcbreak(fd, termios.TCSANOW)
    except Exception:  # pylint: disable=broad-exception-caught  # ImportError, termios.error: no terminal
        saved = None
    try:
        ready = select.select([fd], [], [], timeout)[0]
        if not ready:
            return ""
        if saved is None:  # no terminal: a whole line (the answers after it are read by lines too)
            line = stream.readline()
            return line[:1] if line else None
        data = os.read(fd, 1)
        return data.decode(errors="replace") if data else None
    finally:
        if saved is not None:
            import termios  # pylint: disable=import-outside-toplevel

            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _ask(out: t.TextIO, inp: t.TextIO, question: str, default: str) -> str:
    out.write(f"{question} ({default})? ")
    out.flush()
    line = inp.readline()
    if not line:
        raise EOFError
    return line.strip() or default


def _ask_valid(out: t.TextIO, inp: t.TextIO, question: str, default: str, valid: t.Callable[[str], object]) -> str:
    """Ask until the answer passes ``valid``; a refused answer is named and asked again."""
    while True:
        answer = _ask(out, inp, question, default)
        try:
            valid(answer)
            return answer
        except NetError as error:
            out.write(f"Error: {error}. Please type it again.\n")


def default_interface() -> str:
    """The interface of the default route, else the first Ethernet-like one."""
    route = _run(["ip", "-4", "route", "show", "default"], timeout=5).stdout
    found = re.search(r"\bdev (\S+)", route)
    if found:
        return found.group(1)
    names = sorted(name for name in os.listdir("/sys/class/net") if name != "lo" and "." not in name)
    return names[0] if names else "eth0"


def _choose(out: t.TextIO, inp: t.TextIO, prompt_seconds: float) -> str:
    """The guide's warnings and its D/s question: "s" (static), else DHCP (also when no key comes)."""
    say = out.write
    say("\nWarning: No IP configuration found !\n")
    say("Warning: DHCP configuration is available for test purpose only.\n")
    say("Warning: A static IP configuration is recommended.\n")
    say(f"Retrieve IP using DHCP or configure static ... {prompt_seconds:.0f}sec (D/s)? ")
    out.flush()
    choice = ""
    deadline = time.monotonic() + prompt_seconds
    while time.monotonic() < deadline:
        key = _read_key(inp, max(0.0, deadline - time.monotonic()))
        if key is None:  # the input ended: no key will come
            break
        if key in ("s", "S"):
            choice = "s"
            break
        if key in ("d", "D", "\r", "\n"):
            choice = "D"
            break
    say(f"{choice or 'D (no key pressed)'}\n")
    return choice or "D"


def _with_gateway(static: t.Mapping[str, t.Any], gateway: str) -> dict[str, t.Any]:
    """The wizard's static configuration with the gateway typed ("none": no gateway), validated."""
    return normalize({**static, "exchange_network_gateway": "" if gateway.lower() == "none" else gateway})


def _ask_static(out: t.TextIO, inp: t.TextIO, base: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Address, netmask and gateway, asked until they make a configuration the administrator commits."""
    values = {"address": FALLBACK_ADDRESS, "netmask": FALLBACK_NETMASK, "gateway": "none"}
    while True:
        out.write("Configure IP manually\n")
        while True:
            values["address"] = _ask_valid(out, inp, "Use IP address", values["address"], lambda text: _ipv4(f"{NETWORK} › Address", text))
            values["netmask"] = _ask_valid(out, inp, "Use netmask", values["netmask"], lambda text: _prefix(f"{NETWORK} › Netmask", text))
            static = {**base, "exchange_network_mode": "static", "exchange_network_address": values["address"],
                      "exchange_network_netmask": values["netmask"]}
            try:
                normalize(static)
                break
            except NetError as error:
                out.write(f"Error: {error}. Please type it again.\n")
        values["gateway"] = _ask_valid(out, inp, "Use default gateway", values["gateway"], functools.partial(_with_gateway, static))
        config = _with_gateway(static, values["gateway"])
        out.write("Commit and save this configuration (N/y)? ")
        out.flush()
        if (inp.readline() or "").strip().lower() in ("y", "yes"):
            return config
        out.write("Not saved.\n")


def _wizard_apply(out: t.TextIO, raw: t.Mapping[str, t.Any], dhcp_wait: float, refused: str = "Error: ") -> dict[str, t.Any] | None:
    """Validate and apply ``raw``: the result of :func:`apply`, or None once its error is on the console after ``refused``."""
    try:
        return apply(normalize(raw), dhcp_wait=dhcp_wait)
    except NetError as error:
        out.write(f"{refused}{error}\n")
        return None


def _take_console(lock: str) -> int | None:
    """The wizard's lock (a descriptor kept open until the process ends), or None when another console holds it."""
    os.makedirs(os.path.dirname(lock) or ".", exist_ok=True)
    handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(handle)
        return None
    return handle


def wizard(interface: str, prompt_seconds: float, dhcp_wait: float, inp: t.TextIO = sys.stdin, out: t.TextIO = sys.stdout,
           ssh_user: str = "", lock: str = "") -> int:
    """The console dialogue of the guide's first boot; applies through :func:`apply`.

    ``lock``: the wizard runs on several consoles (the screen and the serial port); the first one that
    is answered (or whose D/s prompt times out first) configures the box, the others step aside.
    ``ssh_user``: the account the summary tells the administrator to log in with over SSH.
    """
    say = out.write
    base: dict[str, t.Any] = {
        "exchange_network_interface": interface,
        "exchange_network_hostname": "",
        "exchange_network_vlan_id": None,
        "exchange_network_static_routes": [],
        "exchange_network_dns_servers": [],
    }
    choice = _choose(out, inp, prompt_seconds)
    held = _take_console(lock) if lock else None
    if lock and held is None:
        say("The network is being configured on another console.\n")
        out.flush()
        return 0
    if choice == "s":
        try:
            static = _ask_static(out, inp, base)
        except EOFError:
            say("\nThe input ended before the configuration was committed: nothing was changed.\n")
            out.flush()
            return 1
        result = _wizard_apply(out, static, dhcp_wait)
    else:
        say(f"Retrieving an address using DHCP on {interface} ({dhcp_wait:.0f} s) ...\n")
        out.flush()
        result = _wizard_apply(out, {**base, "exchange_network_mode": "dhcp"}, dhcp_wait, refused="")
        if result is None:
            say(f"No DHCP answer: using {FALLBACK_ADDRESS}/{FALLBACK_NETMASK} as the guide's appliance does.\n")
            # Validated here, outside _wizard_apply: a fallback refused too (a bad interface name) ends the wizard with its error.
            fallback = normalize({**base, "exchange_network_mode": "static", "exchange_network_address": FALLBACK_ADDRESS,
                                  "exchange_network_netmask": FALLBACK_NETMASK})
            result = _wizard_apply(out, fallback, dhcp_wait)
            # Not a choice of the administrator: ask again at the next boot, as the appliance did.
            if result is not None and os.path.exists(MARKER):
                os.unlink(MARKER)
    if result is None:
        return 1
    address = result["address"]
    say("\nManagement address :\n")
    say(f"    {address} on {device(result['config'])}\n")
    say(f"Reach it with:  ssh {ssh_user or '<your account>'}@{address}\n")
    say(f"then let Ansible take over: exchange_network_address: {address} in the inventory (see /etc/exchange-lb/network.json).\n")
    out.flush()
    return 0


# --- command line -------------------------------------------------------------------------
def _say(text: str, stream: t.TextIO = sys.stdout) -> None:
    stream.write(f"{text}\n")
    stream.flush()


def _load(path: str) -> dict[str, t.Any]:
    text = sys.stdin.read() if path == "-" else (_read(path) or "")
    if not text.strip():
        raise NetError("", f"no configuration in {path}")
    return normalize(json.loads(text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="exlb-netcfg", description=__doc__.split("\n\n", maxsplit=1)[0] if __doc__ else "")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("show", help="print the stored configuration")
    for name in ("check", "plan", "apply"):
        command = sub.add_parser(name, help=f"{name} a configuration (JSON file, - for stdin)")
        command.add_argument("--config", default=CONFIG)
        if name == "apply":
            command.add_argument("--confirm-timeout", type=int, default=0, help="roll back unless confirmed within N s")
            command.add_argument("--dhcp-wait", type=float, default=20)
    command = sub.add_parser("confirm", help="keep a pending apply")
    command.add_argument("token")
    command = sub.add_parser("guard", help=argparse.SUPPRESS)
    command.add_argument("token")
    command.add_argument("timeout", type=int)
    command = sub.add_parser("rollback", help="put back the files of a pending apply")
    command.add_argument("--at-boot", action="store_true", help="only the files, before the network starts (a reboot came before the confirmation)")
    command = sub.add_parser("wizard", help="the first-boot console dialogue (guide 4.1)")
    command.add_argument("--interface", default="")
    command.add_argument("--prompt-seconds", type=float, default=10)
    command.add_argument("--dhcp-wait", type=float, default=20)
    command.add_argument("--ssh-user", default="", help="the account the summary names for SSH (default: <your account>)")
    command.add_argument("--lock", default="", help="a lock file shared by the wizards of several consoles: the first answered one runs")
    args = parser.parse_args(argv)
    try:
        if args.command == "show":
            sys.stdout.write(_read(CONFIG) or "{}\n")
        elif args.command == "check":
            config = _load(args.config)
            check(config, detect_stack())
            _say("ok")
        elif args.command == "plan":
            _say(json.dumps(plan(_load(args.config)), indent=2))
        elif args.command == "apply":
            _say(json.dumps(apply(_load(args.config), args.confirm_timeout, args.dhcp_wait), indent=2))
        elif args.command == "confirm":
            if not confirm(args.token):
                _say(f"nothing to confirm for {args.token}: the change was rolled back or never made", sys.stderr)
                return 1
            _say("confirmed")
        elif args.command == "guard":
            guard(args.token, args.timeout)
        elif args.command == "rollback":
            reason = "the node restarted before the change was confirmed" if args.at_boot else "asked on the command line"
            _say("rolled back" if rollback(reason, at_boot=args.at_boot) else "nothing to roll back")
        elif args.command == "wizard":
            return wizard(args.interface or default_interface(), args.prompt_seconds, args.dhcp_wait,
                          ssh_user=args.ssh_user, lock=args.lock)
    except NetError as error:
        _say(f"exlb-netcfg: {error}", sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
