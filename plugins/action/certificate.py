# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller side of exchange_lb.appliance.certificate.

The certificate file lives on the controller, as the web UI's upload did: it is
read and checked here, so a bad certificate is refused before anything on the
managed host changes and the host needs no Python crypto library. Only the
combined PEM reaches the host, through the copy action, with the diff turned off
(it would show the key) and replaced by a summary of the certificate.
With ``remote_src: true`` the module runs on the host instead.
"""

from __future__ import annotations

import base64
import typing as t

from ansible.errors import AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.exchange_lb.appliance.plugins.module_utils._certificate import (
    CertificateError,
    check_certificate,
    combined_pem,
    identity_of_pem,
    read_file,
)

MODULE = "exchange_lb.appliance.certificate"
FILE_ARGS = ("mode", "owner", "group", "seuser", "serole", "setype", "selevel", "unsafe_writes", "attributes")


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _VALID_ARGS = frozenset(("src", "remote_src", "password", "host_name", "field", "warn_days", "dest") + FILE_ARGS)

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if boolean(args.pop("remote_src", False), strict=False):
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            return result

        field = str(args.get("field") or "Certificate")
        try:
            src = self._find_needle("files", str(args.get("src") or ""))
        except AnsibleError:
            return {**result, "failed": True, "field": field, "msg": f"{field}: the file {args.get('src')!r} was not found on the controller"}
        try:
            # a file encrypted with ansible-vault (a site repository's certificate) is read decrypted
            real = self._loader.get_real_file(src, decrypt=True)
        except AnsibleError as exc:
            return {**result, "failed": True, "field": field,
                    "msg": f"{field}: the file {args.get('src')!r} cannot be decrypted ({exc.message}); give the run the vault password"}
        try:
            try:
                data = read_file(real, field=field)
            finally:
                self._loader.cleanup_tmp_file(real)
            bundle, info, warnings = check_certificate(
                data,
                args.get("password") or None,
                field=field,
                host_name=args.get("host_name") or None,
                warn_days=int(args.get("warn_days", 30)),
            )
        except CertificateError as exc:
            return {**result, "failed": True, "field": exc.field, "msg": str(exc)}
        result.update(changed=False, certificate=info.as_dict())
        if warnings:
            result["warnings"] = list(warnings)
        dest = args.get("dest")
        if not dest:
            return result

        before = self._remote_identity(str(dest), task_vars)
        copy_task = self._task.copy()
        copy_task.args = {"content": combined_pem(bundle).decode("ascii"), "dest": dest, "mode": args.get("mode") or "0600"}
        copy_task.args.update({key: args[key] for key in FILE_ARGS if key in args and key != "mode"})
        copy_task.diff = False  # the copy's own diff would show the private key
        copy_action = self._shared_loader_obj.action_loader.get(
            "ansible.legacy.copy",
            task=copy_task,
            connection=self._connection,
            play_context=self._play_context,
            loader=self._loader,
            templar=self._templar,
            shared_loader_obj=self._shared_loader_obj,
        )
        copied = copy_action.run(task_vars=task_vars)
        if copied.get("failed"):
            return {**result, "failed": True, "field": field, "msg": f"{field}: cannot write {dest}: {copied.get('msg', 'copy failed')}"}
        result.update(changed=bool(copied.get("changed")), dest=dest)
        if self._task.diff and result["changed"]:
            result["diff"] = {"before": before or {}, "after": info.identity()}
        return result

    def _remote_identity(self, dest: str, task_vars: dict[str, t.Any] | None) -> dict[str, str] | None:
        """Subject, fingerprint and expiry of the PEM now at ``dest`` (for the diff), never its content."""
        found = self._execute_module(module_name="ansible.legacy.slurp", module_args={"src": dest}, task_vars=task_vars)
        if found.get("failed") or "content" not in found:
            return None
        return identity_of_pem(base64.b64decode(found["content"])) or {"content": "not a certificate"}
