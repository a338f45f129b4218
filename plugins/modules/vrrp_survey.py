#!/usr/bin/python
# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: vrrp_survey
short_description: Refuse a Cluster Identifier that another VRRP router on the network already uses
version_added: 1.0.0
author: exchange_lb developers (@exchange-lb)
description:
  - Listens on the node's interface for VRRP advertisements (versions 2 and 3) for a few seconds and fails when a router
    that is not a node of this pair advertises the same VRRP router id - the guide's Cluster Identifier. Two pairs with
    one id fight over one virtual MAC address; their virtual addresses flap.
  - Runs before any configuration is written. The adverts are read from a packet socket, so a firewall on the node does
    not hide them; the node joins the VRRP multicast group for the time of the survey.
  - Changes nothing on the host.
options:
  address:
    description: The node's own address (Network › Address); the interface holding it is surveyed.
    type: str
    required: true
  router_id:
    description: The pair's Cluster Identifier (VRRP router id), 1-255.
    type: int
    required: true
  peers:
    description: The addresses of the nodes of this pair; their adverts are this pair's own.
    type: list
    elements: str
    default: []
  seconds:
    description: How long to listen. VRRP routers advertise every second by default, so 3.5 s hears each at least three times.
    type: float
    default: 3.5
  field:
    description: The web UI field named in the error.
    type: str
    default: High Availability › Cluster Identifier
extends_documentation_fragment:
  - exchange_lb.appliance._attributes
attributes:
  check_mode:
    support: full
    details:
      - The module only listens; check mode runs the same survey.
  diff_mode:
    support: none
    details:
      - Nothing is changed, so there is nothing to diff.
  idempotent:
    support: full
notes:
  - Needs root (a packet socket, C(CAP_NET_RAW)).
seealso:
  - module: exchange_lb.appliance.plan
"""

EXAMPLES = r"""
- name: Refuse a Cluster Identifier that another pair on the network already uses
  exchange_lb.appliance.vrrp_survey:
    address: 10.0.0.11
    router_id: 253
    peers: [10.0.0.11, 10.0.0.12]
"""

RETURN = r"""
interface:
  description: The interface that was surveyed.
  returned: success
  type: str
  sample: eth0
routers:
  description: Every VRRP router heard (other than this node), one entry per source and router id.
  returned: success
  type: list
  elements: dict
  sample: [{"source": "10.0.0.12", "router_id": 253, "priority": 100, "version": 3, "addresses": ["10.0.0.10"]}]
"""

import dataclasses

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange_lb.appliance.plugins.module_utils._vrrp import clashes, interface_of, survey


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "address": {"type": "str", "required": True},
            "router_id": {"type": "int", "required": True},
            "peers": {"type": "list", "elements": "str", "default": []},
            "seconds": {"type": "float", "default": 3.5},
            "field": {"type": "str", "default": "High Availability › Cluster Identifier"},
        },
        supports_check_mode=True,
    )
    params = module.params
    field = params["field"]
    try:
        interface = interface_of(params["address"])
        adverts = survey(interface, params["address"], params["seconds"])
    except (LookupError, OSError) as exc:
        module.fail_json(msg=f"{field}: cannot listen for VRRP on the node: {exc}", field=field)
    routers = {(a.source, a.router_id): dataclasses.asdict(a) for a in adverts}
    found = clashes(adverts, params["router_id"], params["peers"])
    if found:
        others = "; ".join(
            f"{a.source} (virtual address{'es' if len(a.addresses) != 1 else ''} {', '.join(a.addresses) or 'none'}, priority {a.priority})"
            for a in found
        )
        module.fail_json(
            msg=f"{field}: {params['router_id']} is already used on this network by {others}; "
            "two pairs with one identifier take each other's virtual address - choose another one",
            field=field,
            routers=list(routers.values()),
        )
    module.exit_json(changed=False, interface=interface, routers=list(routers.values()))


if __name__ == "__main__":
    main()
