#!/usr/bin/env python3
"""Write docs/architecture.svg, the collection's architecture picture (no renderer
needed: plain SVG laid out here). A unit test checks the file is current.

    .venv/bin/python tools/gen_architecture_svg.py
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "architecture.svg"
W, H = 1120, 700

COLOURS = {
    "ctl": ("#e8f0fe", "#3367d6"),
    "role": ("#fef7e0", "#b06000"),
    "node": ("#e6f4ea", "#137333"),
    "ms": ("#fce8e6", "#c5221f"),
    "obs": ("#f3e8fd", "#8430ce"),
    "note": ("#ffffff", "#5f6368"),
}


def box(x: int, y: int, w: int, h: int, kind: str, title: str, lines: tuple[str, ...] = ()) -> str:
    fill, stroke = COLOURS[kind]
    out = [f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>',
           f'<text x="{x + 10}" y="{y + 20}" class="t" fill="{stroke}">{escape(title)}</text>']
    for i, line in enumerate(lines):
        out.append(f'<text x="{x + 10}" y="{y + 38 + 15 * i}" class="s">{escape(line)}</text>')
    return "\n".join(out)


def arrow(x1: int, y1: int, x2: int, y2: int, label: str = "", dashed: bool = False, dx: int = 0, dy: int = -6) -> str:
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    out = [f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#3c4043" stroke-width="1.5" marker-end="url(#a)"{dash}/>']
    if label:
        out.append(f'<text x="{(x1 + x2) // 2 + dx}" y="{(y1 + y2) // 2 + dy}" class="l" text-anchor="middle">{escape(label)}</text>')
    return "\n".join(out)


def render() -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="DejaVu Sans, Arial, sans-serif">',
        "<title>exchange_lb.appliance architecture</title>",
        '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#3c4043"/></marker>'
        "<style>.t{font-size:14px;font-weight:bold}.s{font-size:11.5px;fill:#202124}.l{font-size:11px;fill:#3c4043}"
        ".h{font-size:16px;font-weight:bold;fill:#202124}</style></defs>",
        f'<rect width="{W}" height="{H}" fill="#ffffff"/>',
        '<text x="20" y="30" class="h">Controller (ansible-playbook or AWX + execution environment)</text>',
        '<text x="600" y="30" class="h">Network</text>',
        # controller side
        box(20, 50, 250, 110, "ctl", "Inventory", ("group exchange_lb: appliance nodes", "group cas_servers: Windows CAS",
                                                   "group_vars/all: exchange_* variables", "(the WUI's fields, guide defaults)")),
        box(20, 180, 250, 125, "ctl", "AWX job templates + surveys", ("Apply configuration (site)", "Services, Information",
                                                                       "Backup / Restore, CAS maintenance", "Exchange static ports",
                                                                       "survey = argument spec (tested)")),
        box(20, 325, 250, 80, "ctl", "Execution environment", ("collection tarball + collections,", "cryptography, passlib, pywinrm")),
        box(300, 50, 270, 200, "role", "exchange role (validate first)", (
            "1. plan: settings -> ONE validated plan", "   errors name the WUI field", "2. port_rules: ports vs each other",
            "   and vs what listens on the node", "3. certificate: every .pem/.pfx on", "   the controller, password never logged",
            "-- nothing changed so far --", "4. haproxy / stunnel / keepalived roles", "   render it; the daemon checks; reload")),
        box(300, 270, 270, 135, "role", "operation playbooks", ("services (Services tab), information", "backup / restore (Setup tab)",
                                                               "cas_maintenance (drain / ready)", "upgrade, factory_reset, preflight",
                                                               "exchange_static_ports (guide ch. 8)")),
        arrow(270, 105, 300, 105), arrow(270, 240, 300, 300), arrow(145, 305, 145, 325),
        # network side
        box(610, 50, 220, 60, "note", "Clients", ("Outlook (RPC, Anywhere), OWA, EAS,", "IMAP / POP3, SMTP")),
        box(600, 150, 240, 180, "node", "Appliance pair (Debian 12/13)", (
            "lb1 MASTER          lb2 BACKUP", "virtual service address (VRRP,", "  keepalived) moves on failure",
            "haproxy: every service, health", "  checks, persistence, stick tables", "  synced by peers", "stunnel (optional TLS engine)",
            "/metrics + stats on :8404", "")),
        box(880, 150, 220, 110, "ms", "Exchange 2010 CAS array", ("cas1 .. cas4: HTTP(s), IMAP, POP3,", "RPC: 135 + static ports",
                                                                  "  (60000 / 60001 by default)", "MSExchangeRPC, MSExchangeAB")),
        box(880, 280, 220, 60, "ms", "Hub Transport servers", ("hub1 .. hub4: SMTP 25 / 587",)),
        box(610, 380, 220, 70, "obs", "Prometheus + Grafana", ("scrapes each node's own address", "docs/grafana-dashboard.json")),
        arrow(720, 110, 720, 150, "virtual address", dx=45, dy=4),
        arrow(840, 200, 880, 200), arrow(840, 300, 880, 310),
        arrow(720, 380, 720, 330, "/metrics", dx=30, dy=4),
        arrow(570, 150, 600, 190, "SSH", dy=-2),
        arrow(570, 330, 600, 300),
        '<path d="M 570 390 C 760 520, 960 480, 990 340" fill="none" stroke="#c5221f" stroke-width="1.5" '
        'stroke-dasharray="6 4" marker-end="url(#a)"/>',
        '<text x="600" y="500" class="l" fill="#c5221f">exchange_static_ports over WinRM: registry / config file of each CAS</text>',
        # footer
        box(20, 480, 550, 190, "note", "One model, computed once", (
            "plugins/module_utils/_plan.py: the exchange role's variables in, one plan out:",
            "node, vrrp, peers; frontends (one per public port); backends (servers,",
            "balance, persistence, health check); stick tables; certificates, TLS",
            "tunnels; listeners (address:port + WUI field); packages.",
            "Templates only render it: loops and look-ups, no decisions.",
            "The static RPC ports are ONE pair of variables: the appliance balances",
            "them and exchange_static_ports sets them on every CAS.",
            "Bad input stops the run before anything changes.")),
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
