# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""Rules over the whole listening plan of the appliance.

A listener is one ``address:port`` the appliance opens, named by the WUI field
that asked for it.  Two listeners on one ``address:port`` clash, whichever
service they belong to; ``0.0.0.0`` clashes with every address.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError, ipv4, port

#: Microsoft's recommended range for the static RPC ports (guide 2.4 and 8).
RPC_STATIC_RANGE = (59531, 60554)
ANY_ADDRESS = "0.0.0.0"


@dataclasses.dataclass(frozen=True)
class Listener:
    """One port the appliance listens on, and the WUI field that set it."""

    field: str
    address: str
    port: int


def listener(field: str, address: t.Any, value: t.Any) -> Listener:
    """A validated listener (the address and port are checked, naming ``field``)."""
    return Listener(field=field, address=ipv4(field, address), port=port(field, value))


def check_listeners(listeners: t.Iterable[Listener]) -> None:
    """No two listeners share one address and port.

    Raises :class:`PlanError` naming the later field and the field that holds the
    port already, e.g. ``HTTP(s) Service › Virtual Service HTTPs port: 993 is
    already used by IMAP(s) Service › Virtual Service IMAPs port``.
    """
    taken: list[Listener] = []
    for candidate in listeners:
        for other in taken:
            same_address = ANY_ADDRESS in (candidate.address, other.address) or candidate.address == other.address
            if same_address and candidate.port == other.port:
                where = "" if candidate.address == other.address else f" (on {other.address})"
                raise PlanError(candidate.field, f"{candidate.port} is already used by {other.field}{where}")
        taken.append(candidate)


def check_rpc_ports(
    endpoint_mapper: Listener,
    access_point: Listener,
    address_book: Listener,
    outside_range_reason: str = "",
) -> None:
    """The static RPC ports differ from each other and from the endpoint mapper,
    and lie in Microsoft's range unless the user gave a reason to leave it."""
    if access_point.port == address_book.port:
        raise PlanError(address_book.field, f"{address_book.port} is the same as {access_point.field}; the two static ports must differ")
    for static in (access_point, address_book):
        if static.port == endpoint_mapper.port:
            raise PlanError(static.field, f"{static.port} is the endpoint mapper's port ({endpoint_mapper.field})")
    if outside_range_reason.strip():
        return
    low, high = RPC_STATIC_RANGE
    for static in (access_point, address_book):
        if not low <= static.port <= high:
            raise PlanError(
                static.field,
                f"{static.port} is outside {low}-{high}, the range Microsoft recommends for the static RPC ports"
                " (set exchange_rpc_ports_outside_range_reason to use it anyway)",
            )
