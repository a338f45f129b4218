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

``settings`` are the ``exchange`` role's variables without their prefix; a
missing key takes the guide's default (:data:`DEFAULTS`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._netcfg import (
    NetError,
    normalize as normalize_network,
    static_routes,
)
from ansible_collections.exchange_lb.appliance.plugins.module_utils._port_rules import (
    Listener,
    check_listeners,
    check_rpc_ports,
    listener,
)
from ansible_collections.exchange_lb.appliance.plugins.module_utils._settings import PLAN_DEFAULTS, PLAN_KEYS
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import (
    PlanError,
    boolean,
    choice,
    hostname,
    integer,
    ipv4,
    port,
    prefix_length,
    seconds,
)

__all__ = ["PlanError", "Plan", "build_plan", "DEFAULTS"]

# --- the guide's labels ---------------------------------------------------------
NETWORK = "Network"
HA = "High Availability"
CAS = "CAS Servers"
HTTP = "HTTP(s) Service"
IMAP = "IMAP(s) Service"
POP3 = "POP3(s) Service"
RPC = "RPC Services"
SMTP = "SMTP(s) Service"
CERTIFICATE = "Certificate .pfx or .pem"

HA_ROLES = ("disabled", "master", "backup")
HTTP_MODES = ("disabled", "ssl-offload", "ssl-forward", "clear", "ssl-bridge")
#: Exchange 2013 and later behave alike for a load balancer: no affinity needed, a
#: health page per virtual directory, MAPI over HTTP, no direct RPC for clients.
EXCHANGE_VERSIONS = ("2010", "2013", "2016", "2019")
VERSION = "Exchange version (exchange_version)"
MAIL_MODES = ("disabled", "clear", "ssl-forward", "ssl-offload", "clear and ssl-forward", "clear and ssl-offload")
RPC_MODES = ("enabled", "disabled")
TLS_ENGINES = ("haproxy", "stunnel")
TLS_VERSIONS = ("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
STARTUP = ("auto", "manual")

#: Mozilla's "intermediate" server profile (TLS 1.2 and 1.3).
INTERMEDIATE_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
    )
)
#: Added only when a user asks for TLS 1.0/1.1 clients (old phones, Outlook 2007 on XP);
#: OpenSSL 3 needs security level 0 for their SHA-1 handshakes.
LEGACY_CIPHERS = "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256:AES128-SHA:AES256-SHA:@SECLEVEL=0"
TLS13_CIPHERSUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

#: The HTTP based services of the guide (5.4.2.3): key, WUI label, Exchange paths.
HTTP_SERVICES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("owa", "Outlook Web App", ("/owa",)),
    ("ecp", "Exchange Control Panel", ("/ecp",)),
    ("oab", "Offline Address Book", ("/oab",)),
    ("autodiscover", "Auto discover", ("/autodiscover",)),
    ("ews", "Exchange Web Services", ("/ews",)),
    ("activesync", "Active Sync", ("/microsoft-server-activesync",)),
    ("outlook_anywhere", "Outlook Anywhere", ("/rpc", "/rpcwithcert")),
)
#: The page of an HTTP service whose every CAS is down: a clear answer, at once, not a hang.
UNAVAILABLE = (
    "No Exchange Client Access server behind this load balancer is answering right now; "
    "please try again in a few minutes."
)
#: Exchange 2013 SP1 and later: Outlook's MAPI over HTTP.
MAPI_SERVICE: tuple[str, str, tuple[str, ...]] = ("mapi", "MAPI over HTTP", ("/mapi",))

PACKAGE_STATES = ("present", "latest")

#: The plan's settings and their defaults: the settings table's (module_utils/_settings.py).
DEFAULTS: dict[str, t.Any] = PLAN_DEFAULTS

#: haproxy's name for a node that is its own only peer (no pair): stickiness survives its reloads.
LOCAL_PEER = "local"

#: Where the certificate module writes the combined PEM of each TLS service.
TLS_DIR = "/etc/exchange-lb/tls"


# --- the plan ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Server:
    name: str
    address: str
    port: int
    id: int  # the same id for a server in every backend, so stick tables can be shared
    check_ssl: bool = False  # the server's port speaks TLS (forwarded untouched); checks use TLS
    track: str = ""  # "<backend>/<server>": take the state of that server's check
    ssl: bool = False  # the appliance speaks TLS to the server (ssl-bridge); checks too


@dataclasses.dataclass(frozen=True)
class HealthCheck:
    """How a backend checks its servers. ``kind``: http, banner, rpc or none."""

    kind: str
    uri: str = ""
    host: str = ""
    expect_status: int = 200
    # banner checks: the exchange, as (send, expect-regex) pairs; send "" = only read
    steps: tuple[tuple[str, str], ...] = ()
    # rpc checks: every port that must answer for the server to be up
    ports: tuple[int, ...] = ()
    # A CAS gone dark (no answer, or a connect that never completes) is out within about
    # inter + 2 x 1 s timeouts + fastinter, ~3 s: inter is also the checks' connect timeout,
    # timeout_ms their read timeout after it.
    inter_ms: int = 1000
    fastinter_ms: int = 250  # between the checks of a server changing state
    downinter_ms: int = 2000  # while it is down
    timeout_ms: int = 1000
    fall: int = 2
    rise: int = 2


