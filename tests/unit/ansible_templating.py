"""Ansible's own templating in unit tests, as a run of the collection does it on the controller.

Importing this module installs Ansible's collection loader (Ansible's lookups, such as
ansible.builtin.env, and this collection's module_utils load through it). ``load`` reads a YAML file
of the repository as Ansible reads a role's files: its strings trusted as templates (ansible-core
2.19 renders no untrusted string). ``role_variables`` layers roles' defaults, the inventory and the
roles' vars in Ansible's precedence; ``magic_variables`` adds what Ansible sets for a play.
"""

from __future__ import annotations

import functools
import typing as t
from pathlib import Path

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

ROOT = Path(__file__).resolve().parents[2]
_AnsibleCollectionFinder(paths=[str(ROOT / ".build" / "collections")])._install()

from ansible.parsing.dataloader import DataLoader  # noqa: E402

LOADER = DataLoader()


@functools.cache
def load(relative: str) -> t.Any:
    """A YAML file of the repository (``relative`` to its root), its strings trusted as templates;
    ``{}`` when it does not exist (a role without vars/main.yml)."""
    path = ROOT / relative
    return LOADER.load_from_file(str(path), trusted_as_template=True) if path.exists() else {}


def role_variables(roles: t.Iterable[str], inventory: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The roles' defaults, then the host's inventory variables, then the roles' vars."""
    roles = tuple(roles)
    variables: dict[str, t.Any] = {}
    for role in roles:
        variables.update(load(f"roles/{role}/defaults/main.yml") or {})
    variables.update(inventory)
    for role in roles:
        variables.update(load(f"roles/{role}/vars/main.yml") or {})
    return variables


def magic_variables(hostvars: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """What Ansible sets for a play over the hosts of ``hostvars`` (all in the group exchange_lb)."""
    hosts = list(hostvars)
    return {"ansible_play_hosts_all": hosts, "groups": {"all": hosts, "exchange_lb": hosts}, "hostvars": dict(hostvars)}
