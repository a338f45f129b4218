#!/usr/bin/env python3
"""Write docs/grafana-dashboard.json: a Grafana dashboard for the appliance's
haproxy Prometheus metrics (haproxy's built-in exporter, /metrics on each node's
statistics port) and, where the node metrics are on, each node's VRRP state (the node
exporter's textfile collector). A unit test checks the file is current and that every
metric and label it uses is one haproxy 2.6 or the appliance's notify script exports.

The two exporters listen on different ports of a node, so Prometheus's `instance` label
differs between them (10.0.0.5:8404, 10.0.0.5:9100): the scrape configurations in
docs/metrics.md copy the node's address into a `node` label, which the panels select on.

    .venv/bin/python tools/gen_grafana_dashboard.py
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "grafana-dashboard.json"
DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
SEL = 'node=~"$node"'
# The appliance's frontends are ft_<service> (ft_https, ft_imap, ft_rpc_ca ...), its
# backends bk_<service> (bk_http_owa, bk_imap, bk_rpc_ca ...); the statistics
# frontend ft_stats is no Exchange service.
FRONT = f'{SEL},proxy=~"ft_.+",proxy!="ft_stats"'
BACK = f'{SEL},proxy=~"bk_($service)"'

_next_id = 0


def _id() -> int:
    global _next_id
    _next_id += 1
    return _next_id


def target(expr: str, legend: str) -> dict[str, t.Any]:
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": "ABCDEFGH"[0]}


def panel(kind: str, title: str, description: str, grid: tuple[int, int, int, int], targets: list[tuple[str, str]],
          unit: str = "short", **extra: t.Any) -> dict[str, t.Any]:
    x, y, w, h = grid
    refs = [dict(target(expr, legend), refId="ABCDEFGH"[i]) for i, (expr, legend) in enumerate(targets)]
    result: dict[str, t.Any] = {
        "id": _id(), "type": kind, "title": title, "description": description, "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h}, "targets": refs,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "options": {},
    }
    result.update(extra)
    return result


def row(title: str, y: int) -> dict[str, t.Any]:
    return {"id": _id(), "type": "row", "title": title, "collapsed": False, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}


UP_DOWN = {"mappings": [{"type": "value", "options": {"0": {"text": "DOWN", "color": "red"}, "1": {"text": "UP", "color": "green"}}}],
           "thresholds": {"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}]}}


VRRP_STATES = {"mappings": [{"type": "value", "options": {
    "0": {"text": "STOPPED", "color": "red"}, "1": {"text": "BACKUP", "color": "blue"},
    "2": {"text": "MASTER", "color": "green"}, "3": {"text": "FAULT", "color": "red"}}}],
    "thresholds": {"mode": "absolute", "steps": [{"color": "red", "value": None}]}}
ONE_MASTER = {"thresholds": {"mode": "absolute", "steps": [
    {"color": "red", "value": None}, {"color": "green", "value": 1}, {"color": "red", "value": 2}]}}


def dashboard() -> dict[str, t.Any]:
    panels = [
        row("Nodes (each appliance node's haproxy)", 0),
        panel("stat", "haproxy answers", "Prometheus could scrape the node's /metrics (its own `up` series).", (0, 1, 6, 4),
              [(f"up{{{SEL}}}", "{{node}}")], fieldConfig={"defaults": {"unit": "none", **UP_DOWN}, "overrides": []}),
        panel("stat", "haproxy uptime", "Since the last haproxy start (a reload keeps it).", (6, 1, 6, 4),
              [(f"haproxy_process_uptime_seconds{{{SEL}}}", "{{node}}")], unit="s"),
        panel("stat", "haproxy version", "The package version each node runs (Setup tab › Information › version).", (12, 1, 6, 4),
              [(f"haproxy_process_build_info{{{SEL}}}", "{{node}} {{version}}")], unit="none",
              options={"textMode": "name", "reduceOptions": {"calcs": ["lastNotNull"]}}),
        panel("timeseries", "Connections per node", "Current connections, TLS connections among them.", (18, 1, 6, 4),
              [(f"haproxy_process_current_connections{{{SEL}}}", "{{node}}"),
               (f"haproxy_process_current_ssl_connections{{{SEL}}}", "{{node}} TLS")]),
        row("Exchange services (frontends)", 5),
        panel("state-timeline", "Services up", "Each service's frontend: UP while haproxy listens for it.", (0, 6, 12, 8),
              [(f'haproxy_frontend_status{{{FRONT},state="UP"}}', "{{node}} {{proxy}}")],
              fieldConfig={"defaults": {"unit": "none", **UP_DOWN}, "overrides": []}),
        panel("timeseries", "Client sessions per service", "Current client sessions on each service's frontend.", (12, 6, 12, 8),
              [(f"sum by (proxy) (haproxy_frontend_current_sessions{{{FRONT}}})", "{{proxy}}")]),
        panel("timeseries", "New sessions per second", "Session rate per service over 5 minutes.", (0, 14, 12, 8),
              [(f"sum by (proxy) (rate(haproxy_frontend_sessions_total{{{FRONT}}}[5m]))", "{{proxy}}")], unit="ops"),
        panel("timeseries", "Traffic per service", "Bytes per second from and to the clients.", (12, 14, 12, 8),
              [(f"sum by (proxy) (rate(haproxy_frontend_bytes_in_total{{{FRONT}}}[5m]))", "{{proxy}} in"),
               (f"-sum by (proxy) (rate(haproxy_frontend_bytes_out_total{{{FRONT}}}[5m]))", "{{proxy}} out")], unit="Bps"),
        row("CAS and Hub servers (backends)", 22),
        panel("state-timeline", "Servers up per service", "A server answering its health check (guide 2.6) is UP; a DOWN one "
              "gets no new connections.", (0, 23, 12, 10),
              [(f'haproxy_server_status{{{BACK},state="UP"}}', "{{proxy}} {{server}}")],
              fieldConfig={"defaults": {"unit": "none", **UP_DOWN}, "overrides": []}),
        panel("timeseries", "Active servers per service", "How many servers of each backend are UP; 0 means the service is out.",
              (12, 23, 12, 10), [(f"min by (proxy) (haproxy_backend_active_servers{{{BACK}}})", "{{proxy}}")]),
        panel("timeseries", "Sessions per server", "Current sessions each CAS / Hub has from the appliance.", (0, 33, 12, 8),
              [(f"sum by (server) (haproxy_server_current_sessions{{{BACK}}})", "{{server}}")]),
        panel("timeseries", "Health check failures", "Failed health checks per server over 5 minutes.", (12, 33, 12, 8),
              [(f"sum by (proxy, server) (increase(haproxy_server_check_failures_total{{{BACK}}}[5m]))", "{{proxy}} {{server}}")]),
        panel("timeseries", "HTTP responses by class", "Responses of the HTTP services (SSL offload) by status class.", (0, 41, 12, 8),
              [(f"sum by (code) (rate(haproxy_backend_http_responses_total{{{BACK}}}[5m]))", "{{code}}")], unit="reqps"),
        panel("timeseries", "Response time", "Average over the last 1024 requests, per backend.", (12, 41, 12, 8),
              [(f"max by (proxy) (haproxy_backend_response_time_average_seconds{{{BACK}}})", "{{proxy}}")], unit="s"),
        panel("timeseries", "Connection errors and retries", "Connections to a server that failed, and retries.", (0, 49, 12, 8),
              [(f"sum by (proxy) (rate(haproxy_backend_connection_errors_total{{{BACK}}}[5m]))", "{{proxy}} errors"),
               (f"sum by (proxy) (rate(haproxy_backend_retry_warnings_total{{{BACK}}}[5m]))", "{{proxy}} retries")], unit="ops"),
        panel("timeseries", "Persistence tables", "Entries in the stick tables (persistence per source address).", (12, 49, 12, 8),
              [(f'haproxy_sticktable_used{{{SEL}}}', "{{node}} {{name}}")]),
        row("VRRP: who holds the virtual service address (exchange_node_metrics)", 57),
        panel("state-timeline", "VRRP state per node", "keepalived's state on each node, written at each transition by its "
              "notify script: MASTER holds the virtual service address.", (0, 58, 16, 6),
              [(f"max by (node) (exchange_lb_vrrp_state{{{SEL}}})", "{{node}}")],
              fieldConfig={"defaults": {"unit": "none", **VRRP_STATES}, "overrides": []}),
        panel("stat", "Masters in the pair", "Exactly one node must hold the address: 0 means no node serves, 2 a split "
              "brain (both answer ARP for it).", (16, 58, 8, 6),
              [(f"count(exchange_lb_vrrp_state{{{SEL}}} == 2) or vector(0)", "masters")],
              fieldConfig={"defaults": {"unit": "none", **ONE_MASTER}, "overrides": []}),
    ]
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource", "pluginId": "prometheus",
                      "pluginName": "Prometheus", "description": "The Prometheus that scrapes the appliance nodes"}],
        "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
                       {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}],
        "title": "Exchange load balancer (exchange_lb.appliance)",
        "uid": "exchange-lb-appliance",
        "description": "haproxy's Prometheus metrics of the exchange_lb.appliance nodes: services, CAS/Hub servers, nodes.",
        "tags": ["exchange", "haproxy", "exchange_lb"],
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": [
            {"name": "node", "label": "Node", "type": "query", "datasource": DS, "multi": True, "includeAll": True,
             "query": {"query": "label_values(haproxy_process_uptime_seconds, node)", "refId": "node"},
             "definition": "label_values(haproxy_process_uptime_seconds, node)", "refresh": 2, "current": {}},
            {"name": "service", "label": "Service", "type": "query", "datasource": DS, "multi": True, "includeAll": True,
             "allValue": ".+", "regex": "/^bk_(.+)$/",
             "query": {"query": 'label_values(haproxy_backend_status{node=~"$node"}, proxy)', "refId": "service"},
             "definition": 'label_values(haproxy_backend_status{node=~"$node"}, proxy)', "refresh": 2, "current": {}},
        ]},
        "panels": panels,
    }


def render() -> str:
    global _next_id
    _next_id = 0
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
