"""The plan action asks the node where Ansible connects from and the port sshd answers it on
(``SSH_CONNECTION``), and gives both to the plan: the firewall must let this run in."""

from __future__ import annotations

import typing as t
from unittest import mock

import pytest
from ansible.playbook.task import Task

from ansible_collections.exchange_lb.appliance.plugins.action.plan import ActionModule
from plan_settings import BASE


def run(ssh_connection: str, settings: t.Mapping[str, t.Any] = BASE, **args: t.Any) -> dict[str, t.Any]:
    task = Task()
    task.action = "exchange_lb.appliance.plan"
    task.args = {"settings": dict(settings), **args}
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, mock.MagicMock(check_mode=False), loader=None, templar=None, shared_loader_obj=None)
    asked: list[str] = []

    def execute(command: str, sudoable: bool = True) -> dict[str, t.Any]:
        asked.append(command)
        return {"rc": 0 if ssh_connection else 1, "stdout": ssh_connection}

    action._low_level_execute_command = execute  # type: ignore[method-assign]
    result = action.run(task_vars={"inventory_hostname": "lb1"})
    result["asked"] = asked
    return result


def test_sshd_on_another_port_is_noticed_from_ssh_connection() -> None:
    result = run("10.0.0.5 51234 10.0.0.11 2222\n")
    assert result["failed"] and result["field"] == "Firewall › SSH port (exchange_ssh_port)"
    assert result["asked"] == ["printenv SSH_CONNECTION"]
    assert not run("10.0.0.5 51234 10.0.0.11 2222\n", {**BASE, "ssh_port": 2222}).get("failed")


def test_an_ipv6_connection_is_refused_naming_the_admin_networks() -> None:
    result = run("2001:db8::5 51234 2001:db8::11 22\n")
    assert result["failed"] and result["field"] == "Firewall › admin networks (exchange_admin_networks)"
    assert "IPv6" in result["msg"]


@pytest.mark.parametrize("args", [{"controller_address": "10.0.0.5"}, {"controller_address": "10.0.0.5", "controller_port": 22}])
def test_given_arguments_are_used_and_the_node_is_not_asked(args: dict[str, t.Any]) -> None:
    result = run("10.0.0.5 51234 10.0.0.11 2222\n", **args)
    assert not result.get("failed") and result["asked"] == []
    assert result["controller_address"] == "10.0.0.5"


def test_a_local_connection_skips_the_checks() -> None:
    assert not run("").get("failed")
    assert run("", controller_port="many")["failed"]