@dataclasses.dataclass(frozen=True)
class Persistence:
    """Server affinity (guide 2.5). ``kind``: cookie, header or source."""

    kind: str
    cookie: str = ""
    header: str = ""
    table: str = ""


@dataclasses.dataclass(frozen=True)
class ServerTls:
    """ssl-bridge: TLS from the appliance to the CAS, with the host name as SNI."""

    sni: str
    ca_file: str  # empty: the CAS certificates are not verified
    verify_host: str


@dataclasses.dataclass(frozen=True)
class Backend:
    name: str
    service: str
    mode: str  # "http" or "tcp"
    balance: str
    servers: tuple[Server, ...]
    check: HealthCheck
    timeout_server_s: int
    persistence: Persistence | None = None
    shutdown_sessions_on_down: bool = False
    timeout_connect_s: int = 5
    # HTTP: whether a server connection may serve another client's requests. Exchange
    # authenticates connections (NTLM, Negotiate), so never.
    http_reuse: str = ""
    server_tls: ServerTls | None = None  # ssl-bridge: how the CAS certificates are checked
    # HTTP: what a client reads when no server of the backend is up (instead of haproxy's bare 503)
    unavailable_message: str = ""


@dataclasses.dataclass(frozen=True)
class Bind:
    address: str
    port: int
    field: str
    certificate: str = ""  # haproxy terminates TLS with this PEM
    accept_proxy: bool = False  # stunnel hands the connection over with the PROXY protocol
    more_certificates: tuple[str, ...] = ()  # chosen by the name the client asks for (SNI)


@dataclasses.dataclass(frozen=True)
class Route:
    """HTTP routing by path (ssl-offload and clear): a service of guide 5.4.2.3."""

    key: str
    label: str
    paths: tuple[str, ...]
    backend: str
    enabled: bool


@dataclasses.dataclass(frozen=True)
class Frontend:
    name: str
    service: str
    mode: str  # "http" or "tcp"
    binds: tuple[Bind, ...]
    timeout_client_s: int
    backend: str = ""
    # HTTP: how long an idle keep-alive connection, or a request's headers, may take (the guide's Timeout)
    timeout_idle_s: int = 0
    routes: tuple[Route, ...] = ()
    root_redirect: str = ""  # plain "/" goes here
    https_redirect: str = ""  # every request is redirected to https://<this>
    forwarded_for: bool = False
    forwarded_proto: str = ""


@dataclasses.dataclass(frozen=True)
class StickTable:
    name: str
    type: str  # "ip" or "string"
    size: str = "200k"
    expire: str = "60m"
    key_length: int = 0


@dataclasses.dataclass(frozen=True)
class Certificate:
    """A certificate the user gave for a TLS service, and where it goes."""

    service: str  # "http", "imap", "pop3", "smtp"
    field: str
    src: str
    dest: str
    host_name: str  # the name clients use, which the certificate must cover


@dataclasses.dataclass(frozen=True)
class SniCertificate:
    host_name: str
    certificate: str


@dataclasses.dataclass(frozen=True)
class TlsTunnel:
    """stunnel: TLS ends here and goes on to haproxy on loopback with PROXY v1."""

    name: str
    accept_address: str
    accept_port: int
    connect_port: int
    certificate: str
    sni: tuple[SniCertificate, ...] = ()  # more certificates, chosen by the name the client asks for


@dataclasses.dataclass(frozen=True)
class CaBundle:
    """CA certificates the appliance checks servers with (ssl-bridge)."""

    field: str
    src: str
    dest: str


@dataclasses.dataclass(frozen=True)
class TlsPolicy:
    """The protocol versions and ciphers every TLS listener of the appliance offers."""

    min_version: str
    ciphers: str
    ciphersuites: str
    # Mozilla intermediate's key exchange groups (OpenSSL's defaults add X448 and P-521)
    curves: str = "X25519:P-256:P-384"


@dataclasses.dataclass(frozen=True)
class System:
    """The Services tab's startup settings, the Setup tab's timezone, and how the plan's packages are kept."""

    start_haproxy_at_boot: bool
    start_stunnel_at_boot: bool
    start_keepalived_at_boot: bool
    timezone: str  # empty: left as it is
    packages_state: str  # present | latest
    apt_cache_valid_time: int  # seconds apt's package lists are taken as fresh


@dataclasses.dataclass(frozen=True)
class Stats:
    """haproxy's statistics page and Prometheus metrics, on the node's own (management) address."""

    address: str
    port: int


@dataclasses.dataclass(frozen=True)
class NodeMetrics:
    """prometheus-node-exporter (the system, and the node's VRRP state from a text file), on the
    node's own address, behind the admin password like haproxy's metrics."""

    address: str
    port: int
    textfile_directory: str = "/var/lib/prometheus/node-exporter"


@dataclasses.dataclass(frozen=True)
class Vrrp:
    role: str  # "master" or "backup"
    virtual_address: str
    prefix: int
    router_id: int
    priority: int


@dataclasses.dataclass(frozen=True)
class Peer:
    name: str
    address: str
    port: int


@dataclasses.dataclass(frozen=True)
class Node:
    hostname: str
    address: str
    prefix: int
    gateway: str
    vlan_id: int | None
    routes: tuple[tuple[str, str], ...]  # (network/prefix, router)


