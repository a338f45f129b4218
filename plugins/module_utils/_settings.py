# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""The appliance's settings: one row per ``exchange_*`` variable of the ``exchange`` role.

Each row says everything the collection knows of one setting: its type, the guide's default,
bounds and choices, whether it is secret, its documentation (whose first sentence names the
field as the appliance's web UI does), the question of the AWX survey that asks it (or, for a
secret or a file, the AWX credential type that injects it), and how it reaches the plan.
``tools/gen_settings.py`` writes from this table the role's ``defaults/main.yml``, the options of
its ``meta/argument_specs.yml``, the settings mapping of its ``vars/main.yml``, the AWX survey
``awx/surveys/apply_configuration.yml``, the AWX credential types ``awx/credential_types.yml`` and (through
``tools/gen_variables_doc.py``) ``docs/variables.md``; ``--check`` (run by ``make lint``)
fails when one of them is not what the table says. Adding a field of the web UI is one row
here and one rule in the plan.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import (
    PlanError,
    boolean,
    choice,
    hostname,
    integer,
    interface,
    ipv4,
    prefix_length,
    user_name,
)

__all__ = ["NO_DEFAULT", "Section", "Setting", "Settings", "SECTIONS", "SETTINGS", "PLAN_DEFAULTS", "PLAN_KEYS", "RENAMED", "parse",
           "refuse_renamed"]


class _NoDefault:
    """The default of a setting that has none the plan could take (required, or computed per host)."""

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: t.Final = _NoDefault()


@dataclasses.dataclass(frozen=True)
class Setting:
    """One ``exchange_<name>`` variable."""

    name: str  #: without the ``exchange_`` prefix
    type: str  #: the argument spec's type: str, path, int, float, bool, list
    default: t.Any = NO_DEFAULT  #: the guide's default, as the plan takes it
    field: str = ""  #: the field as the web UI names it, in every error about it
    #: what the plan's value must be, beyond its type: ipv4, netmask (a prefix length for the plan), hostname,
    #: fqdn, username, interface, timezone, bool; a trailing ? lets it be empty
    form: str = ""
    unit: str = ""  #: an integer's unit, in errors ("TCP port number"; "number" when empty)
    doc: tuple[str, ...] = ()  #: the argument spec's description; the first paragraph names the WUI field
    bounds: tuple[int, int] | None = None  #: an int's lowest and highest value
    choices: tuple[t.Any, ...] = ()
    secret: bool = False  #: never logged; a secret field of an AWX credential; never a plan setting
    required: bool = False
    elements: str = ""  #: a list's element type
    options: dict[str, t.Any] | None = None  #: a list of dicts: the spec of one element
    #: computed on each host: the Jinja expression of defaults/main.yml (several lines: a folded block)
    role_default: str | tuple[str, ...] = ""
    survey: str = ""  #: the question of the AWX survey "Apply configuration" (empty: not asked)
    #: the AWX credential type that injects it (awx/credential_types.yml): a secret or a file is never a survey question
    credential: str = ""
    survey_doc: str = ""  #: the question's description, where the documentation's text does not fit
    to_plan: bool = True  #: handed to the plan (vars/main.yml exchange_settings)
    plan_key: str = ""  #: the plan's name for it when not ``name``; ``a.b``: key b of mapping a
    #: the Jinja expression handed to the plan when it is not the variable itself (several lines: a folded block)
    plan_value: str | tuple[str, ...] = ""
    plan_default: t.Any = NO_DEFAULT  #: the plan's default when it is not ``default``
    renamed_from: str = ""  #: the variable's former name, refused with a message naming the new one
    note: tuple[str, ...] = ()  #: the comment above the variable in defaults/main.yml

    @property
    def variable(self) -> str:
        return f"exchange_{self.name}"

    @property
    def key(self) -> str:
        """The plan's name for this setting."""
        return self.plan_key or self.name

    @property
    def holds_secret(self) -> bool:
        """A password, or a list whose items hold one: out of the argument spec's check, which renders
        every value it names as a template (the secret lookup reads the passwords)."""
        return self.secret or any(spec.get("no_log") for spec in (self.options or {}).values())


@dataclasses.dataclass(frozen=True)
class Section:
    """A part of the web UI (a heading of defaults/main.yml)."""

    title: str
    settings: tuple[Setting, ...]


