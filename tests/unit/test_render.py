"""Render tests: the daemon configurations the roles write, for a golden set of settings.

Each case of :data:`CASES` is the inventory of a two-node appliance (``lb1`` 10.0.0.11, ``lb2``
10.0.0.12) with :data:`BASE` and the case's changes as group variables. For the case's node the test
does what a run of the site playbook does on the controller, with Ansible's own templating:

1. ``exchange_settings`` templated from the exchange role's defaults and vars (and the inventory),
   then ``build_plan`` registered as ``exchange_plan.plan``;
2. for each of the haproxy, stunnel, keepalived and firewall roles: the ``vars`` and ``when`` of the
   exchange role's ``include_role`` task, over the role's defaults/main.yml and vars/main.yml;
3. the role's template rendered as ``ansible.builtin.template`` renders it (trim_blocks, "\\n").

The files are compared with ``tests/unit/files/golden/<case>/<file>``; a file the exchange role does
not write for a case (its ``include_role`` is skipped) must be absent there. Each file is also given
to its daemon's own check, as the role's ``validate:`` does on a node (``haproxy -c``, ``keepalived
--config-test``, ``nft -c``; stand-ins for the node's certificates, scripts and directories:
``daemon_checks.py``). Other tests check facts of each rendering that a reader can verify without
the goldens.

To (re)write the goldens on purpose, after a change that is meant to change the files::

    UPDATE_GOLDEN=1 python -m pytest -q tests/unit/test_render.py

and review ``git diff tests/unit/files/golden``. Without ``UPDATE_GOLDEN`` the goldens are only read.

Case keys are the exchange role's variables without ``exchange_``; a key naming another role's
variable (``keepalived_*``, ``firewall_*``, ...) is passed as it is. Reserved keys: ``node`` (the host
rendered, default ``lb1``) and a host name (``lb1``, ``lb2``) holding that host's own variables.
The admin password of the metrics cases is a throw-away test value, not a secret.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import ipaddress
import os
import re
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "unit" / "files" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN", "") not in ("", "0")

from ansible_templating import LOADER, load, magic_variables, role_variables  # noqa: E402  (installs Ansible's collection loader)
from ansible import constants as C  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402
from ansible_collections.exchange_lb.appliance.plugins.module_utils._pairs import plan_in_inventory  # noqa: E402
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan_model import (  # noqa: E402
    HA_ROLES,
    HTTP_MODES,
    MAIL_MODES,
    RPC_MODES,
    TLS_ENGINES,
)
from plan_settings import BASE as PLAN_BASE  # noqa: E402
import daemon_checks  # noqa: E402


#: Where Ansible connects from (SSH_CONNECTION on the node): the firewall must let it in.
CONTROLLER = "10.0.0.5"
#: The inventory's hosts and their addresses (exchange_network_address, ansible_host).
NODES: dict[str, str] = {"lb1": "10.0.0.11", "lb2": "10.0.0.12"}
#: The roles whose configuration is rendered, and the template each one writes.
TEMPLATES: dict[str, str] = {
    "haproxy": "haproxy.cfg.j2",
    "stunnel": "exchange-lb.conf.j2",
    "keepalived": "keepalived.conf.j2",
    "firewall": "exchange-lb.nft.j2",
}
FILES = {role: src.removesuffix(".j2") for role, src in TEMPLATES.items()}
ROLE_PREFIXES = tuple(f"{role}_" for role in (*TEMPLATES, "node_metrics"))

#: Group variables of every case: the plan tests' settings, each node with its own address.
BASE: dict[str, t.Any] = {key: value for key, value in PLAN_BASE.items() if key != "network_address"}
#: Only the named mail service: no HTTP, no RPC.
MAIL_ONLY: dict[str, t.Any] = {"http_mode": "disabled", "rpc_mode": "disabled"}
#: A pair as the lab's inventory declares one: lb1 master, lb2 backup, one virtual address.
PAIR: dict[str, t.Any] = {
    "virtual_service_address": "10.0.0.10",
    "cluster_identifier": 10,
    "lb1": {"ha_role": "master"},
    "lb2": {"ha_role": "backup"},
}
METRICS: dict[str, t.Any] = {"admin_password": "render-test-only", "node_metrics": True}
SNI: dict[str, t.Any] = {
    "http_additional_certificates": [
        {"certificate": "/etc/ssl/legacy.pfx", "host_name": "legacy.mydomain.local", "password": ""},
        {"certificate": "/etc/ssl/autodiscover.pfx", "host_name": "autodiscover.mydomain.local", "password": ""},
    ],
}

CASES: dict[str, dict[str, t.Any]] = {
    # HTTP(s), Exchange 2010 (the guide) unless named
    "guide-defaults": {},
    "http-ssl-offload-haproxy": {"rpc_mode": "disabled", "http_exchange_control_panel": False},
    "http-ssl-offload-stunnel": {"tls_engine": "stunnel"},
    "http-ssl-offload-sni-haproxy": {**SNI, "rpc_mode": "disabled"},
    "http-ssl-offload-sni-stunnel": {**SNI, "rpc_mode": "disabled", "tls_engine": "stunnel"},
    "http-ssl-offload-exchange-2016": {"version": "2016", "rpc_mode": "disabled", "http_mapi_over_http": False},
    "http-ssl-forward": {"http_mode": "ssl-forward", "rpc_mode": "disabled"},
    "http-ssl-forward-stunnel": {"http_mode": "ssl-forward", "rpc_mode": "disabled", "tls_engine": "stunnel"},
    "http-clear": {"http_mode": "clear", "rpc_mode": "disabled"},
    "http-ssl-bridge-haproxy": {"http_mode": "ssl-bridge", "rpc_mode": "disabled"},
    "http-ssl-bridge-stunnel": {"http_mode": "ssl-bridge", "rpc_mode": "disabled", "tls_engine": "stunnel"},
    "http-ssl-bridge-verified": {"http_mode": "ssl-bridge", "rpc_mode": "disabled", "http_cas_ca_certificate": "/etc/ssl/cas-ca.pem"},
    "http-custom-ports-timeouts": {
        "http_virtual_https_port": 8443, "http_redirect_port": 8080, "http_cas_http_port": 8081,
        "http_timeout": 40, "http_long_poll_timeout": 1800, "health_check_interval_ms": 3000, "health_check_timeout_ms": 500,
    },
    # IMAP, POP3, SMTP: each mode alone
    **{
        f"{service}-{mode.replace(' and ', '-and-')}": {**MAIL_ONLY, f"{service}_mode": mode}
        for service in ("imap", "pop3", "smtp")
        for mode in MAIL_MODES
        if mode != "disabled"
    },
    "mail-ssl-offload-stunnel": {
        **MAIL_ONLY, "tls_engine": "stunnel", "tls_min_version": "TLSv1.0",
        "imap_mode": "clear and ssl-offload", "pop3_mode": "ssl-offload", "smtp_mode": "clear and ssl-offload",
    },
    # RPC (Exchange 2010)
    "rpc-enabled": {"http_mode": "disabled"},
    "rpc-disabled": {"rpc_mode": "disabled"},
    "rpc-custom-ports": {"http_mode": "disabled", "rpc_access_point_port": 59531, "rpc_address_book_port": 59532, "rpc_connection_timeout": 7200},
    # High availability
    "ha-pair-master": {**PAIR},
    "ha-pair-backup": {**PAIR, "node": "lb2"},
    "ha-pair-master-stunnel-metrics": {**PAIR, **METRICS, "tls_engine": "stunnel", "imap_mode": "ssl-offload"},
    "ha-pair-backup-unicast-nopreempt": {**PAIR, "node": "lb2", "keepalived_unicast": True, "keepalived_preempt": False},
    # Firewall and the node's own services
    "firewall-admin-networks": {"admin_networks": ["10.0.0.0/28", "192.168.10.0/24"], "ssh_port": 2222},
    # nft refuses overlapping intervals in one set: the covered networks are left out (nft -c proves it)
    "firewall-admin-networks-overlapping": {"admin_networks": ["10.0.0.0/24", "10.0.0.0/8", "192.168.10.0/24", "192.168.10.0/24"]},
    "firewall-off": {"firewall": False},
    "firewall-no-drop-log": {"firewall_log_drops_per_minute": 0},
    "node-metrics": {**METRICS},
    "stats-only": {"admin_password": "render-test-only", "stats_port": 9443},
}


# --- rendering as the roles do ------------------------------------------------------------------


@functools.cache
def template_source(role: str) -> str:
    return t.cast(str, trust_as_template((ROOT / "roles" / role / "templates" / TEMPLATES[role]).read_text(encoding="utf-8")))


def _tasks(tasks: t.Iterable[dict[str, t.Any]]) -> t.Iterator[dict[str, t.Any]]:
    """Every task, those inside blocks (and their rescue) too."""
    for task in tasks:
        yield task
        for part in ("block", "rescue", "always"):
            yield from _tasks(task.get(part, []))


@functools.cache
def include_task(role: str) -> dict[str, t.Any]:
    """The exchange role's task that stages ``role``'s files with the plan (its ``vars`` and ``when``):
    the files are rendered there, into the stage, and checked before they are put in place."""
    tasks = [
        task for task in _tasks(load("roles/exchange/tasks/main.yml"))
        if task.get("ansible.builtin.include_role", {}).get("name") == f"exchange_lb.appliance.{role}"
        and task["ansible.builtin.include_role"].get("tasks_from") == "stage"
    ]
    assert len(tasks) == 1, f"one include_role of {role} with tasks_from: stage expected in the exchange role"
    return t.cast(dict[str, t.Any], tasks[0])


def variable(key: str) -> str:
    return key if key.startswith(ROLE_PREFIXES) else f"exchange_{key}"


def inventory(case: str, host: str) -> dict[str, t.Any]:
    """The host's inventory variables (group, then host) and the magic variables Ansible adds."""
    changes = {**BASE, **CASES[case]}
    group = {variable(k): v for k, v in changes.items() if k != "node" and k not in NODES}
    own = {variable(k): v for k, v in changes.get(host, {}).items()}
    address = NODES[host]
    facts = {
        "interfaces": ["lo", "eth0"],
        "default_ipv4": {"address": address, "interface": "eth0"},
        "eth0": {"device": "eth0", "ipv4": {"address": address, "netmask": "255.255.255.0"}},
        "lo": {"device": "lo", "ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}},
    }
    return {
        "ansible_host": address, "exchange_network_address": address, **group, **own,
        "inventory_hostname": host, "inventory_hostname_short": host, "ansible_facts": facts,
    }


@dataclasses.dataclass(frozen=True)
class Rendering:
    case: str
    node: str
    settings: dict[str, t.Any]
    plan: dict[str, t.Any]
    files: dict[str, str]  # golden file name -> text, only the files the exchange role writes


@functools.cache
def render(case: str) -> Rendering:
    """The case's node: its settings, its plan, and the files of the roles that apply (one Templar)."""
    node = CASES[case].get("node", "lb1")
    roles = ("exchange", *TEMPLATES)
    variables = role_variables(roles, inventory(case, node))
    # hostvars: inventory and facts, not role variables
    variables.update(magic_variables({host: inventory(case, host) for host in NODES}))
    variables.update(ansible_check_mode=False, ansible_managed=C.config.get_config_value("DEFAULT_MANAGED_STR"))
    templar = Templar(loader=LOADER, variables=variables)
    settings = t.cast(dict[str, t.Any], templar.template(variables["exchange_settings"]))
    # what the plan action does, with the play's hostvars
    plan = plan_in_inventory(settings, CONTROLLER, variables["hostvars"], own=node).as_dict()
    variables["exchange_plan"] = {"plan": plan, "settings": settings}
    for role in TEMPLATES:  # the include_role's vars: above the role's own
        variables.update(include_task(role).get("vars", {}))
    templar.available_variables = variables
    files = {}
    for role in TEMPLATES:
        when = include_task(role).get("when", [])
        if all(templar.evaluate_conditional(condition) for condition in (when if isinstance(when, list) else [when])):
            files[FILES[role]] = t.cast(
                str,
                templar.template(
                    template_source(role), escape_backslashes=False,
                    overrides={"trim_blocks": True, "lstrip_blocks": False, "newline_sequence": "\n"},
                ),
            )
    return Rendering(case=case, node=node, settings=settings, plan=plan, files=files)


# --- the goldens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_rendered_files_match_the_golden_files(case: str) -> None:
    rendering = render(case)
    directory = GOLDEN / case
    if UPDATE:
        directory.mkdir(parents=True, exist_ok=True)
        for name in FILES.values():
            if name in rendering.files:
                (directory / name).write_text(rendering.files[name], encoding="utf-8")
            else:
                (directory / name).unlink(missing_ok=True)
    for name in FILES.values():
        golden = directory / name
        if name not in rendering.files:
            assert not golden.exists(), f"{case}: the role does not write {name}, yet {golden.relative_to(ROOT)} exists"
            continue
        assert golden.exists(), f"{case}: no golden {golden.relative_to(ROOT)} (UPDATE_GOLDEN=1 writes it)"
        expected = golden.read_text(encoding="utf-8")
        actual = rendering.files[name]
        if actual != expected:
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                    fromfile=str(golden.relative_to(ROOT)), tofile=f"rendered {name}",
                )
            )
            pytest.fail(f"{case}: {name} differs from its golden (UPDATE_GOLDEN=1 rewrites it on purpose):\n{diff}")