@dataclasses.dataclass(frozen=True)
class FirewallRule:
    """What the node accepts: a protocol to one of its addresses, from some sources (none = anyone)."""

    field: str  # the WUI field (or setting) that opened it
    protocol: str  # "tcp" or "vrrp"
    address: str = ""  # destination address on the node; "" = any of its addresses
    port: int = 0
    sources: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Firewall:
    """nftables input filter: the plan's rules are accepted, everything else dropped."""

    admin_networks: tuple[str, ...]
    rules: tuple[FirewallRule, ...]


@dataclasses.dataclass(frozen=True)
class Plan:
    node: Node
    bind_address: str
    vrrp: Vrrp | None
    tls_engine: str
    tls: TlsPolicy
    packages: tuple[str, ...]
    frontends: tuple[Frontend, ...]
    backends: tuple[Backend, ...]
    stick_tables: tuple[StickTable, ...]
    peers: tuple[Peer, ...]
    certificates: tuple[Certificate, ...]
    ca_bundles: tuple[CaBundle, ...]
    tls_tunnels: tuple[TlsTunnel, ...]
    stats: Stats | None
    system: System
    listeners: tuple[Listener, ...]
    firewall: Firewall | None
    #: The host's network configuration for the network role (exlb-netcfg's keys); None: not managed.
    network: dict[str, t.Any] | None = None
    node_metrics: NodeMetrics | None = None
    local_peer: str = ""  # this node's name among the peers (haproxy's localpeer)

    def as_dict(self) -> dict[str, t.Any]:
        """The plan as JSON-ready data (lists, not tuples) for facts and templates."""
        return t.cast("dict[str, t.Any]", _plain(dataclasses.asdict(self)))


