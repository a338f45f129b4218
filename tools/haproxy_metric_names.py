#!/usr/bin/env python3
"""List the metric names (and their label names) a running haproxy's Prometheus
exporter serves, one ``name label,label`` per line: the list the Grafana dashboard
test checks against (tests/unit/files/haproxy-*-metrics.txt).

    tools/haproxy_metric_names.py http://127.0.0.1:8404/metrics [user password] > list.txt

The committed list was taken from Debian 12's haproxy 2.6.12-1+deb12u4 on this machine,
on loopback, with HTTP and TCP frontends, checked servers, a tracking server and a
stick table (the features the appliance's haproxy.cfg uses).
"""

from __future__ import annotations

import base64
import re
import sys
import urllib.request

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? ")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="')


def parse(text: str) -> dict[str, set[str]]:
    """Metric name -> label names, from the Prometheus text format."""
    metrics: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            metrics.setdefault(line.split()[2], set())
            continue
        match = SAMPLE.match(line)
        if match:
            metrics.setdefault(match["name"], set()).update(LABEL.findall(match["labels"] or ""))
    return metrics


def main(argv: list[str]) -> int:
    request = urllib.request.Request(argv[1])
    if len(argv) == 4:
        token = base64.b64encode(f"{argv[2]}:{argv[3]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as response:  # nosec - a URL the user gives
        text = response.read().decode()
    for name, labels in sorted(parse(text).items()):
        print(f"{name} {','.join(sorted(labels))}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
