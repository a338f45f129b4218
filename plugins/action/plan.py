# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller side of exchange_lb.appliance.plan.

The plan is pure computation: it is built here, on the controller, once per node and run,
with no module sent to the node. The node is asked one thing, where Ansible connects from
and the port sshd answers it on (``SSH_CONNECTION``), so that a firewall which would lock the
run out is refused. The other
nodes' variables are read here too (``cluster_hosts``), with the settings table's defaults:
a pair's default peers and the Cluster Identifier check (``module_utils/_pairs.py``).
"""

from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.exchange_lb.appliance.plugins.module_utils._pairs import plan_in_inventory
from ansible_collections.exchange_lb.appliance.plugins.module_utils._settings import refuse_renamed
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError


class ActionModule(ActionBase):
    _VALID_ARGS = frozenset(("settings", "controller_address", "controller_port", "cluster_hosts"))

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        settings = args.get("settings")
        if not isinstance(settings, dict):
            return {**result, "failed": True, "msg": "settings: a mapping of the appliance settings is required"}
        controller, port = args.get("controller_address"), args.get("controller_port")
        if controller is None:
            controller, seen_port = self._controller_address()
            port = seen_port if port is None else port
        try:
            port = int(port or 0)
        except (TypeError, ValueError):
            return {**result, "failed": True, "msg": f"controller_port: {port!r} is not a port number"}
        hostvars = task_vars.get("hostvars", {})
        nodes = {host: hostvars[host] for host in args.get("cluster_hosts") or [] if host in hostvars}
        try:
            refuse_renamed(task_vars)
            plan = plan_in_inventory(settings, str(controller), nodes, port, str(task_vars.get("inventory_hostname") or ""))
        except PlanError as exc:
            return {**result, "failed": True, "field": exc.field, "msg": str(exc)}
        # the settings too: the role's main entry point reuses this plan while they are the same
        answer = {**result, "changed": False, "plan": plan.as_dict(), "settings": settings, "controller_address": str(controller)}
        if plan.notes:  # shown by ansible-playbook as warnings: a field set for nothing
            answer["warnings"] = [*result.get("warnings", []), *plan.notes]
        return answer

    def _controller_address(self) -> tuple[str, int]:
        """The address the node sees Ansible connect from and the port sshd answers it on (SSH_CONNECTION:
        client address, client port, server address, server port); empty and 0 over a local or container connection."""
        # not through become: sudo does not keep SSH_CONNECTION
        found = self._low_level_execute_command("printenv SSH_CONNECTION", sudoable=False)
        return parse_ssh_connection(str(found.get("stdout") or "") if found.get("rc") == 0 else "")


def parse_ssh_connection(text: str) -> tuple[str, int]:
    """``SSH_CONNECTION``'s client address and server port ("" and 0 when it says nothing usable)."""
    words = text.split()
    if not words:
        return "", 0
    port = words[3] if len(words) >= 4 else ""
    return words[0], int(port) if port.isdigit() and 0 < int(port) < 65536 else 0