def _plain(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


# --- building it -----------------------------------------------------------------------
class _Builder:
    """Collects the plan while the settings are read, section by section."""

    def __init__(self, settings: t.Mapping[str, t.Any]) -> None:
        unknown = sorted(set(settings) - PLAN_KEYS)
        if unknown:
            raise PlanError("settings", f"unknown setting(s): {', '.join(unknown)}")
        self.s: dict[str, t.Any] = {**DEFAULTS, **{k: v for k, v in settings.items() if v is not None}}
        self.frontends: list[Frontend] = []
        self.backends: list[Backend] = []
        self.tables: dict[str, StickTable] = {}
        self.certificates: list[Certificate] = []
        self.ca_bundles: list[CaBundle] = []
        self.tunnels: list[TlsTunnel] = []
        self.listeners: list[Listener] = []
        self.management: list[Listener] = []  # stats, peers: not for everyone
        self.bind_address = ""
        self.tls_engine = choice("TLS engine (exchange_tls_engine)", self.s["tls_engine"], TLS_ENGINES)
        self.version = choice(VERSION, str(self.s["version"]), EXCHANGE_VERSIONS)
        interval = integer(
            "Health checks › interval (exchange_health_check_interval_ms)", self.s["health_check_interval_ms"], 250, 60000, "number of milliseconds"
        )
        # every check of the plan is this one's timing with its own kind (dataclasses.replace)
        self.check_timing = HealthCheck(
            kind="none",
            inter_ms=interval,
            fastinter_ms=min(250, interval),  # between the checks of a server changing state
            downinter_ms=max(2000, interval),  # while it is down
            timeout_ms=integer(
                "Health checks › timeout (exchange_health_check_timeout_ms)", self.s["health_check_timeout_ms"], 100, 60000,
                "number of milliseconds",
            ),
        )
        self._next_internal_port = integer(
            "TLS engine › internal port base (exchange_tls_internal_port_base)", self.s["tls_internal_port_base"], 1024, 65000
        )

    # -- network and high availability --
    def node(self) -> Node:
        s = self.s
        address = ipv4(f"{NETWORK} › Address", s.get("network_address"))
        prefix = prefix_length(f"{NETWORK} › Netmask", s["network_netmask"])
        gateway = ""
        if str(s["network_gateway"]).strip():
            gateway = ipv4(f"{NETWORK} › Gateway", s["network_gateway"])
            if ipaddress.IPv4Address(gateway) not in _subnet(address, prefix):
                raise PlanError(f"{NETWORK} › Gateway", f"{gateway} is not in the node's subnet {_subnet(address, prefix)}")
        vlan = None
        if s["network_vlan_id"] not in (None, ""):
            vlan = integer(f"{NETWORK} › vLAN Identifier", s["network_vlan_id"], 1, 4094)
        # one parser for the plan, the network role and the first-boot wizard (_netcfg)
        netmask = str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)
        try:
            routes = [
                (str(ipaddress.IPv4Network(f"{route['network']}/{route['netmask']}")), route["router"])
                for route in static_routes(s["network_static_routes"], address, netmask)
            ]
        except NetError as error:
            raise PlanError(error.field, error.message) from None
        name = str(s["network_hostname"] or "").strip()
        return Node(
            hostname=hostname(f"{NETWORK} › Hostname", name) if name else "",
            address=address,
            prefix=prefix,
            gateway=gateway,
            vlan_id=vlan,
            routes=tuple(routes),
        )

    def network(self, node: Node) -> dict[str, t.Any] | None:
        """The configuration the network role writes (guide 4.1/4.2), or None when not managed."""
        s = self.s
        if not boolean(f"{NETWORK} › managed by Ansible (exchange_network_manage)", s["network_manage"]):
            return None
        seconds(f"{NETWORK} › rollback timeout (exchange_network_rollback_timeout)", s["network_rollback_timeout"], 3600)
        if not str(s["network_interface"] or "").strip():
            raise PlanError(f"{NETWORK} › interface (exchange_network_interface)", "required: the node has no default route to take it from")
        if not isinstance(s["network_dns_servers"], (list, tuple)):
            raise PlanError(f"{NETWORK} › DNS servers (exchange_network_dns_servers)", "a list of IPv4 addresses is required")
        try:
            config: dict[str, t.Any] = normalize_network(
                {
                    "exchange_network_interface": s["network_interface"],
                    "exchange_network_mode": s["network_mode"],
                    "exchange_network_hostname": node.hostname,
                    "exchange_network_address": node.address,
                    "exchange_network_netmask": str(ipaddress.IPv4Network(f"0.0.0.0/{node.prefix}").netmask),
                    "exchange_network_gateway": node.gateway,
                    "exchange_network_vlan_id": node.vlan_id,
                    "exchange_network_static_routes": [
                        {"network": str(ipaddress.IPv4Network(net).network_address), "netmask": str(ipaddress.IPv4Network(net).netmask), "router": router}
                        for net, router in node.routes
                    ],
                    "exchange_network_dns_servers": list(s["network_dns_servers"]),
                }
            )
        except NetError as error:
            raise PlanError(error.field, error.message) from None
        return config

    def vrrp(self, node: Node) -> Vrrp | None:
        s = self.s
        role = choice(f"{HA} › Role", s["ha_role"], HA_ROLES)
        if role == "disabled":
            return None
        field = f"{HA} › Virtual Service Address"
        vip = ipv4(field, s["virtual_service_address"])
        if vip == node.address:
            raise PlanError(field, f"{vip} is the node's own address ({NETWORK} › Address); the virtual address must be another one")
        subnet = _subnet(node.address, node.prefix)
        if ipaddress.IPv4Address(vip) not in subnet:
            raise PlanError(field, f"{vip} is not in the node's subnet {subnet}")
        router_id = integer(f"{HA} › Cluster Identifier", s["cluster_identifier"], 1, 255, "VRRP identifier")
        return Vrrp(role=role, virtual_address=vip, prefix=node.prefix, router_id=router_id, priority=150 if role == "master" else 100)

    def peers(self, node: Node, vrrp: Vrrp | None) -> tuple[tuple[Peer, ...], str]:
        """The haproxy peers and the name of this node among them. A pair's peers sync stickiness
        between the nodes, so it survives a failover; a single node is its own peer on loopback,
        so its stickiness survives a reload (the old process hands the tables to the new one)."""
        peer_port = port(f"{HA} › peers port (exchange_peers_port)", self.s["peers_port"])
        result = []
        for index, entry in enumerate((self.s.get("peers") or []) if vrrp else [], start=1):
            field = f"{HA} › peer {index}"
            if not isinstance(entry, dict) or not entry.get("name"):
                raise PlanError(field, "a peer needs a name and an address")
            result.append(Peer(name=str(entry["name"]), address=ipv4(field, entry.get("address")), port=peer_port))
        if not result:
            self.listeners.append(Listener(f"{HA} › peers port (exchange_peers_port)", "127.0.0.1", peer_port))
            return (Peer(name=LOCAL_PEER, address="127.0.0.1", port=peer_port),), LOCAL_PEER
        names = [peer.name for peer in result]
        if len(set(names)) != len(names):
            raise PlanError(f"{HA} › peers (exchange_peers)", f"two peers share a name: {', '.join(names)}")
        if node.hostname not in names:
            raise PlanError(
                f"{HA} › peers (exchange_peers)",
                f"this node ({NETWORK} › Hostname {node.hostname!r}) is not among the peers {', '.join(names)}",
            )
        peers_listener = Listener(f"{HA} › peers port (exchange_peers_port)", node.address, peer_port)
        self.listeners.append(peers_listener)
        self.management.append(peers_listener)
        return tuple(result), node.hostname

    # -- servers --
    def servers(self, key: str, label: str, letters: str, required: bool) -> tuple[tuple[str, str], ...]:
        value = self.s.get(key) or []
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

    def certificate(self, service: str, label: str) -> str:
        field = f"{label} › {CERTIFICATE}"
        src = str(self.s[f"{service}_certificate"] or "").strip()
        if not src:
            raise PlanError(field, f"the {self.s[f'{service}_mode']} mode needs a certificate; none was given")
        dest = f"{TLS_DIR}/{service}.pem"
        host = hostname(f"{HTTP} › Host Name", self.s["http_host_name"], fqdn=True)
        self.certificates.append(Certificate(service=service, field=field, src=src, dest=dest, host_name=host))
        return dest

    def additional_certificates(self, mode: str) -> tuple[SniCertificate, ...]:
        """More certificates for the HTTPS listener, chosen by the name the client asks for (SNI)."""
        label = f"{HTTP} › additional certificates (exchange_http_additional_certificates)"
        entries = self.s["http_additional_certificates"] or []
        if not isinstance(entries, (list, tuple)):
            raise PlanError(label, "a list of {certificate, host_name, password} is expected")
        if entries and mode not in ("ssl-offload", "ssl-bridge"):
            raise PlanError(label, f"only the ssl-offload and ssl-bridge modes end TLS on the appliance, not {mode}")
        main = hostname(f"{HTTP} › Host Name", self.s["http_host_name"], fqdn=True)
        seen = {main: f"{HTTP} › Host Name"}
        result = []
        for index, entry in enumerate(entries, start=1):
            field = f"{label} › certificate {index}"
            if not isinstance(entry, dict):
                raise PlanError(field, "a certificate file and the host name it serves are expected")
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
        src = str(self.s["http_cas_ca_certificate"] or "").strip()
        if not src:
            return ServerTls(sni=host, ca_file="", verify_host="")
        dest = "/etc/exchange-lb/cas-ca.pem"  # haproxy reads it, whichever engine ends TLS
        self.ca_bundles.append(CaBundle(field=f"{HTTP} › CAS CA certificate (exchange_http_cas_ca_certificate)", src=src, dest=dest))
        return ServerTls(sni=host, ca_file=dest, verify_host=host)

    def table(self, name: str, kind: str, key_length: int = 0, expire: str = "60m") -> str:
        self.tables.setdefault(name, StickTable(name=name, type=kind, key_length=key_length, expire=expire))
        return name

    # -- services --
    def http(self, address: str, cas: tuple[tuple[str, str], ...]) -> None:
        s = self.s
        mode = choice(HTTP, s["http_mode"], HTTP_MODES)
        if mode == "disabled":
            return
        modern = self.version != "2010"
        host = hostname(f"{HTTP} › Host Name", s["http_host_name"], fqdn=True)
        timeout = seconds(f"{HTTP} › Timeout", s["http_timeout"])
        long_poll = seconds(f"{HTTP} › long-poll timeout (exchange_http_long_poll_timeout)", s["http_long_poll_timeout"])
        cas_http = port(f"{HTTP} › CAS Servers HTTP port", s["http_cas_http_port"])
        services = s["http_services"] or {}
        catalogue = (*HTTP_SERVICES, MAPI_SERVICE) if modern else HTTP_SERVICES
        if not isinstance(services, dict):
            raise PlanError(f"{HTTP} › HTTP and Web Services", "a mapping of service: enabled/disabled is expected")
        unknown = sorted(set(services) - {key for key, _label, _paths in (*HTTP_SERVICES, MAPI_SERVICE)})
        if unknown:
            raise PlanError(f"{HTTP} › HTTP and Web Services", f"unknown service(s): {', '.join(unknown)}")
        enabled = {
            key: boolean(f"{HTTP} › {label}", services.get(key, True)) for key, label, _paths in catalogue
        }
        sni = self.additional_certificates(mode)
        # Exchange 2010: the OWA logon page; 2013 and later: the health page of each virtual directory
        check = dataclasses.replace(
            self.check_timing, kind="http", uri="/owa/healthcheck.htm" if modern else "/owa/auth/logon.aspx", host=host
        )
        if mode == "ssl-forward":
            https_port = port(f"{HTTP} › CAS Servers HTTPs port", s["http_cas_https_port"])
            bind = self.bind(f"{HTTP} › Virtual Service HTTPs port", address, s["http_virtual_https_port"])
            self.backends.append(
                Backend(
                    name="bk_https_forward",
                    service=HTTP,
                    mode="tcp",
                    balance="leastconn",
                    servers=_servers(cas, https_port, check_ssl=True),
                    check=check,
                    timeout_server_s=long_poll,
                    persistence=Persistence(kind="source", table=self.table("st_src", "ip")),
                )
            )
            self.frontends.append(
                Frontend(name="ft_https_forward", service=HTTP, mode="tcp", binds=(bind,), timeout_client_s=long_poll, backend="bk_https_forward")
            )
        else:
            tls = None
            if mode == "ssl-bridge":
                servers = tuple(
                    dataclasses.replace(server, ssl=True)
                    for server in _servers(cas, port(f"{HTTP} › CAS Servers HTTPs port", s["http_cas_https_port"]))
                )
                tls = self.server_tls(host)
            else:
                servers = _servers(cas, cas_http)
            long_lived = {"activesync", "outlook_anywhere", "mapi"}
            if modern:
                # No affinity is needed from Exchange 2013 on; each service is checked on its own
                # health page, so a CAS whose OWA fails still serves ActiveSync.
                families: tuple[tuple[str, tuple[str, ...], Persistence | None, bool, str], ...] = tuple(
                    (f"bk_{key}", (key,), None, key in long_lived, f"{paths[0]}/healthcheck.htm") for key, _label, paths in catalogue
                ) + (("bk_http", (), None, False, "/owa/healthcheck.htm"),)
            else:
                families = (
                    # (backend, services, persistence, long-lived, health page)
                    ("bk_owa", ("owa", "ecp"), Persistence(kind="cookie", cookie="EXLBSRV"), False, check.uri),
                    ("bk_ews", ("ews",), Persistence(kind="cookie", cookie="EXLBSRV"), False, check.uri),
                    ("bk_activesync", ("activesync",),
                     Persistence(kind="header", header="Authorization", table=self.table("st_eas", "string", 256)), True, check.uri),
                    ("bk_outlook_anywhere", ("outlook_anywhere",), Persistence(kind="source", table=self.table("st_src", "ip")), True, check.uri),
                    ("bk_http", ("oab", "autodiscover"), None, False, check.uri),
                )
            routes: list[Route] = []
            for name, keys, persistence, lives_long, health in families:
                self.backends.append(
                    Backend(
                        name=name,
                        service=HTTP,
                        mode="http",
                        balance="leastconn" if lives_long else "roundrobin",
                        servers=servers,
                        check=dataclasses.replace(check, uri=health),
                        timeout_server_s=long_poll if lives_long else timeout,
                        persistence=persistence,
                        http_reuse="never",
                        server_tls=tls,
                        unavailable_message=UNAVAILABLE,
                    )
                )
                for key in keys:
                    label, paths = next((lbl, pth) for k, lbl, pth in catalogue if k == key)
                    routes.append(Route(key=key, label=label, paths=paths, backend=name, enabled=enabled[key]))
            if mode in ("ssl-offload", "ssl-bridge"):
                certificate = self.certificate("http", HTTP)
                bind = self.bind(f"{HTTP} › Virtual Service HTTPs port", address, s["http_virtual_https_port"], certificate, "https", sni)
                proto = "https"
            else:  # clear: beyond the guide, plain HTTP on the redirect port
                bind = self.bind(f"{HTTP} › Redirect HTTP port", address, s["http_redirect_port"])
                proto = "http"
            self.frontends.append(
                Frontend(
                    name=f"ft_{proto}",
                    service=HTTP,
                    mode="http",
                    binds=(bind,),
                    timeout_client_s=long_poll,
                    timeout_idle_s=timeout,
                    backend="bk_http",
                    routes=tuple(routes),
                    root_redirect="/owa/",
                    forwarded_for=True,
                    forwarded_proto=proto,
                )
            )
        if mode != "clear":
            https = port(f"{HTTP} › Virtual Service HTTPs port", s["http_virtual_https_port"])
            target = host if https == 443 else f"{host}:{https}"
            bind = self.bind(f"{HTTP} › Redirect HTTP port", address, s["http_redirect_port"])
            self.frontends.append(
                Frontend(
                    name="ft_http_redirect", service=HTTP, mode="http", binds=(bind,), timeout_client_s=timeout,
                    timeout_idle_s=timeout, https_redirect=target,
                )
            )

    def mail(self, key: str, label: str, servers: tuple[tuple[str, str], ...], letters: str, word: str) -> None:
        """IMAP, POP3 and SMTP: the guide's six modes (5.5, 5.6, 5.8)."""
        s = self.s
        mode = choice(label, s[f"{key}_mode"], MAIL_MODES)
        if mode == "disabled":
            return
        back = "HUB Servers" if letters == "HUB" else "CAS Servers"
        port_key = "hub" if letters == "HUB" else "cas"
        timeout = seconds(f"{label} › Timeout", s[f"{key}_timeout"])
        check = dataclasses.replace(self.check_timing, kind="banner", steps=BANNER_CHECKS[key])
        if mode in ("clear", "clear and ssl-forward", "clear and ssl-offload"):
            self._mail_pair(key, label, f"{word}", servers, check, timeout,
                            front=(f"{label} › Virtual Service {word} port", s[f"{key}_virtual_port"]),
                            back=(f"{label} › {back} {word} port", s[f"{key}_{port_key}_port"]), suffix="")
        if mode in ("ssl-forward", "clear and ssl-forward"):
            self._mail_pair(key, label, f"{word}s", servers, check, timeout,
                            front=(f"{label} › Virtual Service {word}s port", s[f"{key}_virtual_tls_port"]),
                            back=(f"{label} › {back} {word}s port", s[f"{key}_{port_key}_tls_port"]), suffix="s",
                            # IMAPs and POP3s speak TLS at once; the Hub's SMTPs port 587 starts in clear (STARTTLS)
                            check_ssl=key != "smtp")
        if mode in ("ssl-offload", "clear and ssl-offload"):
            certificate = self.certificate(key, label)
            self._mail_pair(key, label, f"{word}s", servers, check, timeout,
                            front=(f"{label} › Virtual Service {word}s port", s[f"{key}_virtual_tls_port"]),
                            back=(f"{label} › {back} {word} port", s[f"{key}_{port_key}_port"]), suffix="s", certificate=certificate)

    def _mail_pair(self, key: str, label: str, word: str, servers: tuple[tuple[str, str], ...], check: HealthCheck,
                   timeout: int, front: tuple[str, t.Any], back: tuple[str, t.Any], suffix: str,
                   check_ssl: bool = False, certificate: str = "") -> None:
        name = f"{key}{suffix}"
        backend_port = port(*back)
        self.backends.append(
            Backend(name=f"bk_{name}", service=label, mode="tcp", balance="leastconn",
                    servers=_servers(servers, backend_port, check_ssl=check_ssl), check=check, timeout_server_s=timeout)
        )
        bind = self.bind(front[0], self.bind_address, front[1], certificate, name)
        self.frontends.append(
            Frontend(name=f"ft_{name}", service=label, mode="tcp", binds=(bind,), timeout_client_s=timeout, backend=f"bk_{name}")
        )

    def rpc(self, address: str, cas: tuple[tuple[str, str], ...]) -> None:
        s = self.s
        mode = choice(RPC, s["rpc_mode"], RPC_MODES)
        if mode == "disabled":
            return
        if self.version != "2010":
            raise PlanError(
                RPC,
                f"Exchange {self.version} has no RPC Client Access for clients (Outlook uses Outlook Anywhere or MAPI over HTTP); "
                f"set RPC to disabled, or {VERSION} to 2010",
            )
        timeout = seconds(f"{RPC} › connection timeout (exchange_rpc_connection_timeout)", s["rpc_connection_timeout"])
        seconds(f"{RPC} › Timeout", s["rpc_timeout"])
        epm = listener(f"{RPC} › Endpoint Mapper port", address, s["rpc_endpoint_mapper_port"])
        rca = listener(f"{RPC} › Access Point port", address, s["rpc_access_point_port"])
        ab = listener(f"{RPC} › Address Book port", address, s["rpc_address_book_port"])
        check_rpc_ports(epm, rca, ab, str(s["rpc_ports_outside_range_reason"] or ""))
        table = self.table("st_src", "ip")
        ports = (epm.port, rca.port, ab.port)
        for name, listening in (("rpc_epm", epm), ("rpc_ca", rca), ("rpc_ab", ab)):
            tracked = name != "rpc_epm"
            servers = tuple(
                Server(name=sname, address=saddr, port=listening.port, id=index, track=f"bk_rpc_epm/{sname}" if tracked else "")
                for index, (sname, saddr) in enumerate(cas, start=1)
            )
            self.backends.append(
                Backend(
                    name=f"bk_{name}", service=RPC, mode="tcp", balance="leastconn", servers=servers,
                    check=HealthCheck(kind="none") if tracked else dataclasses.replace(self.check_timing, kind="rpc", ports=ports),
                    timeout_server_s=timeout, persistence=Persistence(kind="source", table=table),
                    shutdown_sessions_on_down=True,
                )
            )
            self.listeners.append(listening)
            self.frontends.append(
                Frontend(name=f"ft_{name}", service=RPC, mode="tcp",
                         binds=(Bind(address=listening.address, port=listening.port, field=listening.field),),
                         timeout_client_s=timeout, backend=f"bk_{name}")
            )


