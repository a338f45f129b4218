# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""What every service family's builder shares while the plan is built: the parsed settings, and the
listeners, certificates, TLS tunnels and stick tables collected so far."""

from __future__ import annotations

import dataclasses
import ipaddress
import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._addresses import server_address
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_model import (
    CERTIFICATE,
    HTTP,
    TLS_DIR,
    Backend,
    Bind,
    CaBundle,
    Certificate,
    Frontend,
    HealthCheck,
    Server,
    ServerTls,
    SniCertificate,
    StickTable,
    TlsTunnel,
)
from ansible_collections.exchange_lb.appliance.plugins.module_utils._port_rules import Listener, listener
from ansible_collections.exchange_lb.appliance.plugins.module_utils._settings import SETTINGS, Settings
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError, hostname, ipv4

#: A service's servers: (name, address) in the order the user gave them.
Servers = t.Tuple[t.Tuple[str, str], ...]


class Builder:
    """Collects the plan while the service families read the parsed settings."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.frontends: list[Frontend] = []
        self.backends: list[Backend] = []
        self.tables: dict[str, StickTable] = {}
        self.certificates: list[Certificate] = []
        self.ca_bundles: list[CaBundle] = []
        self.tunnels: list[TlsTunnel] = []
        self.listeners: list[Listener] = []
        self.management: list[Listener] = []  # stats, peers, metrics: not for everyone
        self.notes: list[str] = []  # settings the chosen modes do not use, when set to another value than the guide's
        self.bind_address = ""
        #: the appliance's own addresses (address -> the field holding it), which no server may have
        self.own_addresses: dict[str, str] = {}
        self.subnet: ipaddress.IPv4Network | None = None  # the node's: a server there is not at its edges
        self.tls_engine = settings.text("tls_engine")
        self.version = settings.text("version")
        interval = settings.number("health_check_interval_ms")
        # every check of the plan is this one's timing with its own kind (dataclasses.replace)
        self.check_timing = HealthCheck(
            kind="none",
            inter_ms=interval,
            fastinter_ms=min(250, interval),  # between the checks of a server changing state
            downinter_ms=max(2000, interval),  # while it is down
            timeout_ms=settings.number("health_check_timeout_ms"),
        )
        self._next_internal_port = settings.number("tls_internal_port_base")

    def unused(self, key: str, why: str) -> None:
        """Note that ``key`` does nothing in this plan (``why``), when it was set to another value than its default."""
        setting = SETTINGS[key]
        if self.s[key] != setting.default:
            self.notes.append(f"{setting.field}: {self.s[key]} does nothing here: {why}")

    def manage(self, item: Listener) -> Listener:
        """A management listener (statistics, metrics, peers): opened to the admin networks only."""
        self.listeners.append(item)
        self.management.append(item)
        return item

    # -- servers --
    def servers(self, key: str, label: str, letters: str, required: bool) -> Servers:
        value = self.s[key] or []
        if not isinstance(value, (list, tuple)):
            raise PlanError(label, "a list of servers is expected")
        if required and not value:
            raise PlanError(label, f"at least one {letters} server is required")
        result: list[tuple[str, str]] = []
        seen: dict[str, str] = {}
        names: dict[str, str] = {}
        for index, entry in enumerate(value, start=1):
            field = f"{label} › {letters}{index} Address"
            if isinstance(entry, dict):
                address = ipv4(field, entry.get("address"))
                name = hostname(f"{label} › {letters}{index} name", entry.get("name") or f"{letters.lower()}{index}")
            else:
                address = ipv4(field, entry)
                name = f"{letters.lower()}{index}"
            server_address(field, address, self.own_addresses, self.subnet)
            if address in seen:
                raise PlanError(field, f"{address} is already {seen[address]}")
            if name in names:
                raise PlanError(f"{label} › {letters}{index} name", f"{name!r} is already the name of {names[name]}")
            seen[address] = field
            names[name] = field
            result.append((name, address))
        return tuple(result)

    # -- listeners --
    def bind(self, field: str, address: str, value: t.Any, certificate: str = "", name: str = "",
             sni: tuple[SniCertificate, ...] = ()) -> Bind:
        """A public listener; with a certificate, TLS ends on the appliance."""
        listening = listener(field, address, value)
        self.listeners.append(listening)
        if not certificate:
            return Bind(address=listening.address, port=listening.port, field=field)
        if self.tls_engine == "haproxy":
            return Bind(address=listening.address, port=listening.port, field=field, certificate=certificate,
                        more_certificates=tuple(entry.certificate for entry in sni))
        internal = self._next_internal_port
        self._next_internal_port += 1
        self.listeners.append(Listener(f"{field} (stunnel to haproxy, internal)", "127.0.0.1", internal))
        self.tunnels.append(
            TlsTunnel(name=name, accept_address=listening.address, accept_port=listening.port, connect_port=internal,
                      certificate=certificate, sni=sni)
        )
        return Bind(address="127.0.0.1", port=internal, field=field, accept_proxy=True)

    # -- TLS --
    def certificate(self, service: str, label: str) -> str:
        field = f"{label} › {CERTIFICATE}"
        src = self.s.text(f"{service}_certificate")
        if not src:
            raise PlanError(field, f"the {self.s[f'{service}_mode']} mode needs a certificate; none was given")
        dest = f"{TLS_DIR}/{service}.pem"
        self.certificates.append(Certificate(service=service, field=field, src=src, dest=dest, host_name=self.s.text("http_host_name")))
        return dest

    def additional_certificates(self, mode: str) -> tuple[SniCertificate, ...]:
        """More certificates for the HTTPS listener, chosen by the name the client asks for (SNI)."""
        label = f"{HTTP} › additional certificates (exchange_http_additional_certificates)"
        entries = self.s["http_additional_certificates"] or []
        if not isinstance(entries, (list, tuple)):
            raise PlanError(label, "a list of {certificate, host_name, password} is expected")
        if entries and mode not in ("ssl-offload", "ssl-bridge"):
            raise PlanError(label, f"only the ssl-offload and ssl-bridge modes end TLS on the appliance, not {mode}")
        seen = {self.s.text("http_host_name"): f"{HTTP} › Host Name"}
        result = []
        for index, entry in enumerate(entries, start=1):
            field = f"{label} › certificate {index}"
            if not isinstance(entry, dict):
                raise PlanError(field, "a certificate file and the host name it serves are expected")
            for key in entry:  # the role's argument spec does not check this list: its items hold passwords
                if key not in ("certificate", "host_name", "password"):
                    raise PlanError(f"{field} › {key}", "is no option of a certificate (certificate, host_name, password)")
            if not isinstance(entry.get("certificate") or "", str):
                raise PlanError(f"{field} › certificate", "a file name is expected")
            src = str(entry.get("certificate") or "").strip()
            if not src:
                raise PlanError(f"{field} › certificate", "no certificate file was given")
            host = hostname(f"{field} › host_name", entry.get("host_name"), fqdn=True)
            if host in seen:
                raise PlanError(f"{field} › host_name", f"{host} is already served by {seen[host]}")
            seen[host] = field
            dest = f"{TLS_DIR}/http-sni{index}.pem"
            self.certificates.append(Certificate(service=f"http_sni{index}", field=field, src=src, dest=dest, host_name=host))
            result.append(SniCertificate(host_name=host, certificate=dest))
        return tuple(result)

    def server_tls(self, host: str) -> ServerTls:
        """ssl-bridge: the CAS certificates are verified with the given CA certificates, if any."""
        src = self.s.text("http_cas_ca_certificate")
        if not src:
            return ServerTls(sni=host, ca_file="", verify_host="")
        dest = "/etc/exchange-lb/cas-ca.pem"  # haproxy reads it, whichever engine ends TLS
        self.ca_bundles.append(CaBundle(field=f"{HTTP} › CAS CA certificate (exchange_http_cas_ca_certificate)", src=src, dest=dest))
        return ServerTls(sni=host, ca_file=dest, verify_host=host)

    def table(self, name: str, kind: str, key_length: int = 0, expire: str = "60m") -> str:
        self.tables.setdefault(name, StickTable(name=name, type=kind, key_length=key_length, expire=expire))
        return name

    def check(self, kind: str, **how: t.Any) -> HealthCheck:
        """A health check of ``kind`` with the plan's timing."""
        return dataclasses.replace(self.check_timing, kind=kind, **how)


def subnet(address: str, prefix: int) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)


def servers_at(entries: Servers, server_port: int, check_ssl: bool = False) -> tuple[Server, ...]:
    """The servers of a backend on ``server_port``; ids by position, the same in every backend."""
    return tuple(
        Server(name=name, address=address, port=server_port, id=index, check_ssl=check_ssl)
        for index, (name, address) in enumerate(entries, start=1)
    )