SECTIONS: tuple[Section, ...] = (
    Section(
        "Network tab (4.2.1)",
        (
            Setting(
                "network_hostname",
                "str",
                "",
                field="Network › Hostname",
                form="hostname?",
                role_default="{{ inventory_hostname_short }}",
                doc=(
                    "Network tab › Hostname (guide 4.2.1). The appliance's host name.",
                    "Defaults to the inventory host name.",
                ),
            ),
            Setting(
                "network_address",
                "str",
                field="Network › Address",
                form="ipv4",
                role_default="{{ ansible_facts['default_ipv4']['address'] | default(ansible_host) }}",
                doc=(
                    (
                        "Network tab › Address (guide 4.2.1). The node's own IPv4 address, where it is reachable; the"
                        " services listen on it while the HA role is disabled."
                    ),
                    "Defaults to the address of the node's default route, else its C(ansible_host).",
                ),
            ),
            Setting(
                "network_netmask",
                "str",
                "255.255.255.0",
                field="Network › Netmask",
                form="netmask",
                doc=("Network tab › Netmask. Dotted (V(255.255.255.0)) or a prefix length (V(24)).",),
                survey="Netmask",
            ),
            Setting(
                "network_gateway",
                "str",
                "",
                field="Network › Gateway",
                form="ipv4?",
                doc=("Network tab › Gateway. The default gateway; empty for none (the guide's default).",),
                survey="Gateway",
            ),
            Setting(
                "network_vlan_id",
                "int",
                None,
                field="Network › vLAN Identifier",
                doc=(
                    (
                        "Network tab › vLAN Identifier. Only if the traffic is tagged on the appliance's interface: the"
                        " VLAN number, 1-4094. Empty for none."
                    ),
                ),
                bounds=(1, 4094),
                survey="vLAN Identifier",
            ),
            Setting(
                "network_static_routes",
                "list",
                [],
                field="Network › Static Routes",
                doc=(
                    (
                        "Network tab › Static Routes. Subnets routed to another gateway than the default one; the web"
                        " UI had four slots, more are allowed."
                    ),
                ),
                elements="dict",
                options={
                    "network": {"description": ["The destination network address."], "type": "str", "required": True},
                    "netmask": {
                        "description": ["Its netmask, dotted or as a prefix length."],
                        "type": "str",
                        "required": True,
                    },
                    "router": {"description": ["The gateway for it."], "type": "str", "required": True},
                },
            ),
            Setting(
                "network_manage",
                "bool",
                False,
                field="Network › managed by Ansible (exchange_network_manage)",
                doc=(
                    (
                        "Write the host's network configuration from the Network tab variables with the"
                        " P(exchange_lb.appliance.network#role) role (guide 4.1/4.2) - address, netmask, gateway or"
                        " DHCP, vLAN Identifier, static routes, DNS servers, hostname - applied with a rollback when"
                        " the host stops answering."
                    ),
                    (
                        "Off by default, so that a node whose interface another system owns (a lab container's V(eth0),"
                        " which podman configures; a cloud VM) is only described to the plan and never rewritten. Turn"
                        " it on for an appliance VM."
                    ),
                ),
                note=(
                    "Whether the collection writes the host's network configuration (the network",
                    "role, guide 4.1/4.2). Off by default: on a node whose interface someone else",
                    "owns (a container's eth0 that podman set up, a cloud VM's DHCP) the values",
                    "above still describe the node to the plan, but nothing rewrites its network.",
                ),
            ),
            Setting(
                "network_interface",
                "str",
                "",
                field="Network › interface (exchange_network_interface)",
                form="interface?",
                role_default="{{ ansible_facts['default_ipv4']['interface'] | default('') }}",
                doc=(
                    (
                        "The interface the Network tab configures (its 802.1Q sub-interface carries the address when"
                        " O(exchange_network_vlan_id) is set)."
                    ),
                    "Defaults to the interface of the node's default route.",
                ),
            ),
            Setting(
                "network_mode",
                "str",
                "static",
                field="Network › mode (exchange_network_mode)",
                doc=(
                    (
                        'V(static) (the guide\'s recommendation) or V(dhcp) ("for test purpose only", guide 4.1.2).'
                        " With V(dhcp) the address comes from the DHCP server; O(exchange_network_address) must still"
                        " name it for the plan."
                    ),
                ),
                choices=("static", "dhcp"),
            ),
            Setting(
                "network_dns_servers",
                "list",
                [],
                field="Network › DNS servers (exchange_network_dns_servers)",
                doc=(
                    (
                        "DNS servers written to C(/etc/resolv.conf) (systemd-networkd - C(DNS=)) in V(static) mode."
                        " Empty leaves the host's resolver alone."
                    ),
                ),
                elements="str",
            ),
            Setting(
                "network_rollback_timeout",
                "int",
                60,
                field="Network › rollback timeout (exchange_network_rollback_timeout)",
                unit="number of seconds",
                doc=(
                    (
                        "Seconds after a network change within which Ansible must reconnect and confirm it; without a"
                        " confirmation the host puts its previous network configuration back by itself."
                    ),
                ),
                bounds=(1, 3600),
            ),
        ),
    ),
    Section(
        "Network tab › High availability (4.2.2)",
        (
            Setting(
                "ha_role",
                "str",
                "disabled",
                field="High Availability › Role",
                doc=(
                    (
                        "Network tab › High Availability › Role (guide 4.2.2). V(disabled) (the default) runs a"
                        " standalone appliance; V(master) and V(backup) form an active/passive pair sharing the virtual"
                        " service address."
                    ),
                ),
                choices=("disabled", "master", "backup"),
            ),
            Setting(
                "virtual_service_address",
                "str",
                "",
                field="High Availability › Virtual Service Address",
                form="ipv4?",
                doc=(
                    (
                        "Network tab › High Availability › Virtual Service Address. The IPv4 address that moves from"
                        " the master to the backup in case of trouble; point DNS at it."
                    ),
                    (
                        "Must lie in the node's subnet and differ from its own address. Required when the role is not"
                        " V(disabled)."
                    ),
                ),
                survey="High Availability › Virtual Service Address",
            ),
            Setting(
                "cluster_identifier",
                "int",
                253,
                field="High Availability › Cluster Identifier",
                unit="VRRP identifier",
                doc=(
                    (
                        "Network tab › High Availability › Cluster Identifier. The VRRP id of the pair: unique on the"
                        " LAN, the same on master and backup (1-255)."
                    ),
                ),
                bounds=(1, 255),
                survey="High Availability › Cluster Identifier",
            ),
        ),
    ),
    Section(
        "Config tab › CAS Servers (5.3): CAS1..CAS4 (more are allowed)",
        (
            Setting(
                "cas_servers",
                "list",
                field="CAS Servers",
                required=True,
                doc=(
                    (
                        "Config tab › CAS Servers › CAS1..CAS4 Address (guide 5.3). The Client Access servers of the"
                        " CAS array; every service runs on every CAS."
                    ),
                    "The guide allows 2 to 4; the collection allows any number from one.",
                ),
                elements="dict",
                options={
                    "name": {
                        "description": [
                            "A short name for the server (a host name label), shown in statistics and logs."
                        ],
                        "type": "str",
                        "required": True,
                    },
                    "address": {"description": ["The server's IPv4 address."], "type": "str", "required": True},
                },
                note=("Required, no default. exchange_cas_servers: [{name: cas1, address: 10.0.0.15}, ...]",),
            ),
        ),
    ),
    Section(
        "Config tab › HTTP(s) Service (5.4)",
        (
            Setting(
                "http_mode",
                "str",
                "ssl-offload",
                field="HTTP(s) Service",
                doc=(
                    (
                        "Config tab › HTTP(s) Service (guide 5.4). V(ssl-offload) ends TLS on the appliance, which then"
                        " sees every request and routes and persists per service; V(ssl-forward) passes TLS through to"
                        " the CAS servers untouched; V(disabled) closes the HTTP based services (then no Autodiscover"
                        " either)."
                    ),
                    (
                        "V(clear) is not in the guide: plain HTTP on the Redirect HTTP port to the CAS HTTP port, for"
                        " labs or when TLS ends before the appliance."
                    ),
                    (
                        "V(ssl-bridge) is not in the guide: like V(ssl-offload), and the appliance encrypts again to"
                        " the CAS HTTPs port. Needed where IIS Extended Protection is on or policy wants no clear text"
                        " on the wire (docs/tls.md); see O(exchange_http_cas_ca_certificate)."
                    ),
                ),
                choices=("disabled", "ssl-offload", "ssl-forward", "clear", "ssl-bridge"),
                survey="HTTP(s) Service",
                survey_doc=(
                    "Config tab › HTTP(s) Service (guide 5.4). ssl-offload ends TLS on the appliance, which then sees"
                    " every request and routes and persists per service; ssl-forward passes TLS through to the CAS"
                    " servers untouched; disabled closes the HTTP based services (then no Autodiscover either). clear"
                    " is not in the guide: plain HTTP on the Redirect HTTP port to the CAS HTTP port, for labs or when"
                    " TLS ends before the appliance. ssl-bridge is not in the guide: like ssl-offload, and the"
                    " appliance encrypts again to the CAS HTTPs port (IIS Extended Protection)."
                ),
            ),
            Setting(
                "http_host_name",
                "str",
                "mail.mydomain.local",
                field="HTTP(s) Service › Host Name",
                form="fqdn",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › Host Name. The FQDN of the HTTP based services, used for health"
                        " checking and the HTTP to HTTPS redirection."
                    ),
                ),
                survey="HTTP(s) Service › Host Name",
            ),
            Setting(
                "http_virtual_https_port",
                "int",
                443,
                field="HTTP(s) Service › Virtual Service HTTPs port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › Virtual Service HTTPs port. The port on which the appliance"
                        " listens for HTTPS requests."
                    ),
                ),
                bounds=(1, 65535),
                survey="HTTP(s) Service › Virtual Service HTTPs port",
            ),
            Setting(
                "http_redirect_port",
                "int",
                80,
                field="HTTP(s) Service › Redirect HTTP port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › Redirect HTTP port. The port on which the appliance listens for"
                        " HTTP traffic, to redirect it to HTTPS."
                    ),
                ),
                bounds=(1, 65535),
                survey="HTTP(s) Service › Redirect HTTP port",
            ),
            Setting(
                "http_cas_http_port",
                "int",
                80,
                field="HTTP(s) Service › CAS Servers HTTP port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › CAS Servers HTTP port. The port configured on the CAS servers"
                        " for HTTP based services. Used by ssl-offload and clear; ssl-forward and ssl-bridge reach"
                        " the CAS servers on O(exchange_http_cas_https_port) only (the run warns when this field is set"
                        " then)."
                    ),
                ),
                bounds=(1, 65535),
                survey="HTTP(s) Service › CAS Servers HTTP port",
            ),
            Setting(
                "http_cas_https_port",
                "int",
                443,
                field="HTTP(s) Service › CAS Servers HTTPs port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › CAS Servers HTTPs port. The port configured on the CAS servers"
                        " for HTTPS based services (V(ssl-forward))."
                    ),
                ),
                bounds=(1, 65535),
                survey="HTTP(s) Service › CAS Servers HTTPs port",
            ),
            Setting(
                "http_timeout",
                "int",
                25,
                field="HTTP(s) Service › Timeout",
                unit="number of seconds",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › Timeout. The time in seconds the appliance lets a connection"
                        " stay open when no traffic passes (ordinary requests). Not used in ssl-forward, where TLS"
                        " passes through and one connection carries long-poll requests too: there"
                        " O(exchange_http_long_poll_timeout) governs it (the run warns when this field is set then)."
                    ),
                ),
                bounds=(1, 86400),
                survey="HTTP(s) Service › Timeout",
            ),
            Setting(
                "http_certificate",
                "path",
                "",
                field="HTTP(s) Service › Certificate .pfx or .pem",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › Certificate .pfx or .pem. Path on the controller to the"
                        " certificate file for V(ssl-offload): a PEM file with certificate, chain and key, or a PKCS#12"
                        " (.pfx) file."
                    ),
                    "Checked by M(exchange_lb.appliance.certificate) before anything on the host changes.",
                ),
                credential="Exchange LB HTTP(s) certificate",
            ),
            Setting(
                "http_certificate_password",
                "str",
                "",
                field="HTTP(s) Service › File password",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › File password. The password of the certificate file, if it has"
                        " one. Never logged."
                    ),
                ),
                secret=True,
                credential="Exchange LB HTTP(s) certificate",
                to_plan=False,
            ),
            Setting(
                "http_outlook_web_app",
                "bool",
                True,
                field="HTTP(s) Service › Outlook Web App",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › HTTP and Web Services › Outlook Web App. Exchange webmail."
                        " Should have the same state as Exchange Control Panel."
                    ),
                    "A disabled service answers a clear refusal (403) on its paths (V(ssl-offload) and V(clear)).",
                ),
                survey="HTTP(s) Service › HTTP and Web Services › Outlook Web App",
                plan_key="http_services.owa",
            ),
            Setting(
                "http_exchange_control_panel",
                "bool",
                True,
                field="HTTP(s) Service › Exchange Control Panel",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › HTTP and Web Services › Exchange Control Panel. Used by the"
                        " webmail. Should have the same state as Outlook Web App."
                    ),
                    "A disabled service answers a clear refusal (403) on its paths (V(ssl-offload) and V(clear)).",
                ),
                survey="HTTP(s) Service › HTTP and Web Services › Exchange Control Panel",
                plan_key="http_services.ecp",
            ),
            Setting(
                "http_offline_address_book",
                "bool",
                True,
                field="HTTP(s) Service › Offline Address Book",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › HTTP and Web Services › Offline Address Book. Lets clients"
                        " download the address book."
                    ),
                    "A disabled service answers a clear refusal (403) on its paths (V(ssl-offload) and V(clear)).",
                ),
                survey="HTTP(s) Service › HTTP and Web Services › Offline Address Book",
                plan_key="http_services.oab",
            ),
            Setting(
                "http_autodiscover",
                "bool",
                True,
                field="HTTP(s) Service › Auto discover",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › HTTP and Web Services › Auto discover. Should always be"
                        " enabled: clients use it to discover the Exchange configuration."
                    ),
                    "A disabled service answers a clear refusal (403) on its paths (V(ssl-offload) and V(clear)).",
                ),
                survey="HTTP(s) Service › HTTP and Web Services › Auto discover",
                plan_key="http_services.autodiscover",
            ),
            Setting(
                "http_exchange_web_services",
                "bool",
                True,
                field="HTTP(s) Service › Exchange Web Services",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › HTTP and Web Services › Exchange Web Services. Should always be"
                        " enabled: used by clients."
                    ),
                    "A disabled service answers a clear refusal (403) on its paths (V(ssl-offload) and V(clear)).",
                ),
                survey="HTTP(s) Service › HTTP and Web Services › Exchange Web Services",
                plan_key="http_services.ews",
            ),
            Setting(
                "http_activesync",
                "bool",
                True,
                field="HTTP(s) Service › Active Sync",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › HTTP and Web Services › Active Sync. Keeps smartphones"
                        " synchronised."
                    ),
                    "A disabled service answers a clear refusal (403) on its paths (V(ssl-offload) and V(clear)).",
                ),
                survey="HTTP(s) Service › HTTP and Web Services › Active Sync",
                plan_key="http_services.activesync",
            ),
            Setting(
                "http_outlook_anywhere",
                "bool",
                True,
                field="HTTP(s) Service › Outlook Anywhere",
                doc=(
                    (
                        "Config tab › HTTP(s) Service › HTTP and Web Services › Outlook Anywhere. RPC over HTTPS, for"
                        " remote Outlook clients."
                    ),
                    "A disabled service answers a clear refusal (403) on its paths (V(ssl-offload) and V(clear)).",
                ),
                survey="HTTP(s) Service › HTTP and Web Services › Outlook Anywhere",
                plan_key="http_services.outlook_anywhere",
            ),
            Setting(
                "http_remote_powershell",
                "bool",
                True,
                field="HTTP(s) Service › Remote PowerShell",
                doc=(
                    "HTTP(s) Service › HTTP and Web Services › Remote PowerShell (C(/powershell)): the Exchange Management"
                    " Shell of the administrators' workstations. Not a check box of the guide's web UI, whose persistence"
                    " table (2.5) recommends affinity for it: with Exchange 2010 each client stays on one CAS (its source"
                    " address), as for Outlook Anywhere; from 2013 on it needs none.",
                    "A disabled service answers a clear refusal (403) on its paths (V(ssl-offload) and V(clear)).",
                ),
                survey="HTTP(s) Service › HTTP and Web Services › Remote PowerShell",
                plan_key="http_services.powershell",
            ),
            Setting(
                "http_long_poll_timeout",
                "int",
                3600,
                field="HTTP(s) Service › long-poll timeout (exchange_http_long_poll_timeout)",
                unit="number of seconds",
                doc=(
                    (
                        "Beyond the guide. Seconds an ActiveSync Direct Push or Outlook Anywhere request may stay open"
                        " (heartbeats of up to 59 minutes); the guide's 25-second Timeout would cut them."
                    ),
                ),
                bounds=(1, 86400),
                note=(
                    "Beyond the guide: ActiveSync Direct Push and Outlook Anywhere hold requests",
                    "open for many minutes; the guide's Timeout stays for ordinary requests.",
                ),
            ),
            Setting(
                "version",
                "str",
                "2010",
                field="Exchange version (exchange_version)",
                doc=(
                    "Beyond the guide, which knows Exchange 2010 only. The Exchange version of the CAS servers.",
                    (
                        "V(2013), V(2016) and V(2019) behave alike - each HTTP service is checked on its own"
                        " C(/<virtual directory>/healthcheck.htm) page (a CAS whose OWA fails still serves ActiveSync),"
                        " no affinity is kept (Exchange 2013 and later need none), MAPI over HTTP (C(/mapi)) is routed,"
                        " and RPC must be V(disabled) (Outlook no longer speaks RPC to the CAS directly)."
                    ),
                ),
                choices=("2010", "2013", "2016", "2019"),
                note=(
                    "Beyond the guide: Exchange 2013 and later (MAPI over HTTP, a health page per",
                    "virtual directory, no affinity, no direct RPC), re-encryption to the CAS",
                    "(ssl-bridge) and more certificates chosen by SNI.",
                ),
            ),
            Setting(
                "http_mapi_over_http",
                "bool",
                True,
                field="HTTP(s) Service › MAPI over HTTP",
                doc=(
                    (
                        "Beyond the guide. MAPI over HTTP (C(/mapi)), Outlook's protocol from Exchange 2013 SP1 on."
                        " Only with O(exchange_version) 2013 or later; a disabled service answers a clear refusal (403)"
                        " on its path."
                    ),
                ),
                plan_key="http_services.mapi",
            ),
            Setting(
                "http_cas_ca_certificate",
                "str",
                "",
                field="HTTP(s) Service › CAS CA certificate (exchange_http_cas_ca_certificate)",
                doc=(
                    (
                        "Beyond the guide. With O(exchange_http_mode=ssl-bridge), the CA certificate(s) (a PEM file on"
                        " the controller) that issued the CAS servers' certificates. The appliance then verifies each"
                        " CAS certificate and that it covers O(exchange_http_host_name) (the same certificate on every"
                        " CAS, as Microsoft recommends)."
                    ),
                    "Empty (the default) - the connection to the CAS is encrypted but its certificate is not verified.",
                ),
            ),
            Setting(
                "http_additional_certificates",
                "list",
                [],
                field="HTTP(s) Service › additional certificates (exchange_http_additional_certificates)",
                doc=(
                    (
                        "Beyond the guide. More certificates on the HTTPS listener, each served to clients that ask for"
                        " its host name (SNI) - for example a second accepted domain. The certificate of"
                        " O(exchange_http_certificate) stays the default. Only with O(exchange_http_mode)"
                        " V(ssl-offload) or V(ssl-bridge)."
                    ),
                    (
                        "Each certificate is checked like the main one (expiry, key, chain, strength) and must cover"
                        " its host name."
                    ),
                ),
                elements="dict",
                options={
                    "certificate": {
                        "description": ["The certificate file (.pfx or .pem with its key) on the controller."],
                        "type": "str",
                        "required": True,
                    },
                    "host_name": {
                        "description": [
                            "The name clients ask for with this certificate; it must be covered by it. To serve several"
                            " names of one certificate, list it once per name."
                        ],
                        "type": "str",
                        "required": True,
                    },
                    "password": {
                        "description": ["The file's password, if it has one. Never logged."],
                        "type": "str",
                        "no_log": True,
                        "default": "",
                    },
                },
                # every key of each item but its password, which is never rendered here (the secret lookup
                # reads it); what is not a list of mappings reaches the plan as text it refuses
                plan_value=(
                    "{%- set value = exchange_http_additional_certificates -%}",
                    "{%- if value is none -%}{{ [] }}",
                    "{%- elif value is string or value is mapping or value is not iterable -%}{{ 'not a list' }}",
                    "{%- else -%}",
                    "{%-   set entries = [] -%}",
                    "{%-   for entry in value -%}",
                    "{%-     set item = {} -%}",
                    "{%-     for key in (entry if entry is mapping else []) if key != 'password' -%}",
                    "{%-       set _ = item.update({key: entry[key]}) -%}",
                    "{%-     endfor -%}",
                    "{%-     set _ = entries.append(item if entry is mapping else 'not a mapping') -%}",
                    "{%-   endfor -%}",
                    "{{ entries }}",
                    "{%- endif -%}",
                ),
            ),
        ),
    ),
    Section(
        "Config tab › IMAP(s) Service (5.5)",
        (
            Setting(
                "imap_mode",
                "str",
                "disabled",
                field="IMAP(s) Service",
                doc=(
                    (
                        "Config tab › IMAP(s) Service (guide 5.5). V(clear) forwards clear IMAP; V(ssl-forward)"
                        " forwards IMAPs untouched; V(ssl-offload) ends TLS on the appliance and forwards clear IMAP;"
                        " the two V(clear and ...) modes do both."
                    ),
                ),
                choices=(
                    "disabled",
                    "clear",
                    "ssl-forward",
                    "ssl-offload",
                    "clear and ssl-forward",
                    "clear and ssl-offload",
                ),
                survey="IMAP(s) Service",
            ),
            Setting(
                "imap_virtual_port",
                "int",
                143,
                field="IMAP(s) Service › Virtual Service IMAP port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › IMAP(s) Service › Virtual Service IMAP port. The port on which the appliance"
                        " listens for clear IMAP traffic."
                    ),
                ),
                bounds=(1, 65535),
                survey="IMAP(s) Service › Virtual Service IMAP port",
            ),
            Setting(
                "imap_virtual_tls_port",
                "int",
                993,
                field="IMAP(s) Service › Virtual Service IMAPs port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › IMAP(s) Service › Virtual Service IMAPs port. The port on which the appliance"
                        " listens for IMAPs traffic."
                    ),
                ),
                bounds=(1, 65535),
                survey="IMAP(s) Service › Virtual Service IMAPs port",
            ),
            Setting(
                "imap_cas_port",
                "int",
                143,
                field="IMAP(s) Service › CAS Servers IMAP port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › IMAP(s) Service › CAS Servers IMAP port. The clear IMAP port configured on the"
                        " CAS servers."
                    ),
                ),
                bounds=(1, 65535),
                survey="IMAP(s) Service › CAS Servers IMAP port",
            ),
            Setting(
                "imap_cas_tls_port",
                "int",
                993,
                field="IMAP(s) Service › CAS Servers IMAPs port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › IMAP(s) Service › CAS Servers IMAPs port. The IMAPs port configured on the CAS"
                        " servers."
                    ),
                ),
                bounds=(1, 65535),
                survey="IMAP(s) Service › CAS Servers IMAPs port",
            ),
            Setting(
                "imap_timeout",
                "int",
                25,
                field="IMAP(s) Service › Timeout",
                unit="number of seconds",
                doc=(
                    (
                        "Config tab › IMAP(s) Service › Timeout. The time in seconds the appliance lets a connection"
                        " stay open when no traffic passes."
                    ),
                ),
                bounds=(1, 86400),
                survey="IMAP(s) Service › Timeout",
            ),
            Setting(
                "imap_certificate",
                "path",
                "",
                field="IMAP(s) Service › Certificate .pfx or .pem",
                doc=(
                    (
                        "Config tab › IMAP(s) Service › Certificate .pfx or .pem. Path on the controller to the"
                        " certificate file for the V(ssl-offload) modes."
                    ),
                ),
                credential="Exchange LB IMAP(s) certificate",
            ),
            Setting(
                "imap_certificate_password",
                "str",
                "",
                field="IMAP(s) Service › File password",
                doc=(
                    (
                        "Config tab › IMAP(s) Service › File password. The password of the certificate file, if it has"
                        " one. Never logged."
                    ),
                ),
                secret=True,
                credential="Exchange LB IMAP(s) certificate",
                to_plan=False,
            ),
        ),
    ),
    Section(
        "Config tab › POP3(s) Service (5.6)",
        (
            Setting(
                "pop3_mode",
                "str",
                "disabled",
                field="POP3(s) Service",
                doc=(
                    (
                        "Config tab › POP3(s) Service (guide 5.6). V(clear) forwards clear POP3; V(ssl-forward)"
                        " forwards POP3s untouched; V(ssl-offload) ends TLS on the appliance and forwards clear POP3;"
                        " the two V(clear and ...) modes do both."
                    ),
                ),
                choices=(
                    "disabled",
                    "clear",
                    "ssl-forward",
                    "ssl-offload",
                    "clear and ssl-forward",
                    "clear and ssl-offload",
                ),
                survey="POP3(s) Service",
            ),
            Setting(
                "pop3_virtual_port",
                "int",
                110,
                field="POP3(s) Service › Virtual Service POP3 port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › POP3(s) Service › Virtual Service POP3 port. The port on which the appliance"
                        " listens for clear POP3 traffic."
                    ),
                ),
                bounds=(1, 65535),
                survey="POP3(s) Service › Virtual Service POP3 port",
            ),
            Setting(
                "pop3_virtual_tls_port",
                "int",
                995,
                field="POP3(s) Service › Virtual Service POP3s port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › POP3(s) Service › Virtual Service POP3s port. The port on which the appliance"
                        " listens for POP3s traffic."
                    ),
                ),
                bounds=(1, 65535),
                survey="POP3(s) Service › Virtual Service POP3s port",
            ),
            Setting(
                "pop3_cas_port",
                "int",
                110,
                field="POP3(s) Service › CAS Servers POP3 port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › POP3(s) Service › CAS Servers POP3 port. The clear POP3 port configured on the"
                        " CAS servers."
                    ),
                ),
                bounds=(1, 65535),
                survey="POP3(s) Service › CAS Servers POP3 port",
            ),
            Setting(
                "pop3_cas_tls_port",
                "int",
                995,
                field="POP3(s) Service › CAS Servers POP3s port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › POP3(s) Service › CAS Servers POP3s port. The POP3s port configured on the CAS"
                        " servers."
                    ),
                ),
                bounds=(1, 65535),
                survey="POP3(s) Service › CAS Servers POP3s port",
            ),
            Setting(
                "pop3_timeout",
                "int",
                25,
                field="POP3(s) Service › Timeout",
                unit="number of seconds",
                doc=(
                    (
                        "Config tab › POP3(s) Service › Timeout. The time in seconds the appliance lets a connection"
                        " stay open when no traffic passes."
                    ),
                ),
                bounds=(1, 86400),
                survey="POP3(s) Service › Timeout",
            ),
            Setting(
                "pop3_certificate",
                "path",
                "",
                field="POP3(s) Service › Certificate .pfx or .pem",
                doc=(
                    (
                        "Config tab › POP3(s) Service › Certificate .pfx or .pem. Path on the controller to the"
                        " certificate file for the V(ssl-offload) modes."
                    ),
                ),
                credential="Exchange LB POP3(s) certificate",
            ),
            Setting(
                "pop3_certificate_password",
                "str",
                "",
                field="POP3(s) Service › File password",
                doc=(
                    (
                        "Config tab › POP3(s) Service › File password. The password of the certificate file, if it has"
                        " one. Never logged."
                    ),
                ),
                secret=True,
                credential="Exchange LB POP3(s) certificate",
                to_plan=False,
            ),
        ),
    ),
    Section(
        "Config tab › RPC Services (5.7)",
        (
            Setting(
                "rpc_mode",
                "str",
                "enabled",
                field="RPC Services",
                doc=(
                    (
                        "Config tab › RPC Services (guide 5.7). The RPC services Outlook clients use: the endpoint"
                        " mapper, Client Access and Address Book."
                    ),
                ),
                choices=("enabled", "disabled"),
                survey="RPC Services",
            ),
            Setting(
                "rpc_endpoint_mapper_port",
                "int",
                135,
                field="RPC Services › Endpoint Mapper port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › RPC Services › Endpoint Mapper port. TCP 135 in Exchange; not editable in the"
                        " web UI."
                    ),
                ),
                bounds=(1, 65535),
            ),
            Setting(
                "rpc_access_point_port",
                "int",
                60000,
                field="RPC Services › Access Point port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › RPC Services › Access Point port. The static RPC Client Access port set in the"
                        " registry of every CAS (guide chapter 8); Microsoft recommends 59531-60554."
                    ),
                ),
                bounds=(1, 65535),
                survey="RPC Services › Access Point port",
            ),
            Setting(
                "rpc_address_book_port",
                "int",
                60001,
                field="RPC Services › Address Book port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › RPC Services › Address Book port. The static Address Book port set on every CAS"
                        " (guide chapter 8); must differ from the Access Point port."
                    ),
                ),
                bounds=(1, 65535),
                survey="RPC Services › Address Book port",
            ),
            Setting(
                "rpc_timeout",
                "int",
                25,
                field="RPC Services › Timeout",
                unit="number of seconds",
                doc=(
                    (
                        "Config tab › RPC Services › Timeout. Seconds an idle connection to the endpoint mapper"
                        " (O(exchange_rpc_endpoint_mapper_port)) is kept: Outlook asks it one question and closes. The"
                        " Access Point and Address Book connections, which Outlook keeps open, use"
                        " O(exchange_rpc_connection_timeout)."
                    ),
                ),
                bounds=(1, 86400),
                survey="RPC Services › Timeout",
            ),
            Setting(
                "rpc_connection_timeout",
                "int",
                3600,
                field="RPC Services › connection timeout (exchange_rpc_connection_timeout)",
                unit="number of seconds",
                doc=(
                    (
                        "Beyond the guide. Seconds an idle Outlook RPC connection is kept; Outlook keeps them open for"
                        " long and the guide's 25 seconds would drop them."
                    ),
                ),
                bounds=(1, 86400),
            ),
            Setting(
                "rpc_ports_outside_range_reason",
                "str",
                "",
                field="RPC Services › reason for ports outside the range (exchange_rpc_ports_outside_range_reason)",
                doc=(
                    (
                        "Beyond the guide. Static RPC ports outside 59531-60554 are refused unless this gives the"
                        " reason to use them."
                    ),
                ),
            ),
        ),
    ),
    Section(
        "Config tab › SMTP(s) Service (5.8)",
        (
            Setting(
                "smtp_mode",
                "str",
                "disabled",
                field="SMTP(s) Service",
                doc=(
                    (
                        "Config tab › SMTP(s) Service (guide 5.8). Balances SMTP over the Hub Transport servers, in the"
                        " same six modes as IMAP. The guide's SMTPs is TLS from the first byte on the Virtual Service"
                        " SMTPs port (V(ssl-offload)); V(ssl-forward) forwards that port untouched, so STARTTLS"
                        " submission works through it."
                    ),
                ),
                choices=(
                    "disabled",
                    "clear",
                    "ssl-forward",
                    "ssl-offload",
                    "clear and ssl-forward",
                    "clear and ssl-offload",
                ),
                survey="SMTP(s) Service",
            ),
            Setting(
                "hub_servers",
                "list",
                [],
                field="SMTP(s) Service › HUB Servers",
                doc=(
                    (
                        "Config tab › SMTP(s) Service › HUB Servers › HUB1..HUB4 Address. The Hub Transport servers;"
                        " required when SMTP is not disabled."
                    ),
                ),
                elements="dict",
                options={
                    "name": {"description": ["A short name for the server."], "type": "str", "required": True},
                    "address": {"description": ["The server's IPv4 address."], "type": "str", "required": True},
                },
            ),
            Setting(
                "smtp_virtual_port",
                "int",
                25,
                field="SMTP(s) Service › Virtual Service SMTP port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › SMTP(s) Service › Virtual Service SMTP port. The port on which the appliance"
                        " listens for clear SMTP traffic."
                    ),
                ),
                bounds=(1, 65535),
                survey="SMTP(s) Service › Virtual Service SMTP port",
            ),
            Setting(
                "smtp_virtual_tls_port",
                "int",
                587,
                field="SMTP(s) Service › Virtual Service SMTPs port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › SMTP(s) Service › Virtual Service SMTPs port. The port on which the appliance"
                        " listens for SMTPs traffic."
                    ),
                ),
                bounds=(1, 65535),
                survey="SMTP(s) Service › Virtual Service SMTPs port",
            ),
            Setting(
                "smtp_hub_port",
                "int",
                25,
                field="SMTP(s) Service › HUB Servers SMTP port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › SMTP(s) Service › HUB Servers SMTP port. The clear SMTP port configured on the"
                        " HUB servers."
                    ),
                ),
                bounds=(1, 65535),
                survey="SMTP(s) Service › HUB Servers SMTP port",
            ),
            Setting(
                "smtp_hub_tls_port",
                "int",
                587,
                field="SMTP(s) Service › HUB Servers SMTPs port",
                unit="TCP port number",
                doc=(
                    (
                        "Config tab › SMTP(s) Service › HUB Servers SMTPs port. The SMTPs port configured on the HUB"
                        " servers."
                    ),
                ),
                bounds=(1, 65535),
                survey="SMTP(s) Service › HUB Servers SMTPs port",
            ),
            Setting(
                "smtp_timeout",
                "int",
                25,
                field="SMTP(s) Service › Timeout",
                unit="number of seconds",
                doc=(
                    (
                        "Config tab › SMTP(s) Service › Timeout. The time in seconds the appliance lets a connection"
                        " stay open when no traffic passes."
                    ),
                ),
                bounds=(1, 86400),
                survey="SMTP(s) Service › Timeout",
            ),
            Setting(
                "smtp_certificate",
                "path",
                "",
                field="SMTP(s) Service › Certificate .pfx or .pem",
                doc=(
                    (
                        "Config tab › SMTP(s) Service › Certificate .pfx or .pem. Path on the controller to the"
                        " certificate file for the V(ssl-offload) modes."
                    ),
                ),
                credential="Exchange LB SMTP(s) certificate",
            ),
            Setting(
                "smtp_certificate_password",
                "str",
                "",
                field="SMTP(s) Service › File password",
                doc=(
                    (
                        "Config tab › SMTP(s) Service › File password. The password of the certificate file, if it has"
                        " one. Never logged."
                    ),
                ),
                secret=True,
                credential="Exchange LB SMTP(s) certificate",
                to_plan=False,
            ),
        ),
    ),
    Section(
        "Services tab (6): start each daemon at boot (auto) or by hand (manual)",
        (
            Setting(
                "startup_haproxy",
                "str",
                "auto",
                field="Services tab › haproxy › Startup (exchange_startup_haproxy)",
                renamed_from="exchange_services_startup_haproxy",
                doc=(
                    (
                        "Services tab › haproxy › Startup (guide 6.3). V(auto) starts haproxy at boot; V(manual) leaves"
                        " it to the administrator after a reboot. A run of the role starts it either way."
                    ),
                ),
                choices=("auto", "manual"),
                survey="haproxy › Startup",
            ),
            Setting(
                "startup_stunnel",
                "str",
                "auto",
                field="Services tab › stunnel › Startup (exchange_startup_stunnel)",
                renamed_from="exchange_services_startup_stunnel",
                doc=("Services tab › stunnel › Startup. As for haproxy, when O(exchange_tls_engine=stunnel).",),
                choices=("auto", "manual"),
                survey="stunnel › Startup",
            ),
            Setting(
                "startup_vrrp",
                "str",
                "auto",
                field="Services tab › vrrp › Startup (exchange_startup_vrrp)",
                renamed_from="exchange_services_startup_vrrp",
                doc=(
                    (
                        "Services tab › vrrp › Startup. As for haproxy, for keepalived in a pair. The web UI's"
                        " C(system) line has no startup setting here - the operating system always boots."
                    ),
                ),
                choices=("auto", "manual"),
                survey="vrrp › Startup",
            ),
        ),
    ),
    Section(
        "Setup tab › System (7)",
        (
            Setting(
                "timezone",
                "str",
                "",
                field="Setup tab › System › Timezone (exchange_timezone)",
                form="timezone?",
                doc=(
                    (
                        "Setup tab › System › Timezone (guide 7). A time zone name such as V(Europe/Paris); empty (the"
                        " default) leaves the node's time zone as it is."
                    ),
                ),
                survey="System › Timezone",
                note=("A time zone name such as Europe/Paris; empty leaves the node's as it is.",),
            ),
            Setting(
                "admin_user",
                "str",
                "admin",
                field="Setup tab › System › admin user (exchange_admin_user)",
                doc=(
                    (
                        "Setup tab › System. The user name for haproxy's statistics page and Prometheus metrics (the"
                        " web UI's login was V(admin))."
                    ),
                    "1-32 ASCII letters, digits, V(.), V(_) or V(-), taken exactly as given.",
                ),
                form="username",
                survey="System › admin user",
                note=(
                    "The admin password protects haproxy's statistics page and Prometheus metrics",
                    "on each node's own address; without one they are not served at all.",
                ),
            ),
            Setting(
                "admin_password",
                "str",
                "",
                field="Setup tab › System › admin password (exchange_admin_password)",
                form="bool",
                doc=(
                    (
                        "Setup tab › System › admin password. Protects haproxy's statistics page and Prometheus metrics"
                        " (C(/metrics)) on each node's own address and O(exchange_lb.appliance.exchange#role:main:exchange_stats_port). Empty (the default)"
                        " serves neither - never open without a password. Stored on the node only as a SHA-512 crypt"
                        " hash. Never logged."
                    ),
                ),
                secret=True,
                credential="Exchange LB admin",
                plan_key="stats_enabled",
                plan_value="{{ lookup('exchange_lb.appliance.secret', 'exchange_admin_password') | length > 0 }}",
                plan_default=False,
            ),
            Setting(
                "stats_port",
                "int",
                8404,
                field="Setup tab › System › statistics and metrics port (exchange_stats_port)",
                unit="TCP port number",
                doc=(
                    (
                        "Beyond the guide. The port of the statistics page and the Prometheus metrics, on each node's"
                        " own address."
                    ),
                ),
                bounds=(1, 65535),
            ),
            Setting(
                "node_metrics",
                "bool",
                False,
                field="Setup tab › System › node metrics (exchange_node_metrics)",
                doc=(
                    (
                        "Beyond the guide (its appliance graphed with collectd). Install Debian's"
                        " C(prometheus-node-exporter) and serve the system's metrics and the node's VRRP state"
                        " (C(exchange_lb_vrrp_state)) on each node's own address and O(exchange_node_metrics_port),"
                        " behind the admin user and password like haproxy's metrics; the firewall lets only"
                        " O(exchange_admin_networks) in. Needs O(exchange_lb.appliance.exchange#role:passwords:exchange_admin_password)."
                    ),
                    "Off by default, so a node_exporter your monitoring already deploys does not clash with this one.",
                ),
                survey="System › node metrics",
                survey_doc=(
                    "Beyond the guide. Serve the node's own metrics and its VRRP state (prometheus-node-exporter) on"
                    " each node's own address, behind the admin user and password; needs the admin password."
                ),
            ),
            Setting(
                "health_check_interval_ms",
                "int",
                1000,
                field="Health checks › interval (exchange_health_check_interval_ms)",
                unit="number of milliseconds",
                doc=(
                    (
                        "Beyond the guide. Milliseconds between two health checks of a CAS or HUB server (each service,"
                        " each node). It is also the checks' connect timeout. A server changing state is checked every"
                        " 250 ms; one that is down every 2 s. With O(exchange_health_check_timeout_ms) and two failed"
                        " checks to go down, the defaults take a server that stops answering out of the rotation in"
                        " about 3 s."
                    ),
                ),
                bounds=(250, 60000),
            ),
            Setting(
                "health_check_timeout_ms",
                "int",
                1000,
                field="Health checks › timeout (exchange_health_check_timeout_ms)",
                unit="number of milliseconds",
                doc=(
                    (
                        "Beyond the guide. Milliseconds a server has to answer a health check once connected (the OWA"
                        " logon page of Exchange 2010, C(healthcheck.htm) of 2013 and later, the IMAP, POP3 or SMTP"
                        " banner). Raise it where a CAS answers slowly after an IIS application pool recycle and should"
                        " not leave the rotation meanwhile."
                    ),
                ),
                bounds=(100, 60000),
            ),
            Setting(
                "node_metrics_port",
                "int",
                9100,
                field="Setup tab › System › node metrics port (exchange_node_metrics_port)",
                unit="TCP port number",
                doc=(
                    (
                        "Beyond the guide. The port of the node metrics (O(exchange_node_metrics)), on each node's own"
                        " address."
                    ),
                ),
                bounds=(1, 65535),
            ),
        ),
    ),
    Section(
        "Beyond the guide",
        (
            Setting(
                "peers",
                "list",
                [],
                field="High Availability › peers (exchange_peers)",
                doc=(
                    (
                        "Beyond the guide. The nodes of the pair whose haproxy stick tables stay in sync, so that a"
                        " failover keeps every client on its CAS."
                    ),
                    (
                        "Empty (the default) - every node of the play and of the group C(exchange_lb) (or the one the"
                        " extra var C(exlb_hosts) names; also those a C(--limit) leaves out) whose O(exchange_ha_role) is not V(disabled) and whose"
                        " O(exchange_cluster_identifier) is this node's; each by its O(exchange_network_hostname) and"
                        " O(exchange_network_address), found on the controller by M(exchange_lb.appliance.plan)."
                    ),
                ),
                elements="dict",
                options={
                    "name": {
                        "description": "The node's name as haproxy knows it (its Network › Hostname).",
                        "type": "str",
                        "required": True,
                    },
                    "address": {"description": "The node's own IPv4 address.", "type": "str", "required": True},
                },
                note=(
                    "The nodes of the pair that sync stickiness (haproxy peers); empty: every node of the",
                    "inventory in the same HA cluster (same Cluster Identifier), found by the plan action.",
                ),
            ),
            Setting(
                "tls_engine",
                "str",
                "haproxy",
                field="TLS engine (exchange_tls_engine)",
                doc=(
                    (
                        "Beyond the guide. Who ends TLS: V(haproxy) natively (one hop, the default) or V(stunnel) as"
                        " the guide's appliance did, handing connections to haproxy with the PROXY protocol so the"
                        " client address survives."
                    ),
                ),
                choices=("haproxy", "stunnel"),
            ),
            Setting(
                "tls_min_version",
                "str",
                "TLSv1.2",
                field="TLS minimum version (exchange_tls_min_version)",
                doc=(
                    (
                        "Beyond the guide. The oldest TLS version every TLS listener accepts. The default V(TLSv1.2)"
                        " offers Mozilla's intermediate ciphers; V(TLSv1.0) or V(TLSv1.1) add legacy ciphers for old"
                        " clients only when asked for."
                    ),
                ),
                choices=("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
                note=("TLS 1.2+ with Mozilla's intermediate ciphers; TLSv1.0 only for old clients.",),
            ),
            Setting(
                "tls_internal_port_base",
                "int",
                20000,
                field="TLS engine › internal port base (exchange_tls_internal_port_base)",
                doc=(
                    (
                        "Beyond the guide. With V(stunnel), the first loopback port stunnel hands connections to"
                        " haproxy on."
                    ),
                ),
                bounds=(1024, 65000),
            ),
            Setting(
                "peers_port",
                "int",
                10000,
                field="High Availability › peers port (exchange_peers_port)",
                unit="TCP port number",
                doc=(
                    (
                        "Beyond the guide. The port haproxy's peers use to sync stickiness between the two nodes of a"
                        " pair."
                    ),
                ),
                bounds=(1, 65535),
            ),
            Setting(
                "vrrp_survey_seconds",
                "float",
                3.5,
                field="High Availability › survey seconds (exchange_vrrp_survey_seconds)",
                doc=(
                    (
                        "Beyond the guide. Before a pair is configured, each node listens this many seconds for VRRP"
                        " adverts and refuses a Cluster Identifier that a router other than the pair's nodes already"
                        " uses on the network (two pairs with one identifier take each other's virtual address). V(0)"
                        " skips the survey."
                    ),
                    "Pairs of the same inventory are compared as well, without listening.",
                ),
                to_plan=False,
                note=(
                    "Seconds to listen for another VRRP router with the same Cluster Identifier",
                    "before a pair is configured; 0 skips the survey.",
                ),
            ),
            Setting(
                "packages_state",
                "str",
                "present",
                field="Packages › state (exchange_packages_state)",
                doc=(
                    (
                        "Beyond the guide. The packages of the plan (haproxy, and stunnel4, keepalived, nftables and"
                        " prometheus-node-exporter where the plan uses them) are installed once from the distribution"
                        " before the daemons are configured. V(present) keeps the installed versions, V(latest)"
                        " upgrades them on each run (the C(exchange_lb.appliance.upgrade) playbook upgrades a pair one"
                        " node at a time instead)."
                    ),
                ),
                choices=("present", "latest"),
                note=(
                    (
                        "The packages the plan needs (haproxy, and stunnel4, keepalived, nftables,"
                        " prometheus-node-exporter"
                    ),
                    "where it uses them), installed once from the distribution: kept present, or upgraded with latest.",
                ),
            ),
            Setting(
                "apt_cache_valid_time",
                "int",
                3600,
                field="Packages › apt lists valid for (exchange_apt_cache_valid_time)",
                unit="number of seconds",
                doc=(
                    (
                        "Beyond the guide. Seconds apt's package lists are taken as fresh before a run fetches them"
                        " again (a node without lists fetches them in any case)."
                    ),
                ),
                bounds=(0, 604800),
            ),
        ),
    ),
    Section(
        "Firewall (beyond the guide)",
        (
            Setting(
                "firewall",
                "bool",
                True,
                field="Firewall (exchange_firewall)",
                doc=(
                    (
                        "Beyond the guide. An nftables filter on each node, rendered from the plan, with its own table"
                        " C(inet exchange_lb) (other tables are left alone) loaded by the C(exchange-lb-firewall)"
                        " service. It accepts the ports of the enabled services from anyone, SSH and the statistics"
                        " port only from O(exchange_admin_networks), VRRP and the peers port only from the other node,"
                        " and drops everything else."
                    ),
                    "V(false) removes the table and the service.",
                ),
                note=(
                    "nftables on each node: the services' ports for everyone, SSH and the statistics",
                    "port from the admin networks only (empty: the node's own subnet), VRRP and peers",
                    "from the other node; everything else is dropped.",
                ),
            ),
            Setting(
                "admin_networks",
                "list",
                [],
                field="Firewall › admin networks (exchange_admin_networks)",
                doc=(
                    (
                        "Beyond the guide. The IPv4 networks (V(192.168.10.0/24), a single host as V(192.168.10.5/32))"
                        " that may reach the management services of each node - SSH and the statistics page - through"
                        " the firewall."
                    ),
                    (
                        "Empty (the default) means the node's own subnet (O(exchange_network_address) and"
                        " O(exchange_network_netmask))."
                    ),
                    (
                        "A list that does not contain the address Ansible connects from is refused before anything"
                        " changes, so a run cannot lock itself out."
                    ),
                ),
                elements="str",
            ),
            Setting(
                "ssh_port",
                "int",
                22,
                field="Firewall › SSH port (exchange_ssh_port)",
                unit="TCP port number",
                doc=(
                    "Beyond the guide. The port sshd listens on, opened to O(exchange_admin_networks) by the firewall.",
                ),
                bounds=(1, 65535),
            ),
        ),
    ),
)

