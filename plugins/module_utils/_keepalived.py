# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is PRIVATE to the collection. It can change at any time.
"""keepalived's own tuning (the keepalived role's variables beyond the guide), checked together with the
plan's pair before any configuration is written: each refusal names the variable it is about."""

from __future__ import annotations

import math
import typing as t

from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

#: Whole seconds VRRPv2 can carry in its advert interval field.
V2_INTERVAL = (1, 255)
#: Centiseconds VRRPv3 can carry (12 bits), in seconds.
V3_INTERVAL = (0.01, 40.95)


def _number(value: t.Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _flag(value: t.Any) -> bool | None:
    if isinstance(value, str):
        value = value.strip().lower()
    if isinstance(value, (int, str, bool)) and value in BOOLEANS_TRUE:
        return True
    if isinstance(value, (int, str, bool)) and value in BOOLEANS_FALSE:
        return False
    return None


def tuning_errors(tuning: t.Mapping[str, t.Any], unicast_peers: t.Sequence[str]) -> list[dict[str, str]]:
    """The refusals for keepalived's tuning, as ``{"var": name, "msg": why}``; empty when it is sound.

    ``tuning``: keepalived_vrrp_version, keepalived_advert_interval, keepalived_unicast,
    keepalived_track_interval, keepalived_track_fall, keepalived_track_settle.
    ``unicast_peers``: the plan's other nodes of the pair."""
    errors: list[dict[str, str]] = []

    def refuse(name: str, message: str) -> None:
        errors.append({"var": name, "msg": message})

    version = _number(tuning.get("keepalived_vrrp_version"))
    interval = _number(tuning.get("keepalived_advert_interval"))
    raw_interval = tuning.get("keepalived_advert_interval")
    if version not in (2, 3):
        refuse("keepalived_vrrp_version", f"{tuning.get('keepalived_vrrp_version')!r} is not a VRRP version keepalived speaks (2 or 3).")
    elif interval is None:
        refuse("keepalived_advert_interval", f"{raw_interval!r} is not a number of seconds.")
    elif version == 2 and not (interval == round(interval) and V2_INTERVAL[0] <= interval <= V2_INTERVAL[1]):
        refuse(
            "keepalived_advert_interval",
            f"{raw_interval} s is not possible with keepalived_vrrp_version 2, which sends adverts every whole second"
            f" ({V2_INTERVAL[0]}-{V2_INTERVAL[1]}); sub-second adverts need keepalived_vrrp_version 3.",
        )
    elif version == 3 and not (V3_INTERVAL[0] <= interval <= V3_INTERVAL[1] and round(interval * 100, 6) == round(interval * 100)):
        refuse(
            "keepalived_advert_interval",
            f"{raw_interval} s is outside what VRRPv3 can carry ({V3_INTERVAL[0]}-{V3_INTERVAL[1]} s, in hundredths).",
        )
    unicast = tuning.get("keepalived_unicast")
    flag = _flag(unicast)
    if flag is None:
        refuse("keepalived_unicast", f"{unicast!r} is not true or false.")
    elif flag and not unicast_peers:
        refuse(
            "keepalived_unicast",
            "unicast adverts need the other node of the pair among the peers of the plan (exchange_peers), and there is"
            " none besides this node.",
        )
    counts = {}
    for name, least in (("keepalived_track_interval", 1), ("keepalived_track_fall", 1), ("keepalived_track_settle", 0)):
        value = tuning.get(name)
        number = _number(value)
        if number is None or number != round(number) or number < least:
            refuse(name, f"{value!r} is not a whole number of at least {least}.")
        else:
            counts[name] = int(number)
    if len(counts) == 3 and counts["keepalived_track_settle"]:
        window = counts["keepalived_track_interval"] * counts["keepalived_track_fall"]
        if counts["keepalived_track_settle"] <= window:
            refuse(
                "keepalived_track_settle",
                f"{counts['keepalived_track_settle']} s must be 0 (off) or longer than keepalived_track_interval ×"
                f" keepalived_track_fall ({window} s), or the check cannot see a restarted haproxy.",
            )
    return errors
