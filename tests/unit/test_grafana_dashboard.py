"""docs/grafana-dashboard.json is current, and every metric and label it queries is
one haproxy's Prometheus exporter really serves.

The list of metrics (tests/unit/files/haproxy-2.6-metrics.txt) was scraped from Debian
12's haproxy 2.6.12 running on loopback with tools/haproxy_metric_names.py; `up`,
`instance` and `job` are what Prometheus itself adds to every scrape.
"""

from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

from source_loader import load_source

ROOT = Path(__file__).resolve().parents[1].parent
gen = load_source("tools/gen_grafana_dashboard.py")

PROMETHEUS_METRICS = {"up": set()}
# `node`: the node's address, copied from __address__ by the relabel_configs of docs/metrics.md
PROMETHEUS_LABELS = {"instance", "job", "node"}
PROMQL_WORDS = {"sum", "min", "max", "by", "rate", "increase", "label_values", "without", "avg", "count", "or", "vector"}
NOTIFY_SCRIPT = ROOT / "roles" / "keepalived" / "files" / "exlb-vrrp-notify"


def appliance_metrics() -> dict[str, set[str]]:
    """What keepalived's notify script writes for the node exporter's textfile collector."""
    text = NOTIFY_SCRIPT.read_text(encoding="utf-8")
    return {name: set(re.findall(r"(\w+)=", labels)) for name, labels in re.findall(r"^\s*echo \"(exchange_lb_\w+)\{([^}]*)\}", text, re.M)}


def haproxy_metrics() -> dict[str, set[str]]:
    metrics: dict[str, set[str]] = {}
    for line in (ROOT / "tests" / "unit" / "files" / "haproxy-2.6-metrics.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _space, labels = line.partition(" ")
            metrics[name] = set(filter(None, labels.split(",")))
    return metrics


def queries(dashboard: dict[str, t.Any]) -> list[tuple[str, str]]:
    """(expression, legend) of every panel target and template variable."""
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found.append((target["expr"], target["legendFormat"]))
    for variable in dashboard["templating"]["list"]:
        found.append((variable["query"]["query"], ""))
    return found


def test_dashboard_is_up_to_date() -> None:
    assert (ROOT / "docs" / "grafana-dashboard.json").read_text(encoding="utf-8") == gen.render(), \
        "run tools/gen_grafana_dashboard.py"


def test_every_metric_and_label_is_one_haproxy_exports() -> None:
    known = {**haproxy_metrics(), **appliance_metrics(), **PROMETHEUS_METRICS}
    assert len(known) > 150 and "haproxy_server_status" in known
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    used = set()
    for expr, legend in queries(dashboard):
        text = re.sub(r'"[^"]*"', '""', expr)  # label values are no names
        text = re.sub(r"\[\w+\]", "", text)  # range durations
        names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text))
        by_labels = {label.strip() for group in re.findall(r"by \(([^)]*)\)", text) for label in group.split(",")}
        # label_values(metric, label): the label asked for
        by_labels |= set(re.findall(r"label_values\([^,]+,\s*(\w+)\)", text))
        metrics = names - PROMQL_WORDS - by_labels
        matchers = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"", expr))
        metrics -= matchers
        assert metrics, expr
        for metric in metrics:
            assert metric in known, f"{metric} is exported neither by haproxy 2.6 nor by the notify script ({expr})"
        labels = set().union(*(known[m] for m in metrics)) | PROMETHEUS_LABELS
        assert matchers <= labels, f"{matchers - labels} in {expr}"
        assert by_labels <= labels, f"{by_labels - labels} in {expr}"
        legend_labels = set(re.findall(r"\{\{(\w+)\}\}", legend))
        assert legend_labels <= (by_labels or labels), f"{legend} of {expr}"
        used |= metrics
    # the dashboard shows services, servers and nodes
    assert {"haproxy_frontend_status", "haproxy_server_status", "haproxy_backend_active_servers", "up"} <= used
    # ... and which node holds the virtual service address
    assert "exchange_lb_vrrp_state" in used


def test_the_documented_scrape_configs_give_both_exporters_the_same_node_label() -> None:
    """haproxy's and the node exporter's `instance` differ (two ports of one node): the dashboard
    selects on `node`, which each scrape configuration of docs/metrics.md sets from the address."""
    import yaml

    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    jobs = {}
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        parsed = yaml.safe_load(block)
        entries = parsed.get("scrape_configs", []) if isinstance(parsed, dict) else parsed
        for job in entries or []:
            jobs[job["job_name"]] = job
    assert set(jobs) == {"exchange_lb", "exchange_lb_nodes"}, jobs
    for name, job in jobs.items():
        (rule,) = [rule for rule in job.get("relabel_configs", []) if rule.get("target_label") == "node"]
        assert rule["source_labels"] == ["__address__"], name
        for target in job["static_configs"][0]["targets"]:
            match = re.fullmatch(rule["regex"], target)  # Prometheus anchors its regexes
            assert match and match.group(1) == target.rsplit(":", 1)[0], (name, target)
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    assert all('instance=~' not in expr for expr, _legend in queries(dashboard))


def test_panels_are_laid_out_on_the_grid() -> None:
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"] and panel["description"], panel["title"]
    assert dashboard["__inputs"][0]["name"] == "DS_PROMETHEUS"
