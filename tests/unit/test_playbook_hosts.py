"""A site names its own group of appliance nodes (and of CAS servers) with an extra var: every
playbook of playbooks/ runs on `exchange_lb` (`cas_servers`) by default and on the group that
-e exlb_hosts (-e exlb_cas_hosts) names otherwise, as ansible-playbook --list-hosts shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yml"))
NODES = "{{ exlb_hosts | default('exchange_lb') }}"
CAS = "{{ exlb_cas_hosts | default('cas_servers') }}"
#: groups a playbook makes itself (upgrade.yml sorts the nodes), and the template VM of firstboot.yml
OWN = {"exlb_upgrade_first", "exlb_upgrade_last", "{{ firstboot_hosts | default('exchange_lb_template') }}"}

INVENTORY = """\
all:
  children:
    exchange_lb: {hosts: {default-lb: {}}}
    cas_servers: {hosts: {default-cas: {}}}
    site_lbs: {hosts: {site-lb1: {}, site-lb2: {}}}
    site_cas: {hosts: {site-cas1: {}}}
  vars: {ansible_connection: local}
"""


def test_no_playbook_hard_codes_its_group() -> None:
    for playbook in PLAYBOOKS:
        for play in yaml.safe_load(playbook.read_text(encoding="utf-8")):
            if "hosts" in play:
                assert play["hosts"] in {NODES, CAS} | OWN, f"{playbook.name}: {play['name']}: hosts {play['hosts']}"


def _hosts(tmp_path: Path, *extra: str) -> dict[str, set[str]]:
    (tmp_path / "hosts.yml").write_text(INVENTORY, encoding="utf-8")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_HOME": str(tmp_path / "home"),
           "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "--list-hosts", "-i", str(tmp_path / "hosts.yml"), *extra,
         *(str(p) for p in PLAYBOOKS)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    plays: dict[str, set[str]] = {}
    for match in re.finditer(r"play #\d+ \(([^)]*)\): (.*?)\s+TAGS.*?\n\s+pattern: .*?\n\s+hosts \(\d+\):\n((?:\s{6}\S+\n)*)",
                             result.stdout):
        plays[f"{match.group(1)}: {match.group(2)}"] = set(match.group(3).split())
    assert len(plays) >= 12, result.stdout
    return plays


@pytest.mark.parametrize(("extra", "nodes", "cas"), [
    ((), {"default-lb"}, {"default-cas"}),
    (("-e", "exlb_hosts=site_lbs", "-e", "exlb_cas_hosts=site_cas"), {"site-lb1", "site-lb2"}, {"site-cas1"}),
], ids=["default groups", "the site's groups"])
def test_every_playbook_runs_on_the_group_the_site_names(tmp_path: Path, extra: tuple[str, ...], nodes: set[str],
                                                         cas: set[str]) -> None:
    plays = _hosts(tmp_path, *extra)
    for play, hosts in plays.items():
        if play.startswith("exlb_upgrade_") or "firstboot" in play.lower() or "template VM" in play:
            continue
        assert hosts == (cas if "Client Access" in play else nodes), play
