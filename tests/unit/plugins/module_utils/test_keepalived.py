"""keepalived's own tuning, refused by variable before anything is written."""

from __future__ import annotations

import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.exchange_lb.appliance.plugins.module_utils._keepalived import tuning_errors

DEFAULTS: dict[str, t.Any] = {
    "keepalived_vrrp_version": 3, "keepalived_advert_interval": 1, "keepalived_unicast": False,
    "keepalived_track_interval": 1, "keepalived_track_fall": 2, "keepalived_track_settle": 0,
}
PEERS = ("10.0.0.12",)


def refused(changes: dict[str, t.Any], peers: t.Sequence[str] = PEERS) -> dict[str, str]:
    return {error["var"]: error["msg"] for error in tuning_errors({**DEFAULTS, **changes}, peers)}


def test_the_role_defaults_are_sound() -> None:
    assert refused({}) == {}
    assert refused({}, peers=[]) == {}  # multicast needs no peer list


@pytest.mark.parametrize(
    ("changes", "variable", "words"),
    [
        ({"keepalived_vrrp_version": 2, "keepalived_advert_interval": 0.5}, "keepalived_advert_interval", "sub-second adverts need keepalived_vrrp_version 3"),
        ({"keepalived_vrrp_version": 2, "keepalived_advert_interval": 256}, "keepalived_advert_interval", "1-255"),
        ({"keepalived_advert_interval": 41}, "keepalived_advert_interval", "0.01-40.95"),
        ({"keepalived_advert_interval": 0.005}, "keepalived_advert_interval", "in hundredths"),
        ({"keepalived_advert_interval": "soon"}, "keepalived_advert_interval", "not a number"),
        ({"keepalived_vrrp_version": 4}, "keepalived_vrrp_version", "2 or 3"),
        ({"keepalived_unicast": "maybe"}, "keepalived_unicast", "not true or false"),
        ({"keepalived_track_settle": 2}, "keepalived_track_settle", "longer than keepalived_track_interval × keepalived_track_fall (2 s)"),
        ({"keepalived_track_fall": 0}, "keepalived_track_fall", "at least 1"),
        ({"keepalived_track_interval": 1.5}, "keepalived_track_interval", "whole number"),
    ],
)
def test_tuning_that_cannot_work_is_refused_naming_the_variable(changes: dict[str, t.Any], variable: str, words: str) -> None:
    errors = refused(changes)
    assert list(errors) == [variable]
    assert words in errors[variable]


def test_unicast_without_the_other_node_is_refused() -> None:
    assert "none besides this node" in refused({"keepalived_unicast": True}, peers=[])["keepalived_unicast"]
    assert refused({"keepalived_unicast": "yes"}) == {}  # as Ansible reads a flag from -e


@given(st.decimals(min_value="0.001", max_value="300", places=3))
def test_an_advert_interval_is_taken_exactly_when_its_version_can_carry_it(interval: t.Any) -> None:
    seconds = float(interval)
    v2 = "keepalived_advert_interval" not in refused({"keepalived_vrrp_version": 2, "keepalived_advert_interval": seconds})
    v3 = "keepalived_advert_interval" not in refused({"keepalived_vrrp_version": 3, "keepalived_advert_interval": seconds})
    assert v2 == (seconds == int(seconds) and 1 <= seconds <= 255)
    assert v3 == (0.01 <= seconds <= 40.95 and interval * 100 == int(interval * 100))


@given(st.integers(1, 10), st.integers(1, 10), st.integers(0, 200))
def test_a_settle_time_is_taken_when_off_or_beyond_the_check_window(interval: int, fall: int, settle: int) -> None:
    errors = refused({"keepalived_track_interval": interval, "keepalived_track_fall": fall, "keepalived_track_settle": settle})
    assert ("keepalived_track_settle" not in errors) == (settle == 0 or settle > interval * fall)