def test_every_golden_directory_is_a_case() -> None:
    stale = sorted(path.name for path in GOLDEN.iterdir() if path.name not in CASES) if GOLDEN.exists() else []
    assert not stale, f"golden directories of no case: {', '.join(stale)}"


def test_the_cases_cover_every_mode_of_every_service() -> None:
    settings = [render(case).settings for case in CASES]

    def values(key: str) -> set[t.Any]:
        return {entry[key] for entry in settings}

    assert values("http_mode") == set(HTTP_MODES)
    for service in ("imap", "pop3", "smtp"):
        assert values(f"{service}_mode") == set(MAIL_MODES), service
    assert values("rpc_mode") == set(RPC_MODES)
    assert values("ha_role") == set(HA_ROLES)
    for mode in ("ssl-offload", "ssl-bridge"):  # TLS ends on the appliance: with both engines
        assert {entry["tls_engine"] for entry in settings if entry["http_mode"] == mode} == set(TLS_ENGINES), mode
    assert {entry["tls_engine"] for entry in settings if entry["imap_mode"].endswith("ssl-offload")} == set(TLS_ENGINES)


# --- facts a reader can check without the goldens --------------------------------------------------


def listeners(rendering: Rendering) -> set[tuple[str, int]]:
    return {(item["address"], item["port"]) for item in rendering.plan["listeners"]}


