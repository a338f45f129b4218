# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""The appliance plan's types: what the roles render, frozen and typed, and the guide's labels and
catalogues the builders (``_plan_*.py``) name fields and services with."""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._port_rules import Listener
from ansible_collections.exchange_lb.appliance.plugins.module_utils._settings import SETTINGS

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

HA_ROLES: tuple[str, ...] = SETTINGS["ha_role"].choices
HTTP_MODES: tuple[str, ...] = SETTINGS["http_mode"].choices
#: Exchange 2013 and later behave alike for a load balancer: no affinity needed, a
#: health page per virtual directory, MAPI over HTTP, no direct RPC for clients.
EXCHANGE_VERSIONS: tuple[str, ...] = SETTINGS["version"].choices
VERSION = "Exchange version (exchange_version)"
MAIL_MODES: tuple[str, ...] = SETTINGS["imap_mode"].choices
RPC_MODES: tuple[str, ...] = SETTINGS["rpc_mode"].choices
TLS_ENGINES: tuple[str, ...] = SETTINGS["tls_engine"].choices
TLS_VERSIONS: tuple[str, ...] = SETTINGS["tls_min_version"].choices

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
    ("powershell", "Remote PowerShell", ("/powershell",)),
)
#: The page of an HTTP service whose every CAS is down: a clear answer, at once, not a hang.
UNAVAILABLE = (
    "No Exchange Client Access server behind this load balancer is answering right now; "
    "please try again in a few minutes."
)
#: Exchange 2013 SP1 and later: Outlook's MAPI over HTTP.
MAPI_SERVICE: tuple[str, str, tuple[str, ...]] = ("mapi", "MAPI over HTTP", ("/mapi",))


#: Every package a plan may need (installed without recommended extras): netbase for the protocol
#: names (vrrp) of the nftables rule set, a recommendation of nftables only.
PACKAGES = ("haproxy", "stunnel4", "keepalived", "nftables", "netbase", "prometheus-node-exporter")

#: haproxy's name for a node that is its own only peer (no pair): stickiness survives its reloads.
LOCAL_PEER = "local"

#: Where the certificate module writes the combined PEM of each TLS service.
TLS_DIR = "/etc/exchange-lb/tls"

#: The application-aware checks of guide 2.6 for the mail protocols: (send, expect) steps.
#: Regexes avoid backslashes, which haproxy's quoting would eat.
BANNER_CHECKS: dict[str, tuple[tuple[str, str], ...]] = {
    "imap": (("", "^[*] OK"), ("a1 LOGOUT", "^[*] BYE")),
    "pop3": (("", "^[+]OK"), ("QUIT", "^[+]OK")),
    "smtp": (("", r"^220 "), ("EHLO exchange-lb-check", r"^250[ -]"), ("QUIT", r"^221")),
}


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
    vrrp_state: bool = False  # a pair: export the node's VRRP state too


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
    admin: bool = False  # the sources are the admin networks (management: SSH, statistics, metrics)


@dataclasses.dataclass(frozen=True)
class Firewall:
    """nftables input filter: the plan's rules are accepted, everything else dropped."""

    admin_networks: tuple[str, ...]
    rules: tuple[FirewallRule, ...]


# --- each role's part of the plan: what it renders, every decision made ---------------------
@dataclasses.dataclass(frozen=True)
class HaproxyPart:
    """What the haproxy role renders: haproxy.cfg, the certificates haproxy ends TLS with."""

    frontends: tuple[Frontend, ...]
    backends: tuple[Backend, ...]
    stick_tables: tuple[StickTable, ...]
    peers: tuple[Peer, ...]
    local_peer: str
    tls: TlsPolicy
    stats: Stats | None
    certificates: tuple[Certificate, ...]  # the ones haproxy ends TLS with (none when stunnel does)
    ca_bundles: tuple[CaBundle, ...]
    nonlocal_bind: bool  # a pair: the node that does not hold the virtual address binds it all the same
    start_at_boot: bool


@dataclasses.dataclass(frozen=True)
class StunnelPart:
    """What the stunnel role renders, when stunnel ends TLS."""

    tls_tunnels: tuple[TlsTunnel, ...]
    certificates: tuple[Certificate, ...]
    tls: TlsPolicy
    start_at_boot: bool


@dataclasses.dataclass(frozen=True)
class TrackedUnit:
    """A daemon whose failure moves the virtual address away from the node."""

    name: str
    unit: str


@dataclasses.dataclass(frozen=True)
class KeepalivedPart:
    """What the keepalived role renders, in a pair."""

    router_name: str  # keepalived's router_id: the node's host name, else its address
    address: str  # the node's own address (unicast source; how its interface is found)
    interface: str  # the device the network role gives that address ("" when the network is not managed)
    vrrp: Vrrp
    unicast_peers: tuple[str, ...]  # the other node(s) of the pair
    tracked: tuple[TrackedUnit, ...]
    textfile_directory: str  # where the VRRP state is written for the node metrics ("-": nowhere)
    start_at_boot: bool


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
    #: TLS ends on the appliance (ssl-offload, ssl-bridge: a certificate is served); the guide asks for more vCPUs then
    tls_ends_here: bool = False
    #: the packages a plan may need that this one does not: where the node has them, what the collection
    #: set up with them is stopped and removed
    packages_unused: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # settings the chosen modes do not use although they were set (the run warns)
    #: Each role's part, absent when the role has nothing to do (haproxy always has one; the
    #: firewall's and the node metrics' are ``firewall`` and ``node_metrics``).
    haproxy: HaproxyPart | None = None
    stunnel: StunnelPart | None = None
    keepalived: KeepalivedPart | None = None

    def as_dict(self) -> dict[str, t.Any]:
        """The plan as JSON-ready data (lists, not tuples) for facts and templates."""
        return t.cast("dict[str, t.Any]", _plain(dataclasses.asdict(self)))


def _plain(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
