#!/usr/bin/python
# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: plan
short_description: Validate the appliance settings and compute the appliance plan
version_added: 0.1.0
author: exchange_lb developers (@exchange-lb)
description:
  - Takes the settings of the appliance, shaped like the fields of the ALOHA for Exchange web UI
    (the variables of the P(exchange_lb.appliance.exchange#role) role without their C(exchange_) prefix),
    validates all of them and returns one plan of the appliance - listeners, backends, servers,
    health checks - that the haproxy, stunnel and keepalived roles render without deciding anything themselves.
  - Nothing on the managed host is read or changed; the module always reports RV(ignore:changed=false).
  - "A setting the appliance cannot accept fails the module with a message that names the field as the guide's
    web UI names it, for example C(CAS Servers › CAS2 Address: '10.0.0.300' is not an IPv4 address)."
options:
  settings:
    description:
      - The appliance settings, keyed like the P(exchange_lb.appliance.exchange#role) role variables without
        the C(exchange_) prefix, for example C(cas_servers), C(http_mode), C(network_address).
      - Secrets (certificate file passwords) are not part of the settings; the
        M(exchange_lb.appliance.certificate) module takes them.
    type: dict
    required: true
  controller_address:
    description:
      - The address Ansible reaches the node from (the first field of C(SSH_CLIENT)), when known.
      - With the firewall on, a set of admin networks that does not contain it is refused, so that a run cannot
        lock itself out.
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    description: Computes the same plan in check mode; it never changes anything.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to diff.
"""

EXAMPLES = r"""
- name: Compute the appliance plan (fails early, naming the WUI field, on bad settings)
  exchange_lb.appliance.plan:
    settings:
      network_address: 10.0.0.11
      cas_servers:
        - name: cas1
          address: 10.0.0.15
        - name: cas2
          address: 10.0.0.16
      http_mode: clear
  register: appliance_plan
"""

RETURN = r"""
plan:
  description: The appliance plan.
  returned: success
  type: dict
  contains:
    bind_address:
      description: The address the services listen on (the virtual service address in a pair).
      type: str
      sample: 10.0.0.10
    frontends:
      description: The listeners, one per service port.
      type: list
      elements: dict
    backends:
      description: The server farms with their balancing, persistence and health check.
      type: list
      elements: dict
    listeners:
      description:
        - Every address and port the appliance opens, with the web UI field that asked for it;
          M(exchange_lb.appliance.port_rules) checks them against the host.
      type: list
      elements: dict
    certificates:
      description:
        - The certificates the TLS services need - the web UI field, the file the user gave, the combined PEM
          to write and the host name it must cover - for M(exchange_lb.appliance.certificate).
      type: list
      elements: dict
    vrrp:
      description: The VRRP instance of a pair, or V(null) for a standalone appliance.
      type: dict
    tls_engine:
      description: Who ends TLS, V(haproxy) or V(stunnel).
      type: str
    firewall:
      description:
        - The node's nftables input filter, or V(null) when C(firewall) is off in O(settings) - the admin networks and one rule per
          opening (the web UI field that asked for it, protocol, the node's address, port, allowed sources; none = anyone).
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import PlanError, build_plan


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "settings": {"type": "dict", "required": True},
            "controller_address": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    try:
        plan = build_plan(module.params["settings"], module.params["controller_address"])
    except PlanError as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    module.exit_json(changed=False, plan=plan.as_dict())


if __name__ == "__main__":
    main()