SETTINGS: dict[str, Setting] = {setting.name: setting for section in SECTIONS for setting in section.settings}


def _plan_defaults() -> dict[str, t.Any]:
    defaults: dict[str, t.Any] = {}
    for setting in SETTINGS.values():
        value = setting.default if setting.plan_default is NO_DEFAULT else setting.plan_default
        if not setting.to_plan or value is NO_DEFAULT:
            continue
        outer, _dot, inner = setting.key.partition(".")
        if inner:
            defaults.setdefault(outer, {})[inner] = value
        else:
            defaults[outer] = value
    return defaults


#: A variable's former name -> the setting it is now.
RENAMED: dict[str, Setting] = {setting.renamed_from: setting for setting in SETTINGS.values() if setting.renamed_from}


def refuse_renamed(variables: t.Container[str]) -> None:
    """A former name still set in the inventory would be ignored without a word: refuse it, naming the new one."""
    for old, setting in RENAMED.items():
        if old in variables:
            raise PlanError(setting.field, f"{old} was renamed {setting.variable}; set that one instead")


#: The plan's settings and their defaults (a setting without one must be given).
PLAN_DEFAULTS: dict[str, t.Any] = _plan_defaults()
#: Every setting the plan knows.
PLAN_KEYS: frozenset[str] = frozenset(setting.key.partition(".")[0] for setting in SETTINGS.values() if setting.to_plan)

