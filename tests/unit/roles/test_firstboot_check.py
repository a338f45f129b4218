"""The first-boot role's check, templated as Ansible does: the unit's interface and console are one
ASCII word each (a newline in them would add a line to exlb-firstboot.service), each refusal named."""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ansible_templating import LOADER, load, role_variables  # noqa: E402  (installs Ansible's collection loader)
from ansible.template import Templar, trust_as_template  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


def check_task() -> dict[str, t.Any]:
    tasks = [task for task in load("roles/firstboot/tasks/main.yml") if "firstboot_errors" in task.get("vars", {})]
    assert len(tasks) == 1
    return t.cast(dict[str, t.Any], tasks[0])


def outcome(inventory: dict[str, t.Any]) -> tuple[bool, str]:
    task = check_task()
    variables = role_variables(["firstboot"], inventory)
    variables.update(task["vars"])
    templar = Templar(loader=LOADER, variables=variables)
    assertion = task["ansible.builtin.assert"]
    return templar.evaluate_conditional(assertion["that"]), str(templar.template(assertion["fail_msg"]))


def test_the_check_runs_first() -> None:
    assert load("roles/firstboot/tasks/main.yml")[0] is check_task()


@pytest.mark.parametrize("inventory", [{}, {"firstboot_interface": "ens18"}, {"firstboot_interface": "ens18.10"},
                                       {"firstboot_tty": "ttyS0"}, {"firstboot_tty": "hvc0"}, {"firstboot_tty": "tty12"},
                                       {"firstboot_serial_tty": "ttyS0"}, {"firstboot_ssh_user": "admin"}])
def test_good_values_pass(inventory: dict[str, t.Any]) -> None:
    assert outcome(inventory) == (True, "")


@pytest.mark.parametrize(
    ("inventory", "message"),
    [
        ({"firstboot_interface": "eth0\nExecStartPre=/bin/sh -c id"}, 'firstboot_interface: "eth0\\nExecStartPre=/bin/sh -c id" is not'),
        ({"firstboot_interface": "eth0\n"}, 'firstboot_interface: "eth0\\n" is not a network interface name'),
        ({"firstboot_interface": "eth 0"}, 'firstboot_interface: "eth 0" is not'),
        ({"firstboot_interface": "\u212a0"}, "firstboot_interface: "),
        ({"firstboot_tty": "tty1\n"}, 'firstboot_tty: "tty1\\n" is not a console'),
        ({"firstboot_tty": "../sda"}, 'firstboot_tty: "../sda" is not a console'),
        ({"firstboot_tty": "tty\u00b2"}, "firstboot_tty: "),
        ({"firstboot_serial_tty": "ttyS0\nExecStartPre=/bin/id"}, 'firstboot_serial_tty: "ttyS0\\nExecStartPre=/bin/id" is not'),
        ({"firstboot_ssh_user": "admin --interface eth9"}, 'firstboot_ssh_user: "admin --interface eth9" is not a user name'),
        ({"firstboot_ssh_user": "admin\n"}, 'firstboot_ssh_user: "admin\\n" is not a user name'),
        ({"firstboot_prompt_seconds": 0}, "firstboot_prompt_seconds: 0 is not at least 1 second"),
        ({"firstboot_dhcp_wait": -1}, "firstboot_dhcp_wait: -1 is not at least 1 second"),
    ],
)
def test_bad_values_are_refused_by_name(inventory: dict[str, t.Any], message: str) -> None:
    passed, text = outcome(inventory)
    assert not passed
    assert text.startswith(message)


def test_two_refusals_are_both_named() -> None:
    passed, text = outcome({"firstboot_interface": "a b", "firstboot_tty": "x"})
    assert not passed and "firstboot_interface: " in text and "; firstboot_tty: " in text


def test_the_unit_renders_one_line_per_setting() -> None:
    """What passes the check renders the unit with exactly its lines (the values in their places)."""
    variables = role_variables(["firstboot"], {"firstboot_interface": "ens18.10", "firstboot_tty": "ttyS0", "firstboot_ssh_user": "admin",
                                               "ansible_managed": "managed"})
    variables["firstboot_console"] = "ttyS0"  # the install task's loop variable: each unit's console
    source = trust_as_template((ROOT / "roles/firstboot/templates/exlb-firstboot.service.j2").read_text(encoding="utf-8"))
    text = str(Templar(loader=LOADER, variables=variables).template(source, overrides={"trim_blocks": True}))
    assert ("ExecStart=/usr/local/sbin/exlb-netcfg wizard --interface ens18.10 --prompt-seconds 10 --dhcp-wait 20"
            " --ssh-user admin --lock /run/exchange-lb/firstboot.lock\n") in text
    assert "TTYPath=/dev/ttyS0\n" in text and "Before=getty@ttyS0.service serial-getty@ttyS0.service\n" in text
