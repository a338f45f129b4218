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

The settings are parsed first, every field in one pass whatever the modes
(``_settings.parse``; the table gives each its type, bounds, choices and
default); the plan is then built from the parsed settings only, one service
family at a time: ``_plan_network`` (node, VRRP, peers, firewall),
``_plan_http``, ``_plan_mail`` (IMAP, POP3, SMTP, RPC). Its types are in
``_plan_model``.
"""

from __future__ import annotations

import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._netcfg import device
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_builder import Builder, subnet
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_http import http
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_mail import mail, rpc
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_model import (
    CAS,
    HTTP_SERVICES,
    IMAP,
    INTERMEDIATE_CIPHERS,
    LEGACY_CIPHERS,
    MAIL_MODES,
    MAPI_SERVICE,
    POP3,
    SMTP,
    TLS13_CIPHERSUITES,
    TLS_VERSIONS,
    HaproxyPart,
    KeepalivedPart,
    Node,
    PACKAGES,
    NodeMetrics,
    Peer,
    Plan,
    Stats,
    StunnelPart,
    System,
    TlsPolicy,
    TrackedUnit,
    Vrrp,
)
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_network import (
    check_peer_addresses, check_servers_are_not_nodes, firewall, network, node, own_addresses, peers, vrrp,
)
from ansible_collections.exchange_lb.appliance.plugins.module_utils._port_rules import check_listeners, listener
from ansible_collections.exchange_lb.appliance.plugins.module_utils._settings import PLAN_DEFAULTS, parse
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError

__all__ = ["PlanError", "Plan", "build_plan", "DEFAULTS", "HTTP_SERVICES", "MAPI_SERVICE", "MAIL_MODES"]

#: The plan's settings and their defaults: the settings table's (module_utils/_settings.py).
DEFAULTS: dict[str, t.Any] = PLAN_DEFAULTS


def _stats(b: Builder, address: str, pair: bool) -> tuple[Stats | None, NodeMetrics | None]:
    """haproxy's statistics and metrics, and the node's own metrics: only behind the admin password."""
    stats = None
    if b.s.flag("stats_enabled"):
        served = b.manage(listener("Setup tab › System › statistics and metrics port (exchange_stats_port)", address, b.s["stats_port"]))
        stats = Stats(address=served.address, port=served.port)
    if not b.s.flag("node_metrics"):
        return stats, None
    if stats is None:
        raise PlanError(
            "Setup tab › System › node metrics (exchange_node_metrics)",
            "needs the admin password (exchange_admin_password): metrics are never served without one",
        )
    served = b.manage(listener("Setup tab › System › node metrics port (exchange_node_metrics_port)", address, b.s["node_metrics_port"]))
    return stats, NodeMetrics(address=served.address, port=served.port, vrrp_state=pair)


def _system(b: Builder) -> System:
    s = b.s
    return System(
        start_haproxy_at_boot=s.text("startup_haproxy") == "auto",
        start_stunnel_at_boot=s.text("startup_stunnel") == "auto",
        start_keepalived_at_boot=s.text("startup_vrrp") == "auto",
        timezone=s.text("timezone"),
        packages_state=s.text("packages_state"),
        apt_cache_valid_time=s.number("apt_cache_valid_time"),
    )


def _tls(b: Builder) -> TlsPolicy:
    min_version = b.s.text("tls_min_version")
    legacy = TLS_VERSIONS.index(min_version) < TLS_VERSIONS.index("TLSv1.2")
    return TlsPolicy(
        min_version=min_version,
        ciphers=f"{INTERMEDIATE_CIPHERS}:{LEGACY_CIPHERS}" if legacy else INTERMEDIATE_CIPHERS,
        ciphersuites=TLS13_CIPHERSUITES,
    )


def _parts(b: Builder, host: Node, pair: Vrrp | None, nodes: tuple[Peer, ...], local_peer: str, stats: Stats | None,
           node_metrics: NodeMetrics | None, managed_network: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """Each role's part of the plan: what it renders, with every decision already made."""
    system, tls = _system(b), _tls(b)
    stunnel_ends_tls = b.tls_engine == "stunnel" and bool(b.tunnels)
    haproxy = HaproxyPart(
        frontends=tuple(b.frontends), backends=tuple(b.backends), stick_tables=tuple(b.tables.values()), peers=nodes,
        local_peer=local_peer, tls=tls, stats=stats, certificates=tuple(b.certificates) if b.tls_engine == "haproxy" else (),
        ca_bundles=tuple(b.ca_bundles), nonlocal_bind=pair is not None, start_at_boot=system.start_haproxy_at_boot,
    )
    stunnel = StunnelPart(
        tls_tunnels=tuple(b.tunnels), certificates=tuple(b.certificates), tls=tls, start_at_boot=system.start_stunnel_at_boot
    ) if stunnel_ends_tls else None
    keepalived = KeepalivedPart(
        router_name=host.hostname or host.address, address=host.address, vrrp=pair,
        interface=device(managed_network) if managed_network else "",
        unicast_peers=tuple(peer.address for peer in nodes if peer.address not in (host.address, "127.0.0.1")),
        tracked=(TrackedUnit("haproxy", "haproxy.service"),) + ((TrackedUnit("stunnel", "stunnel@exchange-lb.service"),) if stunnel_ends_tls else ()),
        textfile_directory=node_metrics.textfile_directory if node_metrics else "-", start_at_boot=system.start_keepalived_at_boot,
    ) if pair else None
    return {"system": system, "tls": tls, "haproxy": haproxy, "stunnel": stunnel, "keepalived": keepalived}


