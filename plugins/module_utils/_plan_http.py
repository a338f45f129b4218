# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""The plan's HTTP(s) Service (guide 5.4): OWA, ECP, EWS, ActiveSync, Outlook Anywhere, OAB,
Autodiscover (and MAPI over HTTP from Exchange 2013 on) in the modes ssl-offload, ssl-forward,
ssl-bridge and clear, with the HTTP to HTTPS redirect."""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_builder import Builder, Servers, servers_at
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_model import (
    HTTP,
    HTTP_SERVICES,
    MAPI_SERVICE,
    UNAVAILABLE,
    Backend,
    Frontend,
    HealthCheck,
    Persistence,
    Route,
    Server,
    ServerTls,
)

#: The services whose requests or sessions are held open for minutes (Direct Push, RPC over HTTP, MAPI, a shell).
LONG_LIVED = frozenset({"activesync", "outlook_anywhere", "mapi", "powershell"})
#: From Exchange 2013 on: served by the default backend, checked on OWA's health page (Managed Availability
#: publishes none of its own for them).
MODERN_DEFAULT = ("powershell",)
#: (backend, the services it serves, persistence, long-lived, health page)
Family = t.Tuple[str, t.Tuple[str, ...], t.Optional[Persistence], bool, str]


def http(b: Builder, cas: Servers) -> None:
    mode = b.s.text("http_mode")
    if mode == "disabled":
        return
    if mode == "ssl-forward":
        _forward(b, cas)
        b.unused("http_timeout", "ssl-forward passes TLS through; a connection carries ordinary and long-poll requests"
                 " alike, so HTTP(s) Service › long poll timeout governs it")
    else:
        _ends_here(b, mode, cas)
    if mode != "clear":
        _redirect(b)
    if mode in ("ssl-forward", "ssl-bridge"):
        b.unused("http_cas_http_port", f"{mode} reaches the CAS servers on their HTTPs port only")


def _catalogue(b: Builder) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    return (*HTTP_SERVICES, MAPI_SERVICE) if b.version != "2010" else HTTP_SERVICES


def _health(b: Builder) -> HealthCheck:
    # Exchange 2010: the OWA logon page; 2013 and later: the health page of each virtual directory
    uri = "/owa/healthcheck.htm" if b.version != "2010" else "/owa/auth/logon.aspx"
    return b.check("http", uri=uri, host=b.s.text("http_host_name"))


def _forward(b: Builder, cas: Servers) -> None:
    """ssl-forward: TLS passes through to the CAS HTTPs port; the client's address keeps it on one CAS."""
    b.additional_certificates("ssl-forward")
    long_poll = b.s.number("http_long_poll_timeout")
    bind = b.bind(f"{HTTP} › Virtual Service HTTPs port", b.bind_address, b.s["http_virtual_https_port"])
    b.backends.append(
        Backend(
            name="bk_https_forward",
            service=HTTP,
            mode="tcp",
            balance="leastconn",
            servers=servers_at(cas, b.s.number("http_cas_https_port"), check_ssl=True),
            check=_health(b),
            timeout_server_s=long_poll,
            persistence=Persistence(kind="source", table=b.table("st_src", "ip")),
        )
    )
    b.frontends.append(
        Frontend(name="ft_https_forward", service=HTTP, mode="tcp", binds=(bind,), timeout_client_s=long_poll, backend="bk_https_forward")
    )