def ends_tls(settings: dict[str, t.Any]) -> bool:
    """Some TLS listener ends on the appliance (a certificate is installed on it)."""
    mail = (settings[f"{service}_mode"] for service in ("imap", "pop3", "smtp"))
    return settings["http_mode"] in ("ssl-offload", "ssl-bridge") or any(mode.endswith("ssl-offload") for mode in mail)


@pytest.mark.parametrize("case", CASES)
def test_which_files_are_written(case: str) -> None:
    rendering = render(case)
    settings = rendering.settings
    assert FILES["haproxy"] in rendering.files
    assert (FILES["stunnel"] in rendering.files) == (settings["tls_engine"] == "stunnel" and ends_tls(settings))
    assert (FILES["keepalived"] in rendering.files) == (settings["ha_role"] != "disabled")
    assert (FILES["firewall"] in rendering.files) == bool(settings["firewall"])
    for name, text in rendering.files.items():
        assert "{{" not in text and "{%" not in text and "None" not in text, f"{name}: a template leftover"
        assert text.endswith("\n") and not text.endswith("\n\n"), name


@pytest.mark.parametrize("case", CASES)
def test_haproxy_binds_the_plan_listeners_and_uses_its_own_backends(case: str) -> None:
    rendering = render(case)
    text = rendering.files[FILES["haproxy"]]
    binds = re.findall(r"^    bind (\S+):(\d+)(.*)$", text, re.M)
    bound = {(address, int(port)) for address, port, _rest in binds}
    assert binds and bound <= listeners(rendering), "a bind of no listener of the plan"
    planned = {(bind["address"], bind["port"]) for frontend in rendering.plan["frontends"] for bind in frontend["binds"]}
    stats = rendering.plan["stats"]
    assert bound == planned | ({(stats["address"], stats["port"])} if stats else set())
    if rendering.settings["tls_engine"] == "haproxy":
        assert not any("accept-proxy" in rest for _a, _p, rest in binds)
        tls = {(bind["address"], bind["port"]) for f in rendering.plan["frontends"] for bind in f["binds"] if bind["certificate"]}
        assert {(address, int(port)) for address, port, rest in binds if rest.startswith(" ssl crt ")} == tls
    else:
        assert not any(" ssl " in rest for _a, _p, rest in binds), "stunnel ends TLS, not haproxy"
    services = rendering.plan["vrrp"]["virtual_address"] if rendering.plan["vrrp"] else NODES[rendering.node]
    for address, port, rest in binds:  # the services on the virtual address, stats on the node's own
        if stats and (address, int(port)) == (stats["address"], stats["port"]):
            expected = NODES[rendering.node]
        else:
            expected = "127.0.0.1" if "accept-proxy" in rest else services
        assert address == expected, f"bind {address}:{port}"
    backends = set(re.findall(r"^backend (\S+)$", text, re.M))
    used = set(re.findall(r"^    (?:use_backend|default_backend) (\S+)", text, re.M))
    assert used <= backends
    tables = set(re.findall(r"table (\S+)$", text, re.M))
    assert tables <= backends
    servers = {entry["address"] for entry in rendering.settings["cas_servers"] + rendering.settings["hub_servers"]}
    assert set(re.findall(r"^    server \S+ ([\d.]+):\d+", text, re.M)) <= servers
    assert len(re.findall(r"^frontend ", text, re.M)) == len(rendering.plan["frontends"]) + bool(rendering.plan["stats"])
    assert ("userlist exlb_admins" in text) == bool(rendering.settings["stats_enabled"])


