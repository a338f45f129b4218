# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Thin filter over module_utils/_validate.py: a role used on its own checks the one-word values it
writes into a configuration with the plan's own validators."""

from __future__ import annotations

DOCUMENTATION = r"""
name: word_errors
short_description: Refusals for role variables that go into a configuration as one word
version_added: 1.0.0
author:
  - exchange_lb developers
description:
  - Checks each variable as the plan checks the setting it comes from (a user name as C(exchange_admin_user),
    an interface name as C(exchange_network_interface)), for roles used on their own, without the exchange
    role's plan, before anything is rendered. A value that passes is one word of a configuration line - no space,
    comment sign, quote or line break can add a line or a directive.
  - Returns one entry per refused variable, naming it; an empty list when every value is sound.
options:
  _input:
    description: The variables to check, by name.
    type: dict
    required: true
  kind:
    description: What every value must be.
    type: str
    required: true
    choices: [user_name, interface]
"""

EXAMPLES = r"""
- name: Refuse a statistics user name that is not one word
  ansible.builtin.assert:
    that: errors | length == 0
    fail_msg: "{{ errors | map(attribute='var') | zip(errors | map(attribute='msg')) | map('join', ': ') | join('; ') }}"
  vars:
    errors: "{{ {'haproxy_stats_user': haproxy_stats_user} | exchange_lb.appliance.word_errors('user_name') }}"
"""

RETURN = r"""
_value:
  description: One entry per refusal, with the variable (C(var)) and why (C(msg)).
  type: list
  elements: dict
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError, interface, user_name

_KINDS: dict[str, t.Callable[[str, t.Any], str]] = {"user_name": user_name, "interface": interface}


def word_errors(values: t.Any, kind: str) -> list[dict[str, str]]:
    if not isinstance(values, t.Mapping):
        raise AnsibleFilterError("word_errors: the variables to check must be a mapping of their names to their values")
    if kind not in _KINDS:
        raise AnsibleFilterError(f"word_errors: unknown kind {kind!r}; choose one of: {', '.join(_KINDS)}")
    errors = []
    for name, value in values.items():
        try:
            _KINDS[kind](str(name), value)
        except PlanError as error:
            errors.append({"var": str(name), "msg": error.message})
    return errors


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"word_errors": word_errors}