def _families(b: Builder, uri: str) -> tuple[Family, ...]:
    if b.version != "2010":
        # No affinity is needed from Exchange 2013 on; each service is checked on its own
        # health page, so a CAS whose OWA fails still serves ActiveSync.
        return tuple(
            (f"bk_{key}", (key,), None, key in LONG_LIVED, f"{paths[0]}/healthcheck.htm")
            for key, _label, paths in _catalogue(b) if key not in MODERN_DEFAULT
        ) + (("bk_http", MODERN_DEFAULT, None, False, "/owa/healthcheck.htm"),)
    cookie = Persistence(kind="cookie", cookie="EXLBSRV")
    return (
        ("bk_owa", ("owa", "ecp"), cookie, False, uri),
        ("bk_ews", ("ews",), cookie, False, uri),
        ("bk_activesync", ("activesync",), Persistence(kind="header", header="Authorization", table=b.table("st_eas", "string", 256)), True, uri),
        ("bk_outlook_anywhere", ("outlook_anywhere",), Persistence(kind="source", table=b.table("st_src", "ip")), True, uri),
        # guide 2.5: affinity recommended for Remote PowerShell; by source address, like Outlook Anywhere
        ("bk_powershell", ("powershell",), Persistence(kind="source", table=b.table("st_src", "ip")), True, uri),
        ("bk_http", ("oab", "autodiscover"), None, False, uri),
    )


def _backends(b: Builder, servers: tuple[Server, ...], tls: ServerTls | None) -> tuple[Route, ...]:
    """One backend per family of services; the routes that send each service's paths to its backend."""
    check = _health(b)
    enabled = b.s["http_services"]
    catalogue = {key: (label, paths) for key, label, paths in _catalogue(b)}
    routes: list[Route] = []
    for name, keys, persistence, lives_long, health in _families(b, check.uri):
        b.backends.append(
            Backend(
                name=name,
                service=HTTP,
                mode="http",
                balance="leastconn" if lives_long else "roundrobin",
                servers=servers,
                check=b.check("http", uri=health, host=check.host),
                timeout_server_s=b.s.number("http_long_poll_timeout") if lives_long else b.s.number("http_timeout"),
                persistence=persistence,
                http_reuse="never",
                server_tls=tls,
                unavailable_message=UNAVAILABLE,
            )
        )
        routes += [Route(key=key, label=catalogue[key][0], paths=catalogue[key][1], backend=name, enabled=enabled[key]) for key in keys]
    return tuple(routes)


def _ends_here(b: Builder, mode: str, cas: Servers) -> None:
    """ssl-offload, ssl-bridge and clear: the appliance sees every request, routes and persists per service."""
    host = b.s.text("http_host_name")
    sni = b.additional_certificates(mode)
    if mode == "ssl-bridge":
        servers = tuple(dataclasses.replace(server, ssl=True) for server in servers_at(cas, b.s.number("http_cas_https_port")))
        tls: ServerTls | None = b.server_tls(host)
    else:
        servers, tls = servers_at(cas, b.s.number("http_cas_http_port")), None
    routes = _backends(b, servers, tls)
    if mode in ("ssl-offload", "ssl-bridge"):
        certificate = b.certificate("http", HTTP)
        bind = b.bind(f"{HTTP} › Virtual Service HTTPs port", b.bind_address, b.s["http_virtual_https_port"], certificate, "https", sni)
        proto = "https"
    else:  # clear: beyond the guide, plain HTTP on the redirect port
        bind = b.bind(f"{HTTP} › Redirect HTTP port", b.bind_address, b.s["http_redirect_port"])
        proto = "http"
    b.frontends.append(
        Frontend(
            name=f"ft_{proto}",
            service=HTTP,
            mode="http",
            binds=(bind,),
            timeout_client_s=b.s.number("http_long_poll_timeout"),
            timeout_idle_s=b.s.number("http_timeout"),
            backend="bk_http",
            routes=routes,
            root_redirect="/owa/",
            forwarded_for=True,
            forwarded_proto=proto,
        )
    )


def _redirect(b: Builder) -> None:
    """Plain HTTP on the Redirect HTTP port answers with the HTTPS address of the same page."""
    host, https = b.s.text("http_host_name"), b.s.number("http_virtual_https_port")
    timeout = b.s.number("http_timeout")
    bind = b.bind(f"{HTTP} › Redirect HTTP port", b.bind_address, b.s["http_redirect_port"])
    b.frontends.append(
        Frontend(
            name="ft_http_redirect", service=HTTP, mode="http", binds=(bind,), timeout_client_s=timeout,
            timeout_idle_s=timeout, https_redirect=host if https == 443 else f"{host}:{https}",
        )
    )