def build_plan(settings: t.Mapping[str, t.Any], controller_address: str = "", controller_port: int = 0) -> Plan:
    """Validate the WUI-shaped ``settings`` and return the appliance plan.

    ``controller_address``: where Ansible reaches the node from, if known; the firewall must let it in.
    ``controller_port``: the port sshd answers Ansible on, if known (0: unknown); the firewall must open it.
    """
    b = Builder(parse(settings))
    host = node(b)
    pair = vrrp(b, host)
    b.bind_address = pair.virtual_address if pair else host.address
    b.own_addresses = own_addresses(host, pair)
    b.subnet = subnet(host.address, host.prefix)
    cas = b.servers("cas_servers", CAS, "CAS", required=True)
    hubs = b.servers("hub_servers", f"{SMTP} › HUB Servers", "HUB", required=b.s.text("smtp_mode") != "disabled")
    http(b, cas)
    mail(b, "imap", IMAP, cas, "CAS", "IMAP")
    mail(b, "pop3", POP3, cas, "CAS", "POP3")
    rpc(b, cas)
    mail(b, "smtp", SMTP, hubs, "HUB", "SMTP")
    nodes, local_peer = peers(b, host, pair)
    check_peer_addresses(nodes, host, pair)
    check_servers_are_not_nodes(((f"{CAS} › CAS", cas), (f"{SMTP} › HUB Servers › HUB", hubs)), nodes, host, b.s["network_dns_servers"])
    stats, node_metrics = _stats(b, host.address, pair is not None)
    check_listeners(b.listeners)
    filtering = firewall(b, host, pair, nodes, controller_address, controller_port)
    # What the roles need (PACKAGES, in its order)
    packages = (
        ("haproxy",) + (("stunnel4",) if b.tunnels else ()) + (("keepalived",) if pair else ()) + (("nftables", "netbase") if filtering else ())
        + (("prometheus-node-exporter",) if node_metrics else ())
    )
    managed_network = network(b, host)
    return Plan(
        node=host,
        bind_address=b.bind_address,
        vrrp=pair,
        tls_engine=b.tls_engine,
        packages=packages,
        frontends=tuple(b.frontends),
        backends=tuple(b.backends),
        stick_tables=tuple(b.tables.values()),
        peers=nodes,
        local_peer=local_peer,
        certificates=tuple(b.certificates),
        ca_bundles=tuple(b.ca_bundles),
        tls_tunnels=tuple(b.tunnels),
        stats=stats,
        listeners=tuple(b.listeners),
        firewall=filtering,
        network=managed_network,
        node_metrics=node_metrics,
        tls_ends_here=bool(b.certificates),
        packages_unused=tuple(name for name in PACKAGES if name not in packages and name != "netbase"),
        notes=tuple(b.notes),
        **_parts(b, host, pair, nodes, local_peer, stats, node_metrics, managed_network),
    )