#: The plan's settings that are mappings of settings, and the field that names the whole mapping.
GROUPS: dict[str, str] = {"http_services": "HTTP(s) Service › HTTP and Web Services"}
_TIMEZONE = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")


class Settings(t.Mapping[str, t.Any]):
    """The settings under the plan's names, each validated and typed once (:func:`parse`); read-only."""

    __slots__ = ("_values",)

    def __init__(self, values: t.Mapping[str, t.Any]) -> None:
        self._values = types.MappingProxyType(dict(values))

    def __getitem__(self, key: str) -> t.Any:
        return self._values[key]

    def __iter__(self) -> t.Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def number(self, key: str) -> int:
        value = self._values[key]
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{key} is no integer setting")
        return value

    def text(self, key: str) -> str:
        value = self._values[key]
        if not isinstance(value, str):
            raise TypeError(f"{key} is no text setting")
        return value

    def flag(self, key: str) -> bool:
        value = self._values[key]
        if not isinstance(value, bool):
            raise TypeError(f"{key} is no yes/no setting")
        return value


def _blank(value: t.Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(setting: Setting, value: t.Any) -> str:
    """``value`` as an error shows it: never a secret's, and never more than a line."""
    if setting.secret:
        return "hidden"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _value(setting: Setting, value: t.Any) -> t.Any:
    """One setting's value, validated and typed; the error names its field."""
    field, form = setting.field, setting.form
    if setting.type != "list" and isinstance(value, (t.Mapping, list, tuple, set)):
        kind = "mapping" if isinstance(value, t.Mapping) else "list"
        raise PlanError(field, f"one value is expected, not a {kind} ({_shown(setting, value)})")
    if form.endswith("?"):
        if _blank(value):
            return ""
        form = form[:-1]
    if form == "bool" or setting.type == "bool":
        return boolean(field, value)
    if setting.choices:
        return choice(field, value, tuple(str(option) for option in setting.choices))
    if setting.type == "int":
        if value in (None, "") and setting.default is None:
            return None  # optional (vLAN Identifier)
        low, high = setting.bounds or (-(2**31), 2**31 - 1)
        return integer(field, value, low, high, setting.unit or "number")
    if form == "ipv4":
        return ipv4(field, value)
    if form == "netmask":
        return prefix_length(field, value)
    if form in ("hostname", "fqdn"):
        return hostname(field, value, fqdn=form == "fqdn")
    if form == "username":
        return user_name(field, value)
    if form == "interface":
        return interface(field, value)
    if form == "timezone":
        text = str(value).strip()
        if not _TIMEZONE.fullmatch(text):
            raise PlanError(field, f"{text!r} is not a time zone name such as Europe/Paris")
        return text
    if setting.type in ("str", "path"):
        return "" if value is None else str(value).strip()
    # lists (kept as tuples: nothing changes them): their entries are checked where the plan reads them,
    # each with its own path (CAS Servers › CAS2 Address); anything else is refused there too
    return tuple(value) if isinstance(value, list) else value


def parse(raw: t.Mapping[str, t.Any]) -> Settings:
    """The plan's settings (``raw``: the exchange role's variables under the plan's names, None for
    a default) validated in one pass, every field whatever the modes, each error naming its field."""
    unknown = sorted(set(raw) - PLAN_KEYS)
    if unknown:
        raise PlanError("settings", f"unknown setting(s): {', '.join(unknown)}")
    for group, field in GROUPS.items():
        if raw.get(group) is not None:
            if not isinstance(raw[group], t.Mapping):
                raise PlanError(field, "a mapping of service: enabled/disabled is expected")
            members = {setting.key.partition(".")[2] for setting in SETTINGS.values() if setting.key.startswith(f"{group}.")}
            extra = sorted(set(raw[group]) - members)
            if extra:
                raise PlanError(field, f"unknown service(s): {', '.join(extra)}")
    values: dict[str, t.Any] = {}
    for setting in SETTINGS.values():
        if not setting.to_plan:
            continue
        outer, _dot, inner = setting.key.partition(".")
        value = (raw.get(outer) or {}).get(inner) if inner else raw.get(outer)
        if value is None:
            value = setting.default if setting.plan_default is NO_DEFAULT else setting.plan_default
            if value is NO_DEFAULT:
                value = None
        if inner:
            values.setdefault(outer, {})[inner] = _value(setting, value)
        else:
            values[outer] = _value(setting, value)
    return Settings({key: types.MappingProxyType(value) if isinstance(value, dict) else value for key, value in values.items()})