@pytest.mark.parametrize("case", [case for case in CASES if FILES["stunnel"] in render(case).files])
def test_stunnel_hands_each_tls_listener_to_a_haproxy_bind_with_proxy(case: str) -> None:
    rendering = render(case)
    text = rendering.files[FILES["stunnel"]]
    haproxy = rendering.files[FILES["haproxy"]]
    accepts = re.findall(r"^accept = (\S+):(\d+)$", text, re.M)
    assert accepts and {(address, int(port)) for address, port in accepts} <= listeners(rendering)
    for port in set(re.findall(r"^connect = 127\.0\.0\.1:(\d+)$", text, re.M)):
        assert re.search(rf"^    bind 127\.0\.0\.1:{port} accept-proxy ", haproxy, re.M), port
    assert set(re.findall(r"^sslVersionMin = (\S+)$", text, re.M)) == {rendering.settings["tls_min_version"]}


@pytest.mark.parametrize("case", [case for case in CASES if FILES["keepalived"] in render(case).files])
def test_keepalived_holds_the_virtual_address_on_the_node_interface(case: str) -> None:
    rendering = render(case)
    text = rendering.files[FILES["keepalived"]]
    settings = rendering.settings
    assert f"        {settings['virtual_service_address']}/24 dev eth0\n" in text
    assert f"    virtual_router_id {settings['cluster_identifier']}\n" in text
    assert f"    priority {150 if settings['ha_role'] == 'master' else 100}\n" in text
    preempt = CASES[case].get("keepalived_preempt", True)
    assert f"    state {settings['ha_role'].upper() if preempt else 'BACKUP'}\n" in text
    assert ("nopreempt" in text) == (not preempt)
    tracked = {"haproxy"} | ({"stunnel"} if FILES["stunnel"] in rendering.files else set())
    assert set(re.findall(r"^vrrp_script track_(\S+) \{$", text, re.M)) == tracked
    unicast = bool(CASES[case].get("keepalived_unicast"))
    assert ("unicast_peer {" in text) == unicast
    if unicast:  # to the other node of the pair, from this one
        assert f"    unicast_src_ip {NODES[rendering.node]}\n" in text
        assert all(f"        {address}\n" in text for host, address in NODES.items() if host != rendering.node)


