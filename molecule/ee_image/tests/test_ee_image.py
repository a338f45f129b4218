"""The skeleton's job, run inside the execution environment image (make ee-image), as a client sees it:
HTTP through the node reaches both stand-in CAS servers, and the image carries this collection's
version and an ansible-core the collection supports."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # molecule/: the shared clients
from clients import assert_check_mode_is_clean  # noqa: E402

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
IMAGE = os.environ.get("EXLB_EE_IMAGE", "localhost/exlb-ee:debian13")


def served_by(address: str) -> str:
    conn = http.client.HTTPConnection(address, 80, timeout=5)
    try:
        conn.request("GET", "/owa/", headers={"Host": "mail.mydomain.local"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        return response.getheader("X-Served-By", "")
    finally:
        conn.close()


def test_check_mode_from_this_machine_finds_the_node_as_the_image_left_it():
    """The same site.yml from the checkout's controller: nothing to change."""
    assert_check_mode_is_clean()


def test_client_reaches_both_cas_through_the_node(host):
    address = host.ansible.get_variables()["exchange_network_address"]
    answers = [served_by(address) for _ in range(4)]
    assert sorted(set(answers)) == ["cas1", "cas2"], answers


def test_the_image_carries_this_collection_and_a_supported_core():
    listed = subprocess.run(["podman", "run", "--rm", IMAGE, "ansible-galaxy", "collection", "list", "exchange_lb.appliance"],
                            capture_output=True, text=True, timeout=120, check=True).stdout
    version = yaml.safe_load((PROJECT / "galaxy.yml").read_text(encoding="utf-8"))["version"]
    assert any(line.split()[:2] == ["exchange_lb.appliance", version] for line in listed.splitlines()), listed
    core = subprocess.run(["podman", "run", "--rm", IMAGE, "python3", "-c", "import ansible.release as r; print(r.__version__)"],
                          capture_output=True, text=True, timeout=120, check=True).stdout.strip()
    assert tuple(int(part) for part in core.split(".")[:2]) >= (2, 19), core
