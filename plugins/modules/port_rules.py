#!/usr/bin/python
# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: port_rules
short_description: Check the appliance's listening plan against itself and against the host
version_added: 1.0.0
author: exchange_lb developers (@exchange-lb)
description:
  - Checks every port the appliance is about to open, before any daemon configuration is written.
  - No two listeners may share one address and port, whichever service they belong to (V(0.0.0.0) shares every address).
  - With O(check_host=true), no planned port may already be held on the managed host by a program other than the
    appliance's own daemons (haproxy, stunnel), which keep their ports across a reload.
  - "Errors name the field as the guide's web UI does, for example
    'HTTP(s) Service › Virtual Service HTTPs port: 993 is already used by IMAP(s) Service › Virtual Service IMAPs port'."
  - A program listening on V([::]) with IPv4 taken too (dual stack, Linux's default, e.g. Apache's C(Listen 80) on
    Debian) holds the port on every IPv4 address; one on V([::]) with C(IPV6_V6ONLY) (IPv6 only) or on V([::1]) or
    another IPv6 address holds no IPv4 address.
  - The module reads C(/proc/net/tcp), C(/proc/net/tcp6), C(/proc/sys/net/ipv6/bindv6only) and C(/proc/<pid>/fd), asks the
    kernel's socket diagnostics (C(NETLINK_SOCK_DIAG), as C(ss) does) whether each IPv6 listener takes IPv6 only, and
    changes nothing. Where the kernel cannot tell, a V([::]) listener counts as dual stack unless an IPv4 socket
    listens on its port or C(bindv6only) is on.
options:
  listeners:
    description:
      - The listeners of the plan, as returned in RV(exchange_lb.appliance.plan#module:plan.listeners).
    type: list
    elements: dict
    required: true
    suboptions:
      field:
        description: The web UI field that asked for this port.
        type: str
        required: true
      address:
        description: The IPv4 address the appliance listens on.
        type: str
        required: true
      port:
        description: The TCP port.
        type: int
        required: true
  check_host:
    description:
      - Also refuse ports that another program already listens on, on the managed host.
    type: bool
    default: true
  state:
    description:
      - V(free) (the default) checks the plan before the daemons are configured, as described above.
      - V(listening) checks after a reload that something listens on every planned address and port, waiting up to
        O(timeout) seconds, and fails naming the fields whose ports stay closed (a reload that could not bind).
    type: str
    choices: [free, listening]
    default: free
  timeout:
    description: With O(state=listening), how many seconds to wait for the ports.
    type: int
    default: 10
  own_configs:
    description:
      - The appliance's own configuration files. A port their C(bind) (haproxy), C(accept) (stunnel) or
        C(--web.listen-address) (prometheus-node-exporter, as the node_metrics role writes it) lines open is the
        appliance's, even where root may not see which process holds it.
    type: list
    elements: path
    default: [/etc/haproxy/haproxy.cfg, /etc/stunnel/exchange-lb.conf, /etc/default/prometheus-node-exporter]
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode runs the same checks.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to diff.
seealso:
  - module: exchange_lb.appliance.plan
"""

EXAMPLES = r"""
- name: Compute the plan
  exchange_lb.appliance.plan:
    settings: "{{ exchange_settings }}"
  register: appliance_plan

- name: Refuse a port clash or a port another program holds, before anything is written
  exchange_lb.appliance.port_rules:
    listeners: "{{ appliance_plan.plan.listeners }}"
"""

RETURN = r"""
listeners:
  description: The listeners checked, normalised.
  returned: success
  type: list
  elements: dict
  sample: [{"field": "HTTP(s) Service › Virtual Service HTTPs port", "address": "10.0.0.10", "port": 443}]
held_by_appliance:
  description: Planned ports the appliance's own daemons already hold (they keep them across a reload).
  returned: success
  type: list
  elements: int
  sample: [443, 80]
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange_lb.appliance.plugins.module_utils._port_rules import (
    APPLIANCE_PROCESSES,
    Socket,
    check_listeners,
    configured_listeners,
    host_conflicts,
    listener,
    listening_sockets,
    not_listening,
)
from ansible_collections.exchange_lb.appliance.plugins.module_utils._sock_diag import listening_v6
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError


def _read(path: str) -> str:
    """The text of a /proc file, or "" when it is absent (/proc/net/tcp6 with IPv6 off)."""
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def _listening_sockets() -> list[Socket]:
    owners: dict[int, tuple[str, int]] = {}
    for pid in (entry for entry in os.listdir("/proc") if entry.isdigit()):
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
                name = handle.read().strip()
        except OSError:
            continue  # the process ended
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    owners[int(target[8:-1])] = (name, int(pid))
        except OSError:
            continue  # not ours to look into (root without CAP_SYS_PTRACE, e.g. in a container)
    # each [::] socket's own IPV6_V6ONLY, which /proc does not show (None: the kernel cannot tell; /proc alone)
    diag = listening_v6()
    return listening_sockets(
        _read("/proc/net/tcp"),
        _read("/proc/net/tcp6"),
        owners,
        bindv6only=_read("/proc/sys/net/ipv6/bindv6only").strip() == "1",
        v6only={sock.inode: sock.v6only for sock in diag or [] if sock.inode and sock.v6only is not None},
    )


def _own_listeners(paths: list[str]) -> set[tuple[str, int]]:
    own: set[tuple[str, int]] = set()
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                own |= configured_listeners(handle.read())
        except OSError:
            continue  # not deployed yet
    return own


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "listeners": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "field": {"type": "str", "required": True},
                    "address": {"type": "str", "required": True},
                    "port": {"type": "int", "required": True},
                },
            },
            "check_host": {"type": "bool", "default": True},
            "state": {"type": "str", "default": "free", "choices": ["free", "listening"]},
            "timeout": {"type": "int", "default": 10},
            "own_configs": {
                "type": "list",
                "elements": "path",
                "default": ["/etc/haproxy/haproxy.cfg", "/etc/stunnel/exchange-lb.conf", "/etc/default/prometheus-node-exporter"],
            },
        },
        supports_check_mode=True,
    )
    try:
        listeners = [listener(item["field"], item["address"], item["port"]) for item in module.params["listeners"]]
        check_listeners(listeners)
    except PlanError as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    if module.params["state"] == "listening":
        deadline = time.monotonic() + module.params["timeout"]
        missing = not_listening(listeners, _listening_sockets())
        while missing and time.monotonic() < deadline:
            time.sleep(0.5)
            missing = not_listening(listeners, _listening_sockets())
        if missing:
            module.fail_json(
                msg="; ".join(f"{item.field}: nothing listens on {item.address}:{item.port}" for item in missing)
                + " - see journalctl -u haproxy (and -u stunnel@exchange-lb)",
                field=missing[0].field,
            )
        module.exit_json(changed=False, listeners=[{"field": i.field, "address": i.address, "port": i.port} for i in listeners])
    held: list[int] = []
    if module.params["check_host"]:
        sockets = _listening_sockets()
        own = _own_listeners(module.params["own_configs"])
        problems = host_conflicts(listeners, sockets, node=os.uname().nodename, own=own)
        if problems:
            module.fail_json(msg="; ".join(problems), field=problems[0].split(": ", 1)[0])
        planned = {item.port for item in listeners}
        held = sorted(
            {sock.port for sock in sockets if sock.port in planned and (sock.process in APPLIANCE_PROCESSES or (sock.address, sock.port) in own)}
        )
    module.exit_json(
        changed=False,
        listeners=[{"field": item.field, "address": item.address, "port": item.port} for item in listeners],
        held_by_appliance=held,
    )


if __name__ == "__main__":
    main()
