# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Thin filter over module_utils/_hashes.py: the node metrics' bcrypt hash, made by the bcrypt library."""

from __future__ import annotations

DOCUMENTATION = r"""
name: bcrypt_hash
short_description: A bcrypt hash of a password with a salt derived from a seed
version_added: 1.0.0
author:
  - exchange_lb developers
description:
  - Hashes a password with bcrypt (C($2b$)), the only hash the Prometheus node exporter's web configuration reads.
  - The salt is derived from O(seed), so that a second run renders the same file (idempotent) while two nodes
    or two users get different hashes.
  - Made with the Python library C(bcrypt) directly, not through passlib, whose last release cannot drive
    bcrypt 5; needs C(bcrypt) on the controller.
  - Refuses a password longer than 72 bytes (bcrypt reads no more, and the node exporter refuses such
    passwords at login).
options:
  _input:
    description: The password. Never logged.
    type: str
    required: true
  seed:
    description: What the salt is derived from, for example the node's inventory name and the user.
    type: str
    required: true
  rounds:
    description: The cost, as a power of two.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Protect the metrics with the admin user and password
  ansible.builtin.copy:
    content: |
      basic_auth_users:
        {{ user | to_json }}: {{ password | exchange_lb.appliance.bcrypt_hash(inventory_hostname ~ user) | to_json }}
    dest: /etc/prometheus/node-exporter-web.yml
    mode: "0640"
  no_log: true
"""

RETURN = r"""
_value:
  description: The hash, C($2b$10$) followed by the salt and the digest.
  type: str
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange_lb.appliance.plugins.module_utils._hashes import HashError, bcrypt_hash as _bcrypt_hash
from ansible_collections.exchange_lb.appliance.plugins.module_utils._hashes import stable_salt


def bcrypt_hash(password: t.Any, seed: t.Any, rounds: t.Any = 10) -> str:
    try:
        return _bcrypt_hash(str(password), stable_salt(str(seed)), int(rounds))
    except HashError as exc:
        # the message never carries the password
        raise AnsibleFilterError(f"bcrypt_hash: {exc}") from None


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"bcrypt_hash": bcrypt_hash}
