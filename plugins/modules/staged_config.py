#!/usr/bin/python
# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: staged_config
short_description: Check the appliance's staged configuration, put it in place, roll it back
version_added: 1.0.0
author: exchange_lb developers (@exchange-lb)
description:
  - The roles render every daemon configuration (haproxy, stunnel, keepalived, the firewall) and the certificates into a
    staging folder that mirrors the node's paths, C(<base>/stage/etc/haproxy/haproxy.cfg) for C(/etc/haproxy/haproxy.cfg).
  - V(checked) runs each daemon's own checker on the staged set as a whole, at the real paths, before anything under
    C(/etc) changes. Each checker runs in a private mount namespace where the stage's C(etc) lies over C(/etc) as a
    read-only overlay (so a staged C(haproxy.cfg) finds the staged certificates). It changes nothing, in check mode too.
  - V(present) puts the staged files of one daemon in place, each in one rename with its owner and mode, and records
    in C(<base>/backup) what it replaced or created, so that V(rolled_back) can put the node back as it was.
  - V(committed), at the end of a run that reloaded and found every port open, keeps the files in force as the last
    known good set (C(<base>/good)) and drops the backup. V(rolled_back) restores the backup (after a failed reload).
extends_documentation_fragment:
  - exchange_lb.appliance._attributes
options:
  state:
    description: What to do, see the description.
    type: str
    choices: [checked, present, committed, rolled_back]
    required: true
  base:
    description: The folder of the stage, the backup and the last known good set (root only).
    type: path
    default: /var/lib/exchange-lb
  checks:
    description: With O(state=checked), the checkers to run; each fails the task naming its daemon and its output.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The daemon the checker belongs to, named in the error.
        type: str
        required: true
      argv:
        description: The checker's command, with the node's own paths (they read the stage there).
        type: list
        elements: str
        required: true
  prune:
    description:
      - With O(state=committed), a folder whose files the appliance owns (its certificates and keys) and the files of
        it that are still in use; every other file in it, and in its copy in the stage, is removed (the key of a service
        that no longer ends TLS on the appliance, of an SNI name that was removed).
    type: dict
    suboptions:
      directory:
        description: The folder, an absolute path on the node.
        type: path
        required: true
      keep:
        description: Its files that stay.
        type: list
        elements: path
        default: []
  files:
    description: With O(state=present), the node's files to put in place from the stage.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The file's absolute path on the node.
        type: path
        required: true
      owner:
        description: Its owner.
        type: str
        default: root
      group:
        description: Its group.
        type: str
        default: root
      mode:
        description: Its mode, in octal.
        type: str
        default: "0644"
      secret:
        description: Its content is never shown in a diff (private keys).
        type: bool
        default: false
      redact:
        description:
          - A regular expression; what it matches in the file is never shown in a diff (a password hash), only
            the word C(hidden) and a fingerprint, the first 8 hex digits of its SHA-256, so that a change still shows.
        type: str
        default: ""
attributes:
  check_mode:
    support: full
    description: V(checked) runs in check mode as in a real run (it only reads); V(present) reports what it would change.
  diff_mode:
    support: full
    description: V(present) shows each file's change, except for secret files (keys), whose content is never shown.
  idempotent:
    support: full