def _subnet(address: str, prefix: int) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)


def _servers(entries: tuple[tuple[str, str], ...], server_port: int, check_ssl: bool = False) -> tuple[Server, ...]:
    return tuple(
        Server(name=name, address=address, port=server_port, id=index, check_ssl=check_ssl)
        for index, (name, address) in enumerate(entries, start=1)
    )


#: The application-aware checks of guide 2.6 for the mail protocols: (send, expect) steps.
#: Regexes avoid backslashes, which haproxy's quoting would eat.
BANNER_CHECKS: dict[str, tuple[tuple[str, str], ...]] = {
    "imap": (("", "^[*] OK"), ("a1 LOGOUT", "^[*] BYE")),
    "pop3": (("", "^[+]OK"), ("QUIT", "^[+]OK")),
    "smtp": (("", r"^220 "), ("EHLO exchange-lb-check", r"^250[ -]"), ("QUIT", r"^221")),
}


def firewall(b: _Builder, node: Node, vrrp: Vrrp | None, peers: tuple[Peer, ...], controller_address: str) -> Firewall | None:
    """The node's input filter: the public listeners for anyone, management from the admin networks,
    VRRP and peers from the other node. ``controller_address`` is where Ansible connects from: a
    rule set that would shut it out is refused."""
    field = "Firewall (exchange_firewall)"
    if not boolean(field, b.s["firewall"]):
        return None
    admin_field = "Firewall › admin networks (exchange_admin_networks)"
    entries = b.s["admin_networks"] or [str(_subnet(node.address, node.prefix))]
    if not isinstance(entries, (list, tuple)):
        raise PlanError(admin_field, "a list of networks such as 192.168.10.0/24 is expected")
    networks: list[ipaddress.IPv4Network] = []
    for index, entry in enumerate(entries, start=1):
        try:
            networks.append(ipaddress.IPv4Network(str(entry).strip(), strict=True))
        except ValueError as error:
            raise PlanError(f"{admin_field} › network {index}", f"{entry!r} is not an IPv4 network such as 192.168.10.0/24 ({error})") from None
    ssh = port("Firewall › SSH port (exchange_ssh_port)", b.s["ssh_port"])
    if controller_address:
        try:
            controller = ipaddress.IPv4Address(controller_address)
        except ValueError:
            controller = None
        if controller is not None and not any(controller in network for network in networks):
            raise PlanError(
                admin_field,
                f"Ansible connects from {controller}, which is in none of {', '.join(map(str, networks))}: "
                "this run would lock itself out; add that address or its network",
            )
    admin = tuple(str(network) for network in networks)
    rules: list[FirewallRule] = [FirewallRule(field="Firewall › SSH port (exchange_ssh_port)", protocol="tcp", port=ssh, sources=admin)]
    management = {id(item) for item in b.management}
    for item in b.listeners:
        if item.address.startswith("127."):
            continue  # stunnel to haproxy, on loopback
        if id(item) in management:
            continue
        rules.append(FirewallRule(field=item.field, protocol="tcp", address=item.address, port=item.port))
    others = tuple(sorted({f"{peer.address}/32" for peer in peers if peer.address not in (node.address, "127.0.0.1")}))
    for item in b.management:
        if item.field.startswith(HA):
            rules.append(FirewallRule(field=item.field, protocol="tcp", address=item.address, port=item.port, sources=others))
        else:
            rules.append(FirewallRule(field=item.field, protocol="tcp", address=item.address, port=item.port, sources=admin))
    if vrrp is not None:
        rules.append(
            FirewallRule(field=f"{HA} › Cluster Identifier (VRRP)", protocol="vrrp", sources=others or (str(_subnet(node.address, node.prefix)),))
        )
    return Firewall(admin_networks=admin, rules=tuple(rules))


