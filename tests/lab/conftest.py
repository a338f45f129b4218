"""Lab tests: fail (never skip) with a clear message when the lab is not up."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import labkit  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def lab_is_up():
    """Fail (never skip) every lab test with a clear message when the lab is down."""
    if not (labkit.PKI / "ca.crt").is_file():
        pytest.fail("%s (no %s)" % (labkit.LAB_HINT, labkit.PKI / "ca.crt"), pytrace=False)
    probes = [(n["host"], n["ip"], p) for n in labkit.CAS for p in (80, 443, 143, 110, 135)]
    probes += [(n["host"], n["ip"], p) for n in labkit.HUBS for p in (25, 587)]
    down = ["%s(%s):%d" % pr for pr in probes if not labkit.tcp_open(pr[1], pr[2])]
    if down:
        pytest.fail("%s — not answering: %s" % (labkit.LAB_HINT, ", ".join(down)), pytrace=False)