@pytest.mark.parametrize("case", [case for case in CASES if FILES["firewall"] in render(case).files])
def test_the_firewall_opens_every_public_listener_and_admin_networks(case: str) -> None:
    rendering = render(case)
    text = rendering.files[FILES["firewall"]]
    settings = rendering.settings
    node = NODES[rendering.node]
    given = [ipaddress.IPv4Network(n, strict=False) for n in dict.fromkeys(settings["admin_networks"] or [f"{node}/24"])]
    admin = [str(n) for n in given if not any(n != other and n.subnet_of(other) for other in given)]  # nft: no overlaps
    assert f"        elements = {{ {', '.join(admin)} }}\n" in text
    assert f"        ip saddr @admin_networks tcp dport {settings['ssh_port']} accept\n" in text
    opened = {(address, int(port)) for address, port in re.findall(r"ip daddr (\S+) tcp dport (\d+) accept", text)}
    assert opened == {(a, p) for a, p in listeners(rendering) if not a.startswith("127.")}
    assert ("ip protocol vrrp accept" in text) == (settings["ha_role"] != "disabled")
    assert ("log prefix" in text) == (CASES[case].get("firewall_log_drops_per_minute", 10) > 0)


# --- the daemons' own checks ----------------------------------------------------------------------

#: Each file of each case that a daemon's check reads: (case, role), named ``<case>/<file>``.
CHECKED = [
    pytest.param(case, role, id=f"{case}/{FILES[role]}")
    for case in CASES
    for role in daemon_checks.CHECKERS
    if FILES[role] in render(case).files
]


