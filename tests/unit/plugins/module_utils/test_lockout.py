"""A run cannot lock itself out with the firewall: Ansible's address must be an IPv4 address in the
admin networks (the SSH rule is IPv4-only), sshd's port as Ansible reaches it must be the one the
firewall opens, and overlapping admin networks are merged rather than refused by ``nft -c``."""

from __future__ import annotations

import ipaddress
import typing as t

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from ansible_collections.exchange_lb.appliance.plugins.action.plan import parse_ssh_connection
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import PlanError, build_plan
from plan_settings import BASE

ADMIN = "Firewall › admin networks (exchange_admin_networks)"
SSH = "Firewall › SSH port (exchange_ssh_port)"


def refusal(settings: t.Mapping[str, t.Any], controller: str = "", port: int = 0) -> PlanError:
    with pytest.raises(PlanError) as refused:
        build_plan(settings, controller, port)
    return refused.value


@pytest.mark.parametrize("controller", ["2001:db8::5", "fe80::1%eth0", "::1"])
def test_an_ipv6_controller_is_refused_naming_the_admin_networks(controller: str) -> None:
    error = refusal(BASE, controller)
    assert error.field == ADMIN
    assert "IPv6" in error.message and "IPv4 only" in error.message and "lock itself out" in error.message
    assert build_plan({**BASE, "firewall": False}, controller).firewall is None  # no firewall: nothing to lock


def test_an_ipv4_mapped_controller_is_its_ipv4_address() -> None:
    assert build_plan(BASE, "::ffff:10.0.0.5").firewall is not None
    assert "10.9.9.9" in refusal(BASE, "::ffff:10.9.9.9").message


def test_a_controller_address_that_is_no_address_is_refused_not_ignored() -> None:
    assert refusal(BASE, "lb-controller").field == ADMIN
    assert build_plan(BASE, "").firewall is not None  # a local connection: nothing to check


def test_sshd_on_another_port_than_the_setting_is_refused_naming_the_ssh_port() -> None:
    error = refusal(BASE, "10.0.0.5", 2222)
    assert error.field == SSH
    assert "port 2222" in error.message and "port 22 only" in error.message and "exchange_ssh_port: 2222" in error.message
    plan = build_plan({**BASE, "ssh_port": 2222}, "10.0.0.5", 2222)
    assert plan.firewall is not None and plan.firewall.rules[0].port == 2222
    assert build_plan(BASE, "10.0.0.5", 0).firewall is not None  # unknown port: not checked
    assert build_plan({**BASE, "firewall": False}, "10.0.0.5", 2222).firewall is None


def test_ssh_connection_gives_the_client_address_and_the_server_port() -> None:
    assert parse_ssh_connection("10.0.0.5 51234 10.0.0.11 2222\n") == ("10.0.0.5", 2222)
    assert parse_ssh_connection("2001:db8::5 51234 2001:db8::11 22") == ("2001:db8::5", 22)
    assert parse_ssh_connection("") == ("", 0)
    assert parse_ssh_connection("10.0.0.5") == ("10.0.0.5", 0)
    assert parse_ssh_connection("10.0.0.5 1 10.0.0.11 x") == ("10.0.0.5", 0)


def test_overlapping_admin_networks_keep_the_wider_one_with_a_note() -> None:
    plan = build_plan({**BASE, "admin_networks": ["10.0.0.0/24", "10.0.0.0/8", "192.168.1.0/24", "192.168.1.0/24"]}, "10.0.0.5")
    assert plan.firewall is not None
    assert plan.firewall.admin_networks == ("10.0.0.0/8", "192.168.1.0/24")
    assert f"{ADMIN} › network 1: 10.0.0.0/24 is inside 10.0.0.0/8 (network 2): left out of the rule set" in "\n".join(plan.notes)
    assert f"{ADMIN} › network 4: 192.168.1.0/24 is also network 3" in "\n".join(plan.notes)


def test_an_admin_network_given_as_a_list_is_refused_by_its_position() -> None:
    assert refusal({**BASE, "admin_networks": [["10.0.0.0/24"]]}).field == f"{ADMIN} › network 1"


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**24 - 1), st.integers(8, 32)), min_size=1, max_size=6))
def test_the_admin_networks_never_overlap_and_admit_what_was_asked(entries: list[tuple[int, int]]) -> None:
    asked = [ipaddress.IPv4Network((int(ipaddress.IPv4Address("10.0.0.0")) + offset, length), strict=False) for offset, length in entries]
    plan = build_plan({**BASE, "admin_networks": [str(net) for net in asked]}, str(asked[0].network_address))
    assert plan.firewall is not None
    kept = [ipaddress.IPv4Network(net) for net in plan.firewall.admin_networks]
    assert all(not a.overlaps(b) for i, a in enumerate(kept) for b in kept[i + 1:])
    assert all(any(net.subnet_of(wider) for wider in kept) for net in asked)
    assert len(plan.notes) == len(asked) - len(kept)
