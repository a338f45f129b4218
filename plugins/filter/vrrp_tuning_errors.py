# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Thin filter over module_utils/_keepalived.py: the keepalived role checks its own tuning with it."""

from __future__ import annotations

DOCUMENTATION = r"""
name: vrrp_tuning_errors
short_description: Refusals for the keepalived role's tuning variables
version_added: 1.0.0
author:
  - exchange_lb developers
description:
  - Checks the keepalived role's variables beyond the guide (VRRP version, advert interval, unicast adverts,
    the tracking windows) together with the plan's pair, before any configuration is written.
  - Returns one entry per refused variable, naming it; an empty list when the tuning is sound.
options:
  _input:
    description: The tuning, a mapping of C(keepalived_vrrp_version), C(keepalived_advert_interval),
      C(keepalived_unicast), C(keepalived_track_interval), C(keepalived_track_fall), C(keepalived_track_settle).
    type: dict
    required: true
  unicast_peers:
    description: The other node(s) of the pair, from the plan's C(keepalived.unicast_peers).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse keepalived tuning that cannot work
  ansible.builtin.assert:
    that: errors | length == 0
    fail_msg: "{{ errors | map(attribute='var') | zip(errors | map(attribute='msg')) | map('join', ': ') | join('; ') }}"
  vars:
    errors: >-
      {{ {'keepalived_vrrp_version': 2, 'keepalived_advert_interval': 0.5, 'keepalived_unicast': false,
          'keepalived_track_interval': 1, 'keepalived_track_fall': 2, 'keepalived_track_settle': 0}
         | exchange_lb.appliance.vrrp_tuning_errors([]) }}
"""

RETURN = r"""
_value:
  description: One entry per refusal, with the variable (C(var)) and why (C(msg)).
  type: list
  elements: dict
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange_lb.appliance.plugins.module_utils._keepalived import tuning_errors


def vrrp_tuning_errors(tuning: t.Any, unicast_peers: t.Any) -> list[dict[str, str]]:
    if not isinstance(tuning, t.Mapping):
        raise AnsibleFilterError("vrrp_tuning_errors: the tuning must be a mapping")
    return tuning_errors(tuning, [str(peer) for peer in unicast_peers or []])


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"vrrp_tuning_errors": vrrp_tuning_errors}