def build_plan(settings: t.Mapping[str, t.Any], controller_address: str = "") -> Plan:
    """Validate the WUI-shaped ``settings`` and return the appliance plan.

    ``controller_address``: where Ansible reaches the node from, if known; the firewall must let it in.
    """
    b = _Builder(settings)
    node = b.node()
    vrrp = b.vrrp(node)
    b.bind_address = vrrp.virtual_address if vrrp else node.address
    cas = b.servers("cas_servers", CAS, "CAS", required=True)
    hub_needed = choice(SMTP, b.s["smtp_mode"], MAIL_MODES) != "disabled"
    hubs = b.servers("hub_servers", f"{SMTP} › HUB Servers", "HUB", required=hub_needed)
    b.http(b.bind_address, cas)
    b.mail("imap", IMAP, cas, "CAS", "IMAP")
    b.mail("pop3", POP3, cas, "CAS", "POP3")
    b.rpc(b.bind_address, cas)
    b.mail("smtp", SMTP, hubs, "HUB", "SMTP")
    peers, local_peer = b.peers(node, vrrp)
    stats = None
    if boolean("Setup tab › System › admin password (exchange_admin_password)", b.s["stats_enabled"]):
        field = "Setup tab › System › statistics and metrics port (exchange_stats_port)"
        stats_listener = listener(field, node.address, b.s["stats_port"])
        b.listeners.append(stats_listener)
        b.management.append(stats_listener)
        stats = Stats(address=stats_listener.address, port=stats_listener.port)
    node_metrics = None
    metrics_field = "Setup tab › System › node metrics (exchange_node_metrics)"
    if boolean(metrics_field, b.s["node_metrics"]):
        if stats is None:
            raise PlanError(metrics_field, "needs the admin password (exchange_admin_password): metrics are never served without one")
        metrics_listener = listener(
            "Setup tab › System › node metrics port (exchange_node_metrics_port)", node.address, b.s["node_metrics_port"]
        )
        b.listeners.append(metrics_listener)
        b.management.append(metrics_listener)
        node_metrics = NodeMetrics(address=metrics_listener.address, port=metrics_listener.port)
    check_listeners(b.listeners)
    startup = {
        daemon: choice(f"Services tab › {daemon} › Startup (exchange_services_startup_{daemon})", b.s[f"services_startup_{daemon}"], STARTUP)
        == "auto"
        for daemon in ("haproxy", "stunnel", "vrrp")
    }
    timezone = str(b.s["timezone"] or "").strip()
    if timezone and not re.fullmatch(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", timezone):
        raise PlanError("Setup tab › System › Timezone (exchange_timezone)", f"{timezone!r} is not a time zone name such as Europe/Paris")
    system = System(
        start_haproxy_at_boot=startup["haproxy"],
        start_stunnel_at_boot=startup["stunnel"],
        start_keepalived_at_boot=startup["vrrp"],
        timezone=timezone,
        packages_state=choice("Packages › state (exchange_packages_state)", b.s["packages_state"], PACKAGE_STATES),
        apt_cache_valid_time=integer(
            "Packages › apt lists valid for (exchange_apt_cache_valid_time)", b.s["apt_cache_valid_time"], 0, 604800, "number of seconds"
        ),
    )
    min_version = choice("TLS minimum version (exchange_tls_min_version)", b.s["tls_min_version"], TLS_VERSIONS)
    legacy = TLS_VERSIONS.index(min_version) < TLS_VERSIONS.index("TLSv1.2")
    tls = TlsPolicy(
        min_version=min_version,
        ciphers=f"{INTERMEDIATE_CIPHERS}:{LEGACY_CIPHERS}" if legacy else INTERMEDIATE_CIPHERS,
        ciphersuites=TLS13_CIPHERSUITES,
    )
    filtering = firewall(b, node, vrrp, peers, controller_address)
    # What the roles need, installed without recommended extras: netbase for the protocol names
    # (vrrp) of the nftables rule set, a recommendation of nftables only.
    packages = (
        ("haproxy",) + (("stunnel4",) if b.tunnels else ()) + (("keepalived",) if vrrp else ()) + (("nftables", "netbase") if filtering else ())
        + (("prometheus-node-exporter",) if node_metrics else ())
    )
    return Plan(
        node=node,
        bind_address=b.bind_address,
        vrrp=vrrp,
        tls_engine=b.tls_engine,
        tls=tls,
        packages=packages,
        frontends=tuple(b.frontends),
        backends=tuple(b.backends),
        stick_tables=tuple(b.tables.values()),
        peers=peers,
        local_peer=local_peer,
        certificates=tuple(b.certificates),
        ca_bundles=tuple(b.ca_bundles),
        tls_tunnels=tuple(b.tunnels),
        stats=stats,
        system=system,
        listeners=tuple(b.listeners),
        firewall=filtering,
        network=b.network(node),
        node_metrics=node_metrics,
    )
