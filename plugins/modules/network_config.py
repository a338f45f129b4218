#!/usr/bin/python
# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: network_config
short_description: Render and apply the appliance's network configuration, with a rollback
version_added: 1.0.0
author: exchange_lb developers (@exchange-lb)
description:
  - Renders the Network tab of the guide (4.2) - address, netmask, gateway or DHCP, vLAN Identifier, static routes,
    DNS servers, hostname - for the network stack the host really uses, as detected - ifupdown (a Debian VM as its
    installer leaves it) or systemd-networkd.
  - The same code is installed on the host as C(/usr/local/sbin/exlb-netcfg) by the C(network) role and is what the
    first-boot console wizard uses, so both write one configuration, C(/etc/exchange-lb/network.json), whose keys are
    the C(exchange) role's variable names (also the local fact C(ansible_local.exchange_network)).
  - V(planned) only computes what would change (the files, with their diff). V(applied) keeps the files it replaces,
    writes the new ones, brings the interface down and up, checks that the address is there and that the gateway
    answers (ARP), and puts the old files back at once when a check fails. With O(confirm_timeout) a detached guard
    also puts them back unless V(confirmed) arrives in time, so a change that cuts the controller off undoes itself.
  - "Errors name the field as the guide's web UI does, for example 'Network › Gateway: 10.0.9.1 is not in the node's
    subnet 10.0.0.0/24'."
options:
  state:
    description:
      - V(planned) computes the change only; V(applied) applies it; V(confirmed) keeps a pending change (O(token)).
    type: str
    choices: [planned, applied, confirmed]
    default: applied
  config:
    description:
      - The configuration, keyed by the C(exchange) role's variable names (C(exchange_network_interface),
        C(exchange_network_mode), C(exchange_network_hostname), C(exchange_network_address),
        C(exchange_network_netmask), C(exchange_network_gateway), C(exchange_network_vlan_id),
        C(exchange_network_static_routes), C(exchange_network_dns_servers)).
      - Required unless O(state=confirmed).
    type: dict
  confirm_timeout:
    description: With O(state=applied), roll back unless O(state=confirmed) arrives within this many seconds; V(0) keeps the change at once.
    type: int
    default: 0
  dhcp_wait:
    description: How many seconds to wait for a DHCP lease.
    type: int
    default: 20
  token:
    description: With O(state=confirmed), the RV(token) the apply returned.
    type: str
attributes:
  check_mode:
    support: full
    description: In check mode nothing is written; the module reports what would change.
  diff_mode:
    support: full
    description: The diff of every file the configuration owns.
seealso:
  - module: exchange_lb.appliance.plan
"""

EXAMPLES = r"""
- name: Show what the configuration would change
  exchange_lb.appliance.network_config:
    state: planned
    config:
      exchange_network_interface: eth1
      exchange_network_address: 10.0.0.17
      exchange_network_netmask: 255.255.0.0
      exchange_network_gateway: 10.0.1.1

- name: Apply it, rolled back unless confirmed within 60 s
  exchange_lb.appliance.network_config:
    config: "{{ my_network }}"
    confirm_timeout: 60
  register: applied

- name: Confirm it (from the new address if it moved)
  exchange_lb.appliance.network_config:
    state: confirmed
    token: "{{ applied.token }}"
  when: applied.token | length > 0
"""

RETURN = r"""
stack:
  description: The network stack found on the host.
  returned: state is planned or applied
  type: str
  sample: ifupdown
files:
  description: The files that change (paths).
  returned: state is planned or applied
  type: list
  elements: str
  sample: [/etc/network/interfaces.d/exchange-lb, /etc/exchange-lb/network.json]
address:
  description: The address the interface has after an apply (from DHCP in V(dhcp) mode).
  returned: state is applied
  type: str
  sample: 10.0.0.17
token:
  description: The token to confirm the change with; empty when nothing waits for a confirmation.
  returned: state is applied
  type: str
  sample: 5d1c0e4b7a9f2c31
config:
  description: The configuration, validated and normalised.
  returned: state is planned or applied
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange_lb.appliance.plugins.module_utils import _netcfg


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["planned", "applied", "confirmed"], "default": "applied"},
            "config": {"type": "dict"},
            "confirm_timeout": {"type": "int", "default": 0},
            "dhcp_wait": {"type": "int", "default": 20},
            "token": {"type": "str", "no_log": False},
        },
        required_if=[("state", "planned", ["config"]), ("state", "applied", ["config"]), ("state", "confirmed", ["token"])],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params["state"] == "confirmed":
            if module.check_mode:
                module.exit_json(changed=True)
            if not _netcfg.confirm(params["token"]):
                module.fail_json(msg=f"nothing to confirm for {params['token']}: the change was rolled back (it did not answer in time)")
            module.exit_json(changed=True)
        config = _netcfg.normalize(params["config"])
        stack = _netcfg.detect_stack()
        if params["state"] == "planned" or module.check_mode:
            _netcfg.check(config, stack)
            result = _netcfg.plan(config, stack)
            result.update(address=config["exchange_network_address"], token="")
        else:
            result = _netcfg.apply(config, params["confirm_timeout"], params["dhcp_wait"], stack)
    except _netcfg.NetError as error:
        module.fail_json(msg=str(error), field=error.field)
    diff = [
        {"before_header": change["path"], "after_header": change["path"], "before": change["before"] or "", "after": change["after"] or ""}
        for change in result["files"]
    ]
    module.exit_json(
        changed=result["changed"],
        diff=diff,
        stack=result["stack"],
        files=[change["path"] for change in result["files"]],
        address=result["address"],
        token=result["token"],
        config=result["config"],
    )


if __name__ == "__main__":
    main()
