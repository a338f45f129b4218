"""How the lab's throw-away appliance nodes (molecule's, the benchmark's) are reached: over SSH, as a
site reaches a VM. One source: the group variables of ``.config/molecule/config.yml`` (user ansible,
the lab's key, sudo, a multiplexed connection), and a fixed MAC address per lab address.

Used by molecule/clients.py (the tests' own inventories) and bench/appliance.py. Needs PyYAML (the venv).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE_CONFIG = ROOT / ".config" / "molecule" / "config.yml"


def ssh_vars(address: str) -> dict[str, object]:
    """Inventory variables that reach the node at ``address`` as molecule's own inventory does."""
    import yaml

    base = yaml.safe_load(BASE_CONFIG.read_text(encoding="utf-8"))["provisioner"]["inventory"]["group_vars"]["all"]
    # ${LAB_SSH_KEY} as molecule interpolates it; the lab's path when lab/env.sh was not sourced
    env = {"LAB_SSH_KEY": str(ROOT / ".lab" / "ssh" / "id_ed25519"), **os.environ}
    found = {key: value.replace("${LAB_SSH_KEY}", env["LAB_SSH_KEY"]) if isinstance(value, str) else value
             for key, value in base.items()}
    return {**found, "ansible_connection": "ssh", "ansible_host": address}


def mac_of(address: str) -> str:
    """A fixed, locally administered MAC address for a lab address (02:00 and its four octets): a node made
    again at the same address is reached at once, not after the bridge's stale ARP entry expires."""
    return "02:00:" + ":".join(f"{int(octet):02x}" for octet in address.split("."))
