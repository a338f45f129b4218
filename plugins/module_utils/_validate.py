# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""Small typed validators whose errors name the field as the guide's web UI does."""

from __future__ import annotations

import ipaddress
import re
import typing as t


class PlanError(ValueError):
    """A setting the appliance cannot accept, with the WUI path of the field.

    ``str(error)`` reads ``"<field>: <message>"``, for example
    ``HTTP(s) Service › Timeout: 0 must be at least 1 second``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def ipv4(field: str, value: t.Any) -> str:
    """An IPv4 address in dotted form."""
    if isinstance(value, bool) or value is None or str(value).strip() == "":
        raise PlanError(field, "an IPv4 address is required")
    try:
        return str(ipaddress.IPv4Address(str(value).strip()))
    except (ipaddress.AddressValueError, ValueError):
        raise PlanError(field, f"{value!r} is not an IPv4 address") from None


def prefix_length(field: str, value: t.Any) -> int:
    """A netmask given dotted (255.255.255.0) or as a prefix length (24 or /24)."""
    text = str(value).strip().lstrip("/")
    if text.isdigit():
        length = int(text)
        if 0 <= length <= 32:
            return length
        raise PlanError(field, f"{value!r} is not a prefix length (0-32)")
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{text}").prefixlen
    except (ipaddress.NetmaskValueError, ValueError):
        raise PlanError(field, f"{value!r} is not a netmask (dotted like 255.255.255.0, or a prefix length like 24)") from None


def integer(field: str, value: t.Any, low: int, high: int, what: str = "number") -> int:
    """A whole number within ``low``..``high``."""
    if isinstance(value, bool):
        raise PlanError(field, f"{value!r} is not a {what}")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise PlanError(field, f"{value!r} is not a {what}") from None
    if not low <= number <= high:
        raise PlanError(field, f"{number} is out of range ({low}-{high})")
    return number


def port(field: str, value: t.Any) -> int:
    """A TCP port, 1-65535."""
    return integer(field, value, 1, 65535, "TCP port number")


def seconds(field: str, value: t.Any, high: int = 86400) -> int:
    """A timeout in whole seconds, at least one."""
    return integer(field, value, 1, high, "number of seconds")


def choice(field: str, value: t.Any, choices: t.Sequence[str]) -> str:
    """One value of a closed set (a WUI select box)."""
    text = str(value).strip()
    if text not in choices:
        raise PlanError(field, f"unknown value {value!r}; choose one of: {', '.join(choices)}")
    return text


def boolean(field: str, value: t.Any) -> bool:
    """enabled/disabled as the WUI shows it, or a YAML boolean."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("enabled", "true", "yes", "on", "1"):
        return True
    if text in ("disabled", "false", "no", "off", "0"):
        return False
    raise PlanError(field, f"{value!r} is neither enabled nor disabled")


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)


def hostname(field: str, value: t.Any, fqdn: bool = False) -> str:
    """A host name (RFC 1123 labels); ``fqdn`` asks for at least two labels."""
    text = str(value or "").strip().rstrip(".")
    labels = text.split(".")
    if not text or len(text) > 253 or not all(_LABEL.match(label) for label in labels):
        raise PlanError(field, f"{value!r} is not a valid host name")
    if fqdn and len(labels) < 2:
        raise PlanError(field, f"{value!r} is not a fully qualified domain name")
    return text.lower()
