"""The backup's variables.yml (roles/exchange_backup) as Ansible renders it: the inventory's exchange_*
settings without a secret, also the passwords held by the items of exchange_http_additional_certificates
(which are neither kept nor rendered: a password with '{{' does not break the backup)."""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ansible_templating import LOADER, load, role_variables  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402

MARKER = "Zq7-backup-SECRET"


def saved_variables(inventory: dict[str, t.Any]) -> dict[str, t.Any]:
    tasks = load("roles/exchange_backup/tasks/main.yml")
    facts = next(task["ansible.builtin.set_fact"] for task in tasks
                 if "exchange_backup_variables" in (task.get("ansible.builtin.set_fact") or {}))
    variables = role_variables(["exchange_backup"], {"exchange_backup_dir": "/tmp", **inventory})
    text = Templar(loader=LOADER, variables=variables).template(facts["exchange_backup_variables"])
    assert MARKER not in text
    return json.loads(text)


@pytest.mark.parametrize("password", [MARKER, MARKER + "{{", "{% " + MARKER, "{{ " + MARKER + " }}"])
def test_the_passwords_of_the_additional_certificates_are_not_saved(password: str) -> None:
    saved = saved_variables({
        "exchange_http_additional_certificates": [
            {"certificate": trust_as_template("/etc/ssl/a.pfx"), "host_name": trust_as_template("a.mydomain.local"),
             "password": trust_as_template(password)},
            {"certificate": trust_as_template("/etc/ssl/b.pem"), "host_name": trust_as_template("b.mydomain.local")},
        ],
        "exchange_admin_password": trust_as_template(MARKER),
        "exchange_http_mode": trust_as_template("ssl-offload"),
    })
    assert saved["exchange_http_additional_certificates"] == [
        {"certificate": "/etc/ssl/a.pfx", "host_name": "a.mydomain.local"},
        {"certificate": "/etc/ssl/b.pem", "host_name": "b.mydomain.local"},
    ]
    assert saved["exchange_http_mode"] == "ssl-offload" and "exchange_admin_password" not in saved