def node_interfaces(case: str) -> list[str]:
    """The network interfaces of the case's node (its facts), but the loopback every namespace has."""
    facts = inventory(case, CASES[case].get("node", "lb1"))["ansible_facts"]
    return [name for name in facts["interfaces"] if name != "lo"]


@pytest.fixture(scope="module", name="daemon_check_runs")
def fixture_daemon_check_runs(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[dict[tuple[str, str], Future[daemon_checks.Outcome]]]:
    """Every check of :data:`CHECKED` this host can run, all started at once: a check is a short
    process that mostly waits, a few at a time keep the unit tier fast. The checked copies (with
    their stand-ins) stay in pytest's temporary directory, named in a failure's command."""
    base = tmp_path_factory.mktemp("checks")  # short: a UNIX socket's path must fit in 107 bytes
    runs: dict[tuple[str, str], Future[daemon_checks.Outcome]] = {}
    with ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 1))) as pool:
        for index, param in enumerate(CHECKED):
            case, role = t.cast(tuple[str, str], param.values)
            if daemon_checks.unavailable(role) is None:
                path = daemon_checks.prepare(render(case).files[FILES[role]], FILES[role], base / f"{index:03d}-{role}")
                runs[case, role] = pool.submit(daemon_checks.run, role, path, node_interfaces(case))
        yield runs


@pytest.mark.parametrize(("case", "role"), CHECKED)
def test_the_daemon_accepts_the_rendered_file(case: str, role: str, daemon_check_runs: dict[tuple[str, str], Future[daemon_checks.Outcome]]) -> None:
    """haproxy.cfg, keepalived.conf and exchange-lb.nft pass their daemon's check as on a node.

    stunnel's exchange-lb.conf is not checked here: stunnel has no check-only switch, and the stunnel
    role's check (roles/stunnel/files/exlb-stunnel-check) starts stunnel4 on the file in a private
    network namespace that holds the accept addresses, where it loads the certificates and binds
    every service; it needs a network namespace of its own and binds ports, which the unit tier
    does not do. The molecule scenarios with ``exchange_tls_engine: stunnel`` run it on a node.

    A checker this host lacks (``make deps`` installs them), or keepalived's run by a user other than
    root (its script security), fails the test where the environment variable CI is set and skips it
    elsewhere.
    """
    reason = daemon_checks.unavailable(role)
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{case}: {FILES[role]} cannot be checked: {reason}")
        pytest.skip(reason)
    outcome = daemon_check_runs[case, role].result()
    if outcome.returncode != 0:
        pytest.fail(
            f"{case}: {FILES[role]} refused by {daemon_checks.CHECKERS[role].package}'s check (exit {outcome.returncode}):\n"
            f"$ {outcome.command}\n{outcome.output}"
        )
