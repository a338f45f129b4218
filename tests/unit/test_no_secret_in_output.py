"""No password shows in a -vvv run (issue 15, secrets): a real ``ansible-playbook -vvv --check`` on this
machine (connection local, nothing changes) runs what the site playbook runs before anything on a node
changes - the exchange role's plan (tasks_from: plan, as the site playbook's first play), the main entry
point's argument spec check as ansible-core runs it, and the role's reading of every certificate password -
with every password set to a marker holding '{{', '{%' or '{#'. No marker may appear in its output.

(The certificate checks themselves and the daemons' stages need certificate files and a node: the lab's
bad_input scenario runs them.)"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MARK = "Zq9SecretMark"
PASSWORDS = {
    "exchange_admin_password": f"{MARK}-admin{{{{ x",
    "exchange_http_certificate_password": f"{MARK}-http{{% y",
    "exchange_imap_certificate_password": "{{ vault_imap_password }}",  # a vaulted password, referenced
    "exchange_smtp_certificate_password": f"{{# {MARK}-smtp",
}
HOST_VARS = {
    "ansible_connection": "local",
    "ansible_python_interpreter": sys.executable,
    "exchange_network_address": "10.89.60.45",
    "exchange_cas_servers": [{"name": "cas1", "address": "10.89.60.21"}, {"name": "cas2", "address": "10.89.60.22"}],
    "exchange_http_mode": "ssl-offload",
    "exchange_http_certificate": "/nonexistent/mail.pfx",
    "exchange_http_additional_certificates": [
        {"certificate": "/nonexistent/legacy.pfx", "host_name": "legacy.mydomain.local", "password": f"{MARK}-sni{{{{ nope }}}}"},
        {"certificate": "/nonexistent/other.pfx", "host_name": "other.mydomain.local", "password": f"{MARK}-sni2{{%"},
    ],
    "vault_imap_password": f"{MARK}-vault{{{{",
    **PASSWORDS,
}
PLAYBOOK = textwrap.dedent("""\
    ---
    - name: The plan and the checks before anything changes, with marker passwords
      hosts: exchange_lb
      gather_facts: false
      tasks:
        - name: Compute and validate the appliance plan (the site playbook's first play)
          ansible.builtin.include_role:
            name: exchange_lb.appliance.exchange
            tasks_from: plan
            public: true  # the role's variables (exchange_certificate_passwords) for the tasks below

        - name: Check the main entry point's options as ansible-core does before the role's tasks
          ansible.builtin.validate_argument_spec:
            argument_spec: "{{ (lookup('ansible.builtin.file', spec) | from_yaml).argument_specs.main.options }}"
          vars:
            spec: "{{ playbook_dir }}/roles/exchange/meta/argument_specs.yml"

        - name: Show which services have a password (the role's exchange_certificate_passwords)
          ansible.builtin.debug:
            msg: "{{ passwords | dict2items | selectattr('value') | map(attribute='key') | sort }}"
          vars:
            passwords: "{{ exchange_certificate_passwords }}"
    """)


def test_no_password_shows_in_a_verbose_check_run(tmp_path: Path) -> None:
    (tmp_path / "roles").symlink_to(ROOT / "roles")
    (tmp_path / "site.yml").write_text(PLAYBOOK, encoding="utf-8")
    inventory = {"all": {"children": {"exchange_lb": {"hosts": {"lb1": HOST_VARS}}}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory), encoding="utf-8")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build" / "collections"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    run = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-vvv", "--check", "-i", str(tmp_path / "inventory.yml"),
         str(tmp_path / "site.yml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert MARK not in output
    # the run did read them: the services with a password, and a warning naming each text taken as written
    assert all(f"- {service}" in output for service in ("http", "http_sni1", "http_sni2", "imap", "smtp"))
    for name in ("exchange_http_additional_certificates[0].password", "exchange_http_additional_certificates[1].password",
                 "exchange_admin_password", "exchange_http_certificate_password", "exchange_smtp_certificate_password"):
        assert f"{name}: taken as written" in " ".join(output.split()), name