notes:
  - The checks need root and the C(overlay) file system (Debian's kernels have it); in a container, C(CAP_SYS_ADMIN).
seealso:
  - module: exchange_lb.appliance.port_rules
"""

EXAMPLES = r"""
- name: Check the staged haproxy configuration with its certificates, before anything changes
  exchange_lb.appliance.staged_config:
    state: checked
    checks:
      - name: haproxy
        argv: [/usr/sbin/haproxy, -c, -f, /etc/haproxy/haproxy.cfg]

- name: Put it in place
  exchange_lb.appliance.staged_config:
    state: present
    files:
      - {path: /etc/haproxy/haproxy.cfg, group: haproxy, mode: "0640"}
      - {path: /etc/exchange-lb/tls/http.pem, mode: "0600", secret: true}
  notify: Reload haproxy
"""

RETURN = r"""
changed_files:
  description: With O(state=present), the files put in place (or that would be, in check mode).
  returned: state is present
  type: list
  elements: str
  sample: [/etc/haproxy/haproxy.cfg]
restored:
  description: With O(state=rolled_back), the files put back as they were before the failed apply.
  returned: state is rolled_back
  type: list
  elements: str
  sample: [/etc/haproxy/haproxy.cfg]
removed:
  description: With O(state=committed) and O(prune), the files removed (or that would be, in check mode).
  returned: state is committed
  type: list
  elements: str
  sample: [/etc/exchange-lb/tls/imap.pem]
checked:
  description: With O(state=checked), the daemons whose checker accepted the staged set.
  returned: state is checked
  type: list
  elements: str
  sample: [haproxy, keepalived]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.exchange_lb.appliance.plugins.module_utils._staged import (
    Managed,
    changes,
    check_command,
    commit,
    install,
    managed,
    prune,
    remember,
    rollback,
    staged,
    stale,
)


def _check(module: AnsibleModule, stage: str) -> None:
    passed = []
    for check in module.params["checks"]:
        rc, out, err = module.run_command(check_command(stage, check["argv"]), environ_update={"LC_ALL": "C"})
        if rc != 0:
            module.fail_json(
                msg=f"{check['name']} refuses the staged configuration (nothing on the node was changed): "
                f"{' '.join(check['argv'])} exited {rc}: {(out + err).strip()[-3000:]}",
                checked=passed,
            )
        passed.append(check["name"])
    module.exit_json(changed=False, checked=passed)


def _present(module: AnsibleModule, base: str) -> None:
    files = [Managed(**item) for item in module.params["files"]]
    pending = changes(os.path.join(base, "stage"), files)
    diff = [
        {"before_header": change.path, "after_header": change.path,
         "before": change.before if change.before is not None else "(content not shown)\n",
         "after": change.after if change.after is not None else f"(content not shown: {change.reason})\n"}
        for change in pending
    ]
    if pending and not module.check_mode:
        install(os.path.join(base, "stage"), os.path.join(base, "backup"), files, pending)
    if not module.check_mode:
        remember(os.path.join(base, "managed.json"), files)
    module.exit_json(changed=bool(pending), changed_files=[change.path for change in pending], diff=diff)


def _commit(module: AnsibleModule, base: str) -> None:
    removed: list[str] = []
    if module.params["prune"]:
        directory, keep = module.params["prune"]["directory"], module.params["prune"]["keep"]
        removed = stale(directory, keep)
        if not module.check_mode:
            prune(removed)
            prune(stale(staged(os.path.join(base, "stage"), directory), [staged(os.path.join(base, "stage"), path) for path in keep]))
    pending = os.path.exists(os.path.join(base, "backup"))
    if not module.check_mode:
        commit(os.path.join(base, "backup"), os.path.join(base, "good"), managed(os.path.join(base, "managed.json")))
    # keeping the last known good set is bookkeeping, not a change of the appliance; removing a key is one
    module.exit_json(
        changed=bool(removed), committed=pending, removed=removed,
        diff=[{"before_header": path, "after_header": path, "before": "(content not shown)\n", "after": ""} for path in removed],
    )


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "required": True, "choices": ["checked", "present", "committed", "rolled_back"]},
            "base": {"type": "path", "default": "/var/lib/exchange-lb"},
            "checks": {
                "type": "list", "elements": "dict", "default": [],
                "options": {"name": {"type": "str", "required": True}, "argv": {"type": "list", "elements": "str", "required": True}},
            },
            "prune": {
                "type": "dict",
                "options": {"directory": {"type": "path", "required": True}, "keep": {"type": "list", "elements": "path", "default": []}},
            },
            "files": {
                "type": "list", "elements": "dict", "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "owner": {"type": "str", "default": "root"},
                    "group": {"type": "str", "default": "root"},
                    "mode": {"type": "str", "default": "0644"},
                    "secret": {"type": "bool", "default": False},
                    "redact": {"type": "str", "default": ""},
                },
            },
        },
        supports_check_mode=True,
    )
    base, state = module.params["base"], module.params["state"]
    try:
        if state == "checked":
            _check(module, os.path.join(base, "stage"))
        elif state == "present":
            _present(module, base)
        elif state == "rolled_back":
            restored = [] if module.check_mode else rollback(os.path.join(base, "backup"))
            module.exit_json(changed=bool(restored), restored=restored)
        else:
            _commit(module, base)
    except (OSError, KeyError, ValueError) as exc:
        module.fail_json(msg=f"staged configuration ({state}): {exc}")


if __name__ == "__main__":
    main()
