#!/usr/bin/python
# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: plan
short_description: Validate the appliance settings and compute the appliance plan
version_added: 1.0.0
author: exchange_lb developers (@exchange-lb)
description:
  - Takes the settings of the appliance, shaped like the fields of the ALOHA for Exchange web UI
    (the variables of the P(exchange_lb.appliance.exchange#role) role without their C(exchange_) prefix),
    validates all of them and returns one plan of the appliance - listeners, backends, servers,
    health checks - that the haproxy, stunnel and keepalived roles render without deciding anything themselves.
  - The plan is computed on the controller (the action plugin); nothing on the managed host is changed and the module always
    reports RV(ignore:changed=false). The node is only asked where Ansible connects from, unless O(controller_address) says it.
  - With O(cluster_hosts), a pair whose Cluster Identifier another pair of the inventory uses is refused, and so is a pair
    that disagrees with itself (a node with the same Virtual Service Address and another Cluster Identifier, or two masters).
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
      - The address Ansible reaches the node from. When omitted, the node is asked (the first field of its C(SSH_CONNECTION));
        an empty string skips the check.
      - With the firewall on, a set of admin networks that does not contain it is refused, so that a run cannot
        lock itself out.
    type: str
  controller_port:
    description:
      - The port sshd answers Ansible on. When omitted with O(controller_address), the node is asked (the fourth field of
        its C(SSH_CONNECTION)); 0 skips the check.
      - With the firewall on, an C(exchange_ssh_port) other than it is refused, so that a run cannot lock itself out.
    type: int
  cluster_hosts:
    description:
      - Inventory names of the nodes whose Cluster Identifier this node's must not clash with (every node of the
        play and of the group C(exchange_lb), also those a C(--limit) leaves out).
      - Their C(exchange_ha_role), C(exchange_cluster_identifier) and C(exchange_virtual_service_address) are read on the
        controller, with the role's defaults; a node with the same identifier and another virtual address is a clash.
    type: list
    elements: str
    default: []
attributes:
  action:
    support: full
    description: Computed on the controller by the action plugin of the same name.
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
    cluster_hosts: "{{ groups['exchange_lb'] }}"
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
    haproxy:
      description:
        - The haproxy role's part - frontends, backends, stick tables, peers, TLS policy, statistics, the certificates
          haproxy ends TLS with (none when stunnel does), the CA certificates of ssl-bridge, whether it binds a virtual
          address it may not hold, whether it starts at boot.
      type: dict
    stunnel:
      description: The stunnel role's part (tunnels, certificates, TLS policy, startup), or V(null) when stunnel ends no TLS.
      type: dict
    keepalived:
      description:
        - The keepalived role's part, or V(null) without a pair - its router name, the node's address, the VRRP instance,
          the unicast peers, the daemons it tracks, where it writes the VRRP state, whether it starts at boot.
      type: dict
    node_metrics:
      description: The node metrics (address, port, text file directory, whether the VRRP state is exported), or V(null).
      type: dict
    tls_ends_here:
      description: Whether TLS ends on the appliance (a certificate is served - ssl-offload, ssl-bridge), which the guide's sizing asks about.
      type: bool
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
            "controller_address": {"type": "str"},
            "controller_port": {"type": "int"},
            "cluster_hosts": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    try:
        # without the action plugin (run on a node as a plain module): no pair check, no address asked
        plan = build_plan(module.params["settings"], module.params["controller_address"] or "", module.params["controller_port"] or 0)
    except PlanError as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    module.exit_json(changed=False, plan=plan.as_dict())


if __name__ == "__main__":
    main()
