"""The keepalived role's check task, templated as Ansible does: its tuning assert names the variable."""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ansible_templating import load, role_variables  # noqa: E402  (installs Ansible's collection loader)
from ansible.template import Templar  # noqa: E402

from ansible_templating import LOADER  # noqa: E402


def tuning_task() -> dict[str, t.Any]:
    tasks = [task for task in load("roles/keepalived/tasks/check.yml") if "keepalived_tuning_errors" in task.get("vars", {})]
    assert len(tasks) == 1
    return t.cast(dict[str, t.Any], tasks[0])


def outcome(inventory: dict[str, t.Any]) -> tuple[bool, str]:
    task = tuning_task()
    variables = role_variables(["keepalived"], {"keepalived_plan": {"unicast_peers": []}, **inventory})
    variables.update(task["vars"])
    templar = Templar(loader=LOADER, variables=variables)
    assertion = task["ansible.builtin.assert"]
    return templar.evaluate_conditional(assertion["that"]), str(templar.template(assertion["fail_msg"]))


def test_the_role_defaults_pass_the_check() -> None:
    assert outcome({})[0]


def test_a_refusal_names_each_variable_it_is_about() -> None:
    passed, message = outcome({"keepalived_vrrp_version": 2, "keepalived_advert_interval": 0.3, "keepalived_unicast": True})
    assert not passed
    assert message.startswith("keepalived_advert_interval: 0.3 s is not possible with keepalived_vrrp_version 2")
    assert "; keepalived_unicast: unicast adverts need the other node" in message
