# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""The appliance model: the user's WUI-shaped settings in, one validated plan out.

Every role of the collection renders a part of the plan returned by
:func:`build_plan`; templates make no decisions of their own.  Validation
errors name the field as the appliance's web UI (the guide) names it, e.g.
``CAS Servers › CAS2 Address: '10.0.0.300' is not an IPv4 address``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import typing as t

#: The guide's labels, used as the path in error messages.
CAS_LABEL = "CAS Servers"
HTTP_LABEL = "HTTP(s) Service"
NETWORK_LABEL = "Network"

HTTP_MODES = ("disabled", "clear", "ssl-offload", "ssl-forward")
#: Modes the collection implements so far; the others are refused clearly.
HTTP_MODES_IMPLEMENTED = ("disabled", "clear")


class PlanError(ValueError):
    """A setting the appliance cannot accept, with the WUI path of the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclasses.dataclass(frozen=True)
class Server:
    name: str
    address: str
    port: int


@dataclasses.dataclass(frozen=True)
class HealthCheck:
    kind: str  # "http" (more kinds arrive with the other services)
    method: str = "GET"
    uri: str = "/"
    host: str = ""
    expect_status: str = ""
    inter_ms: int = 2000
    fall: int = 2
    rise: int = 2


@dataclasses.dataclass(frozen=True)
class Backend:
    name: str
    mode: str  # "http" or "tcp"
    balance: str
    servers: tuple[Server, ...]
    check: HealthCheck
    timeout_server_s: int
    timeout_connect_s: int = 5


@dataclasses.dataclass(frozen=True)
class Bind:
    address: str
    port: int


@dataclasses.dataclass(frozen=True)
class Frontend:
    name: str
    service: str  # the WUI area this listener belongs to
    mode: str
    binds: tuple[Bind, ...]
    timeout_client_s: int
    backend: str
    forwarded_for: bool = False


@dataclasses.dataclass(frozen=True)
class Plan:
    bind_address: str
    frontends: tuple[Frontend, ...]
    backends: tuple[Backend, ...]

    def as_dict(self) -> dict[str, t.Any]:
        """The plan as JSON-ready data (lists, not tuples) for facts and templates."""
        return t.cast("dict[str, t.Any]", _plain(dataclasses.asdict(self)))


def _plain(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _ipv4(field: str, value: t.Any) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value).strip()))
    except (ipaddress.AddressValueError, ValueError):
        raise PlanError(field, f"{value!r} is not an IPv4 address") from None


def _port(field: str, value: t.Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise PlanError(field, f"{value!r} is not a TCP port number") from None
    if not 1 <= port <= 65535:
        raise PlanError(field, f"{port} is not a TCP port (1-65535)")
    return port


def _positive_seconds(field: str, value: t.Any) -> int:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise PlanError(field, f"{value!r} is not a number of seconds") from None
    if seconds < 1:
        raise PlanError(field, f"{seconds} must be at least 1 second")
    return seconds


def _cas_servers(value: t.Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise PlanError(CAS_LABEL, "at least one CAS server is required")
    servers: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for index, entry in enumerate(value, start=1):
        field = f"{CAS_LABEL} › CAS{index} Address"
        if isinstance(entry, dict):
            address = _ipv4(field, entry.get("address"))
            name = str(entry.get("name") or f"cas{index}")
        else:
            address = _ipv4(field, entry)
            name = f"cas{index}"
        if address in seen:
            raise PlanError(field, f"{address} is already {seen[address]}")
        seen[address] = f"{CAS_LABEL} › CAS{index} Address"
        servers.append((name, address))
    return tuple(servers)


def build_plan(settings: t.Mapping[str, t.Any]) -> Plan:
    """Validate the WUI-shaped ``settings`` and return the appliance plan."""
    bind_address = _ipv4(f"{NETWORK_LABEL} › Address", settings.get("network_address"))
    cas = _cas_servers(settings.get("cas_servers"))

    mode = str(settings.get("http_mode", "ssl-offload"))
    if mode not in HTTP_MODES:
        raise PlanError(HTTP_LABEL, f"unknown mode {mode!r}; choose one of {', '.join(HTTP_MODES)}")
    if mode not in HTTP_MODES_IMPLEMENTED:
        raise PlanError(HTTP_LABEL, f"mode {mode!r} is not implemented yet in this version of the collection")

    frontends: list[Frontend] = []
    backends: list[Backend] = []
    if mode == "clear":
        host_name = str(settings.get("http_host_name", "mail.mydomain.local"))
        listen_port = _port(f"{HTTP_LABEL} › Redirect HTTP port", settings.get("http_redirect_port", 80))
        cas_port = _port(f"{HTTP_LABEL} › CAS Servers HTTP port", settings.get("http_cas_http_port", 80))
        timeout = _positive_seconds(f"{HTTP_LABEL} › Timeout", settings.get("http_timeout", 25))
        backends.append(
            Backend(
                name="bk_cas_http",
                mode="http",
                balance="roundrobin",
                servers=tuple(Server(name, address, cas_port) for name, address in cas),
                check=HealthCheck(kind="http", uri="/owa/auth/logon.aspx", host=host_name, expect_status="200"),
                timeout_server_s=timeout,
            )
        )
        frontends.append(
            Frontend(
                name="ft_http",
                service=HTTP_LABEL,
                mode="http",
                binds=(Bind(bind_address, listen_port),),
                timeout_client_s=timeout,
                backend="bk_cas_http",
                forwarded_for=True,
            )
        )
    return Plan(bind_address=bind_address, frontends=tuple(frontends), backends=tuple(backends))
