# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""The plan's TCP services: IMAP, POP3 and SMTP in the guide's six modes (5.5, 5.6, 5.8), and
Outlook's RPC (5.7: the endpoint mapper and the two static ports, one persistence for all three)."""

from __future__ import annotations

import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_builder import Builder, Servers, servers_at
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_model import (
    BANNER_CHECKS,
    RPC,
    VERSION,
    Backend,
    Bind,
    Frontend,
    HealthCheck,
    Persistence,
    Server,
)
from ansible_collections.exchange_lb.appliance.plugins.module_utils._port_rules import check_rpc_ports, listener
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError


class _Leg(t.NamedTuple):
    """One listener of a mail service and where it sends to."""

    suffix: str  # "" for the clear port, "s" for the TLS port
    front: str  # the setting of the public port
    back: str  # the setting of the servers' port
    check_ssl: bool = False  # the servers' port speaks TLS (forwarded untouched)
    offload: bool = False  # TLS ends on the appliance


def mail(b: Builder, key: str, label: str, servers: Servers, letters: str, word: str) -> None:
    """IMAP, POP3 and SMTP: the guide's six modes."""
    mode = b.s.text(f"{key}_mode")
    if mode == "disabled":
        return
    side = "hub" if letters == "HUB" else "cas"
    legs = []
    if mode in ("clear", "clear and ssl-forward", "clear and ssl-offload"):
        legs.append(_Leg("", f"{key}_virtual_port", f"{key}_{side}_port"))
    if mode in ("ssl-forward", "clear and ssl-forward"):
        # IMAPs and POP3s speak TLS at once; the Hub's SMTPs port 587 starts in clear (STARTTLS)
        legs.append(_Leg("s", f"{key}_virtual_tls_port", f"{key}_{side}_tls_port", check_ssl=key != "smtp"))
    if mode in ("ssl-offload", "clear and ssl-offload"):
        legs.append(_Leg("s", f"{key}_virtual_tls_port", f"{key}_{side}_port", offload=True))
    check = b.check("banner", steps=BANNER_CHECKS[key])
    timeout = b.s.number(f"{key}_timeout")
    for leg in legs:
        name = f"{key}{leg.suffix}"
        certificate = b.certificate(key, label) if leg.offload else ""
        b.backends.append(
            Backend(name=f"bk_{name}", service=label, mode="tcp", balance="leastconn",
                    servers=servers_at(servers, b.s.number(leg.back), check_ssl=leg.check_ssl), check=check, timeout_server_s=timeout)
        )
        field = f"{label} › Virtual Service {word}{leg.suffix} port"
        bind = b.bind(field, b.bind_address, b.s[leg.front], certificate, name)
        b.frontends.append(
            Frontend(name=f"ft_{name}", service=label, mode="tcp", binds=(bind,), timeout_client_s=timeout, backend=f"bk_{name}")
        )


def rpc(b: Builder, cas: Servers) -> None:
    """Outlook's RPC: the endpoint mapper's check decides for all three ports of a CAS."""
    if b.s.text("rpc_mode") == "disabled":
        return
    if b.version != "2010":
        raise PlanError(
            RPC,
            f"Exchange {b.version} has no RPC Client Access for clients (Outlook uses Outlook Anywhere or MAPI over HTTP); "
            f"set RPC to disabled, or {VERSION} to 2010",
        )
    timeout = b.s.number("rpc_connection_timeout")
    epm = listener(f"{RPC} › Endpoint Mapper port", b.bind_address, b.s["rpc_endpoint_mapper_port"])
    rca = listener(f"{RPC} › Access Point port", b.bind_address, b.s["rpc_access_point_port"])
    ab = listener(f"{RPC} › Address Book port", b.bind_address, b.s["rpc_address_book_port"])
    check_rpc_ports(epm, rca, ab, b.s.text("rpc_ports_outside_range_reason"))
    table = b.table("st_src", "ip")
    ports = (epm.port, rca.port, ab.port)
    for name, listening in (("rpc_epm", epm), ("rpc_ca", rca), ("rpc_ab", ab)):
        tracked = name != "rpc_epm"
        servers = tuple(
            Server(name=sname, address=saddr, port=listening.port, id=index, track=f"bk_rpc_epm/{sname}" if tracked else "")
            for index, (sname, saddr) in enumerate(cas, start=1)
        )
        # the endpoint mapper answers one question and closes: the guide's RPC Timeout; Outlook keeps the
        # Access Point and Address Book connections open for long: the connection timeout
        idle = timeout if tracked else b.s.number("rpc_timeout")
        b.backends.append(
            Backend(
                name=f"bk_{name}", service=RPC, mode="tcp", balance="leastconn", servers=servers,
                check=HealthCheck(kind="none") if tracked else b.check("rpc", ports=ports),
                timeout_server_s=idle, persistence=Persistence(kind="source", table=table),
                shutdown_sessions_on_down=True,
            )
        )
        b.listeners.append(listening)
        b.frontends.append(
            Frontend(name=f"ft_{name}", service=RPC, mode="tcp",
                     binds=(Bind(address=listening.address, port=listening.port, field=listening.field),),
                     timeout_client_s=idle, backend=f"bk_{name}")
        )
