# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A password variable as the user wrote it: any characters, never printed."""

from __future__ import annotations

DOCUMENTATION = r"""
name: secret
short_description: A password variable, whatever characters it holds, never printed
version_added: 1.0.0
author: exchange_lb developers (@exchange-lb)
description:
  - Returns the value of each named variable, for the appliance's passwords (the admin password, the
    certificate file passwords).
  - Ansible reads a variable holding C({{) or C({%) as a template. A password is text, not a template; one
    such as C(p{{ss) fails as a template and C({{ x }}) names a variable that may not exist, and Ansible's
    error then prints it. This lookup renders the variable as Ansible does when it is a template that
    renders (a vaulted password referenced as C({{ vault_admin_password }}) keeps working), and takes the
    text as written otherwise, with a warning that names the variable, never its value.
  - What it returns is not rendered again.
  - A number is taken as its digits (an unquoted C(12345) in YAML is a number). Any other value that is not text
    (a list, a mapping, a boolean) is refused naming the variable, not showing the value.
  - A name may be a path into a list or a mapping, such as C(exchange_http_additional_certificates[1].password). The
    list and the mappings on the way are read as written (only a step that is itself a template, such as
    C({{ vault_certificates }}), is rendered), so that the other passwords they hold are not rendered either.
    A list item or a key that is not there reads as the empty string, as an unset variable does.
options:
  _terms:
    description: The names of the variables, or paths into them (C(name[index].key)).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Hash the admin password, whatever characters it holds
  ansible.builtin.set_fact:
    admin_password_hash: >-
      {{ lookup('exchange_lb.appliance.secret', 'exchange_admin_password') | password_hash('sha512') }}
  no_log: true

- name: The password of the first additional certificate
  ansible.builtin.set_fact:
    first_sni_password: "{{ lookup('exchange_lb.appliance.secret', 'exchange_http_additional_certificates[0].password') }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description: One value per variable named, the empty string for a variable that is not set.
  type: list
  elements: str
"""

import re
import typing as t
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleError, AnsibleUndefinedVariable
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

try:  # ansible-core 2.19 and later
    from ansible.errors import AnsibleTemplateError
except ImportError:  # pragma: no cover - older ansible-core
    AnsibleTemplateError = AnsibleError  # type: ignore[misc,assignment]

display = Display()

_PATH = re.compile(r"([A-Za-z_]\w*)((?:\[\d+\]|\.[A-Za-z_]\w*)*)")
_STEP = re.compile(r"\[(\d+)\]|\.([A-Za-z_]\w*)")
TAKEN_AS_WRITTEN = ": taken as written (it holds '{{', '{%' or '{#' but is no template that renders)"


class LookupModule(LookupBase):
    def run(self, terms: list[t.Any], variables: dict[str, t.Any] | None = None, **kwargs: t.Any) -> list[str]:
        variables = variables or {}
        return [self._one(str(name), variables) for name in terms]

    def _one(self, name: str, variables: t.Mapping[str, t.Any]) -> str:
        match = _PATH.fullmatch(name)
        if not match:
            raise AnsibleError(f"{name}: not a variable name or a path such as name[0].key")
        if match.group(1) not in variables:
            return ""
        raw = variables[match.group(1)]
        for step in _STEP.finditer(match.group(2)):
            container = self._container(raw, name)
            index, key = step.group(1), step.group(2)
            if index is not None and isinstance(container, Sequence) and not isinstance(container, (str, bytes)):
                if int(index) >= len(container):
                    return ""
                raw = container[int(index)]
            elif key is not None and isinstance(container, Mapping):
                if key not in container:
                    return ""
                raw = container[key]
            elif container is None:
                return ""
            else:
                raise AnsibleError(f"{name}: {type(container).__name__} has no {step.group(0)} (its value is not shown)")
        return self._password(raw, name)

    def _container(self, raw: t.Any, name: str) -> t.Any:
        """A list or a mapping on the way to a password: as written, or rendered when it is a template."""
        if not isinstance(raw, str):
            return raw
        try:
            return self._templar.template(raw)
        except AnsibleError:
            raise AnsibleError(f"{name}: could not be read (its value is not shown: it holds a password)") from None

    def _password(self, raw: t.Any, name: str) -> str:
        if raw is None:
            return ""
        try:
            value = self._templar.template(raw)
        except (AnsibleTemplateError, AnsibleUndefinedVariable):
            value = raw
            if isinstance(raw, str):
                display.warning(name + TAKEN_AS_WRITTEN)
        except AnsibleError:
            raise AnsibleError(f"{name}: could not be read (its value is not shown: it is a password)") from None
        if value is None:
            return ""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # password: 12345 in YAML is a number; the password is its digits
        if not isinstance(value, str):
            raise AnsibleError(f"{name}: a password is text, not {type(value).__name__} (its value is not shown)")
        # a plain str: no tag of a trusted template rides along, so nothing renders it again
        return str.__str__(value)
