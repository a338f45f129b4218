"""The settings the plan's unit tests start from: a node, two CAS, two Hubs, one certificate file for
every service (its content is checked elsewhere: the certificate module)."""

from __future__ import annotations

import typing as t

BASE: dict[str, t.Any] = {
    "network_address": "10.0.0.11",
    "cas_servers": [{"name": "cas1", "address": "10.0.0.15"}, {"name": "cas2", "address": "10.0.0.16"}],
    "hub_servers": [{"name": "hub1", "address": "10.0.0.21"}, {"name": "hub2", "address": "10.0.0.22"}],
    "http_certificate": "/etc/ssl/mail.pfx",
    "imap_certificate": "/etc/ssl/mail.pfx",
    "pop3_certificate": "/etc/ssl/mail.pfx",
    "smtp_certificate": "/etc/ssl/mail.pfx",
}
