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


#: Whole numbers in ASCII digits only: ``str.isdigit`` and ``int`` also take other scripts' digits
#: (``'²'.isdigit()`` is true, ``int('٢٤')`` is 24), which no daemon's configuration reads.
_INTEGER = re.compile(r"[+-]?[0-9]+")


def prefix_length(field: str, value: t.Any) -> int:
    """A netmask given dotted (255.255.255.0) or as a prefix length (24 or /24)."""
    text = str(value).strip().lstrip("/")
    if _INTEGER.fullmatch(text) and text[0] not in "+-":
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
    if isinstance(value, bool) or not _INTEGER.fullmatch(str(value).strip()):
        raise PlanError(field, f"{value!r} is not a {what}")
    number = int(str(value).strip())
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


#: A host name label (RFC 1123): ASCII letters, digits and inner hyphens. No re.IGNORECASE, which
#: folds look-alikes in (the long s, the Kelvin sign, the dotted capital I); matched whole
#: (``fullmatch``: ``$`` would take a trailing newline).
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def hostname(field: str, value: t.Any, fqdn: bool = False) -> str:
    """A host name (RFC 1123 labels, ASCII), lower-cased; ``fqdn`` asks for at least two labels.

    Surrounding spaces and one final dot are dropped; nothing else is: any other character (a newline,
    ``#``, a space inside) is refused, so a name cannot add a line or a word to a configuration."""
    text = str(value or "").strip(" ")
    text = text[:-1] if text.endswith(".") else text
    labels = text.split(".")
    if not text or len(text) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise PlanError(field, f"{value!r} is not a valid host name (ASCII letters, digits, '-' and '.')")
    if fqdn and len(labels) < 2:
        raise PlanError(field, f"{value!r} is not a fully qualified domain name")
    return text.lower()


#: A login name: ASCII letters, digits, '.', '_', '-' (haproxy's userlist and node_exporter's
#: web configuration take it as one word; '#' would start a comment, a space another keyword).
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,31}")


def user_name(field: str, value: t.Any) -> str:
    """A user name for a login, taken exactly as given (no space around it, no other character)."""
    return _word(field, value, _USER, "a user name: 1-32 ASCII letters, digits, '.', '_' or '-', first a letter, digit or '_'")


#: A Linux network interface name (at most 15 characters; no '/', no space).
_INTERFACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14}")


def interface(field: str, value: t.Any) -> str:
    """A network interface name, taken exactly as given."""
    return _word(field, value, _INTERFACE, "a network interface name (1-15 ASCII letters, digits, '_', '.', ':' or '-')")


def _word(field: str, value: t.Any, pattern: re.Pattern[str], what: str) -> str:
    """``value`` as one word of a config line, taken exactly as given when ``pattern`` matches it whole."""
    text = "" if value is None else str(value)
    if not pattern.fullmatch(text):
        raise PlanError(field, f"{value!r} is not {what}")
    return text
