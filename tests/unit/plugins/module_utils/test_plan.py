"""The appliance plan: settings in, one validated plan out, for every mode of every service."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import (
    DEFAULTS,
    MAIL_MODES,
    PlanError,
    build_plan,
)
from plan_settings import BASE


def plan_for(**changes: t.Any) -> dict[str, t.Any]:
    return build_plan({**BASE, **changes}).as_dict()


def frontends(plan: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    return {f["name"]: f for f in plan["frontends"]}


def backends(plan: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    return {b["name"]: b for b in plan["backends"]}


def binds(plan: dict[str, t.Any]) -> dict[int, dict[str, t.Any]]:
    return {b["port"]: b for f in plan["frontends"] for b in f["binds"]}


# --- defaults are the guide's ------------------------------------------------------


def test_the_guide_defaults_give_https_offload_redirect_and_rpc() -> None:
    plan = plan_for()
    assert set(frontends(plan)) == {"ft_https", "ft_http_redirect", "ft_rpc_epm", "ft_rpc_ca", "ft_rpc_ab"}
    assert binds(plan)[443]["certificate"] == "/etc/exchange-lb/tls/http.pem"
    assert frontends(plan)["ft_http_redirect"]["https_redirect"] == "mail.mydomain.local"
    assert {(b["address"], b["port"]) for b in plan["listeners"]} == {
        ("10.0.0.11", 443), ("10.0.0.11", 80), ("10.0.0.11", 135), ("10.0.0.11", 60000), ("10.0.0.11", 60001),
        ("127.0.0.1", 10000),  # its own peer: stickiness survives a reload
    }
    assert plan["vrrp"] is None and plan["peers"] == [{"name": "local", "address": "127.0.0.1", "port": 10000}]
    assert plan["local_peer"] == "local"
    assert not any(r["port"] == 10000 for r in plan["firewall"]["rules"])
    assert [c["service"] for c in plan["certificates"]] == ["http"]


def test_defaults_table_matches_the_guide() -> None:
    assert DEFAULTS["http_mode"] == "ssl-offload"
    assert (DEFAULTS["http_virtual_https_port"], DEFAULTS["http_redirect_port"]) == (443, 80)
    assert (DEFAULTS["imap_mode"], DEFAULTS["pop3_mode"], DEFAULTS["smtp_mode"]) == ("disabled",) * 3
    assert (DEFAULTS["rpc_access_point_port"], DEFAULTS["rpc_address_book_port"]) == (60000, 60001)
    assert all(DEFAULTS[f"{svc}_timeout"] == 25 for svc in ("http", "imap", "pop3", "rpc", "smtp"))


# --- HTTP(s) ---------------------------------------------------------------------------


def test_ssl_offload_routes_each_service_with_the_guide_persistence() -> None:
    plan = plan_for()
    routes = {r["key"]: r for r in frontends(plan)["ft_https"]["routes"]}
    assert routes["owa"]["backend"] == routes["ecp"]["backend"] == "bk_owa"  # OWA and ECP share one state
    bk = backends(plan)
    assert bk["bk_owa"]["persistence"]["kind"] == "cookie"
    assert bk["bk_ews"]["persistence"]["kind"] == "cookie"
    assert bk["bk_activesync"]["persistence"] == {"kind": "header", "cookie": "", "header": "Authorization", "table": "st_eas"}
    assert bk["bk_outlook_anywhere"]["persistence"]["kind"] == "source"
    assert bk["bk_http"]["persistence"] is None  # Autodiscover and OAB need none
    assert all(s["port"] == 80 for s in bk["bk_owa"]["servers"])
    assert frontends(plan)["ft_https"]["root_redirect"] == "/owa/"
    assert frontends(plan)["ft_https"]["forwarded_proto"] == "https"


def test_long_polls_outlive_the_guide_timeout_but_ordinary_requests_do_not() -> None:
    bk = backends(plan_for(http_timeout=25, http_long_poll_timeout=1800))
    assert bk["bk_activesync"]["timeout_server_s"] == 1800
    assert bk["bk_outlook_anywhere"]["timeout_server_s"] == 1800
    assert bk["bk_owa"]["timeout_server_s"] == 25


def test_a_disabled_web_service_keeps_its_route_as_a_refusal() -> None:
    plan = plan_for(http_services={"ecp": False, "owa": "disabled"})
    routes = {r["key"]: r for r in frontends(plan)["ft_https"]["routes"]}
    assert routes["ecp"]["enabled"] is False and routes["owa"]["enabled"] is False
    assert routes["ews"]["enabled"] is True


def test_ssl_forward_passes_tls_through_with_source_persistence() -> None:
    plan = plan_for(http_mode="ssl-forward", http_cas_https_port=8443)
    fe = frontends(plan)["ft_https_forward"]
    assert fe["mode"] == "tcp" and fe["binds"][0]["certificate"] == ""
    bk = backends(plan)["bk_https_forward"]
    assert [s["port"] for s in bk["servers"]] == [8443, 8443]
    assert all(s["check_ssl"] for s in bk["servers"])
    assert bk["persistence"]["kind"] == "source"
    assert plan["certificates"] == []


def test_https_redirect_names_a_custom_port() -> None:
    plan = plan_for(http_virtual_https_port=8443)
    assert frontends(plan)["ft_http_redirect"]["https_redirect"] == "mail.mydomain.local:8443"


def test_clear_http_is_plain_on_the_redirect_port() -> None:
    plan = plan_for(http_mode="clear")
    assert set(frontends(plan)) >= {"ft_http"} and "ft_http_redirect" not in frontends(plan)
    assert binds(plan)[80]["certificate"] == ""


def test_disabled_http_has_no_listener() -> None:
    plan = plan_for(http_mode="disabled")
    assert not any(f["service"] == "HTTP(s) Service" for f in plan["frontends"])


# --- IMAP(s), POP3(s), SMTP(s): the six modes ---------------------------------------

MAIL = {
    "imap": ("CAS", 143, 993, "^[*] OK"),
    "pop3": ("CAS", 110, 995, "^[+]OK"),
    "smtp": ("HUB", 25, 587, "^220 "),
}

EXPECTED_PORTS = {
    # mode: [(virtual port kind, server port kind, TLS ends here, check over TLS)]
    "disabled": [],
    "clear": [("clear", "clear", False)],
    "ssl-forward": [("tls", "tls", False)],
    "ssl-offload": [("tls", "clear", True)],
    "clear and ssl-forward": [("clear", "clear", False), ("tls", "tls", False)],
    "clear and ssl-offload": [("clear", "clear", False), ("tls", "clear", True)],
}


@pytest.mark.parametrize("service", sorted(MAIL))
@pytest.mark.parametrize("mode", MAIL_MODES)
def test_every_mail_mode(service: str, mode: str) -> None:
    letters, clear_port, tls_port, banner = MAIL[service]
    plan = plan_for(**{f"{service}_mode": mode, "rpc_mode": "disabled", "http_mode": "disabled"})
    fe = {f["name"]: f for f in plan["frontends"] if f["name"].startswith(f"ft_{service}")}
    bk = {b["name"]: b for b in plan["backends"] if b["name"].startswith(f"bk_{service}")}
    expected = EXPECTED_PORTS[mode]
    assert len(fe) == len(bk) == len(expected)
    ports = {"clear": clear_port, "tls": tls_port}
    for virtual, server, terminates in expected:
        name = f"{service}s" if virtual == "tls" else service
        bind = fe[f"ft_{name}"]["binds"][0]
        assert bind["port"] == ports[virtual]
        assert bool(bind["certificate"]) is terminates
        backend = bk[f"bk_{name}"]
        assert {s["port"] for s in backend["servers"]} == {ports[server]}
        assert backend["check"]["kind"] == "banner" and backend["check"]["steps"][0] == ["", banner]
        # IMAPs/POP3s speak TLS at once: checks use TLS when the traffic is forwarded untouched
        forwarded_tls = virtual == "tls" and server == "tls"
        assert all(s["check_ssl"] == (forwarded_tls and service != "smtp") for s in backend["servers"])
        expected_servers = ["hub1", "hub2"] if letters == "HUB" else ["cas1", "cas2"]
        assert [s["name"] for s in backend["servers"]] == expected_servers
    assert [c["service"] for c in plan["certificates"]] == ([service] if "offload" in mode else [])


def test_stunnel_engine_ends_tls_in_stunnel_and_hands_over_with_proxy_protocol() -> None:
    plan = plan_for(tls_engine="stunnel", imap_mode="clear and ssl-offload")
    tunnels = {t["name"]: t for t in plan["tls_tunnels"]}
    assert set(tunnels) == {"https", "imaps"}
    assert (tunnels["imaps"]["accept_address"], tunnels["imaps"]["accept_port"]) == ("10.0.0.11", 993)
    internal = binds(plan)[tunnels["imaps"]["connect_port"]]
    assert internal["address"] == "127.0.0.1" and internal["accept_proxy"] and not internal["certificate"]
    assert 993 not in binds(plan)  # haproxy itself does not open the public TLS port


# --- RPC -------------------------------------------------------------------------------


def test_rpc_shares_one_stickiness_and_one_check_across_the_three_ports() -> None:
    plan = plan_for()
    bk = backends(plan)
    tables = {bk[name]["persistence"]["table"] for name in ("bk_rpc_epm", "bk_rpc_ca", "bk_rpc_ab")}
    assert tables == {"st_src"}
    assert bk["bk_rpc_epm"]["check"] == {**bk["bk_rpc_epm"]["check"], "kind": "rpc", "ports": [135, 60000, 60001]}
    assert [s["track"] for s in bk["bk_rpc_ca"]["servers"]] == ["bk_rpc_epm/cas1", "bk_rpc_epm/cas2"]
    ids = {name: [s["id"] for s in bk[name]["servers"]] for name in ("bk_rpc_epm", "bk_rpc_ca", "bk_rpc_ab")}
    assert len({tuple(v) for v in ids.values()}) == 1  # same server ids: a shared table means the same CAS
    assert all(bk[name]["shutdown_sessions_on_down"] for name in ("bk_rpc_epm", "bk_rpc_ca", "bk_rpc_ab"))


def test_rpc_disabled_opens_nothing() -> None:
    plan = plan_for(rpc_mode="disabled")
    assert not any(f["name"].startswith("ft_rpc") for f in plan["frontends"])


# --- high availability ---------------------------------------------------------------


def test_a_pair_listens_on_the_virtual_address_and_syncs_stickiness() -> None:
    plan = plan_for(
        ha_role="backup",
        virtual_service_address="10.0.0.10",
        cluster_identifier=77,
        network_hostname="lb2",
        peers=[{"name": "lb1", "address": "10.0.0.12"}, {"name": "lb2", "address": "10.0.0.11"}],
    )
    assert plan["bind_address"] == "10.0.0.10"
    assert plan["vrrp"] == {"role": "backup", "virtual_address": "10.0.0.10", "prefix": 24, "router_id": 77, "priority": 100}
    assert binds(plan)[443]["address"] == "10.0.0.10"
    assert [p["name"] for p in plan["peers"]] == ["lb1", "lb2"]
    assert any(listening["port"] == 10000 and listening["address"] == "10.0.0.11" for listening in plan["listeners"])


def test_netmask_as_prefix_length_and_routes() -> None:
    plan = plan_for(
        network_netmask="/16",
        network_gateway="10.0.0.1",
        network_vlan_id=42,
        network_static_routes=[{"network": "192.168.10.0", "netmask": "255.255.255.0", "router": "10.0.0.254"}],
    )
    assert plan["node"]["prefix"] == 16
    assert plan["node"]["vlan_id"] == 42
    assert plan["node"]["routes"] == [["192.168.10.0/24", "10.0.0.254"]]
    # the same rules as the network role and the wizard (one parser, _netcfg)
    with pytest.raises(PlanError, match=r"Static Routes › Route 1 › Router: 10.9.0.1 is not in the node's subnet 10.0.0.0/24"):
        build_plan({**BASE, "network_static_routes": [{"network": "172.16.0.0", "netmask": "12", "router": "10.9.0.1"}]})
    with pytest.raises(PlanError, match=r"Route 1 › Network: 172.16.0.1 has host bits set for netmask /12"):
        build_plan({**BASE, "network_static_routes": [{"network": "172.16.0.1", "netmask": "12", "router": "10.0.0.1"}]})


# --- bad settings: the error names the WUI field ---------------------------------------

BAD: list[tuple[dict[str, t.Any], str, str]] = [
    ({"cas_servers": []}, "CAS Servers", "at least one CAS server"),
    ({"cas_servers": [{"address": "10.0.0.15"}, {"address": "10.0.0.300"}]}, "CAS Servers › CAS2 Address", "not an IPv4"),
    ({"cas_servers": ["10.0.0.15", "10.0.0.15"]}, "CAS Servers › CAS2 Address", "already CAS Servers › CAS1 Address"),
    ({"network_address": "lb1.example"}, "Network › Address", "not an IPv4"),
    ({"network_netmask": "255.0.255.0"}, "Network › Netmask", "not a netmask"),
    ({"network_gateway": "192.168.1.1"}, "Network › Gateway", "not in the node's subnet"),
    ({"network_vlan_id": 4095}, "Network › vLAN Identifier", "out of range"),
    ({"network_hostname": "lb_1"}, "Network › Hostname", "not a valid host name"),
    ({"http_mode": "ssl-everything"}, "HTTP(s) Service", "unknown value"),
    ({"http_redirect_port": 0}, "HTTP(s) Service › Redirect HTTP port", "out of range"),
    ({"http_redirect_port": "eighty"}, "HTTP(s) Service › Redirect HTTP port", "not a TCP port"),
    ({"http_cas_http_port": 70000}, "HTTP(s) Service › CAS Servers HTTP port", "out of range"),
    ({"http_timeout": 0}, "HTTP(s) Service › Timeout", "out of range"),
    ({"http_host_name": "mail"}, "HTTP(s) Service › Host Name", "not a fully qualified"),
    ({"http_certificate": ""}, "HTTP(s) Service › Certificate .pfx or .pem", "needs a certificate"),
    ({"http_services": {"owa": "maybe"}}, "HTTP(s) Service › Outlook Web App", "neither enabled nor disabled"),
    ({"http_services": {"webmail": True}}, "HTTP(s) Service › HTTP and Web Services", "unknown service"),
    ({"http_redirect_port": 443}, "HTTP(s) Service › Redirect HTTP port", "443 is already used by HTTP(s) Service › Virtual Service HTTPs port"),
    (
        {"imap_mode": "ssl-forward", "http_virtual_https_port": 993},
        "IMAP(s) Service › Virtual Service IMAPs port",
        "993 is already used by HTTP(s) Service › Virtual Service HTTPs port",
    ),
    ({"imap_mode": "clear", "imap_virtual_port": 80}, "IMAP(s) Service › Virtual Service IMAP port", "already used by HTTP(s) Service › Redirect HTTP port"),
    ({"pop3_mode": "ssl-offload", "pop3_certificate": ""}, "POP3(s) Service › Certificate .pfx or .pem", "needs a certificate"),
    ({"pop3_mode": "clear", "pop3_timeout": -1}, "POP3(s) Service › Timeout", "out of range"),
    ({"rpc_access_point_port": 60001}, "RPC Services › Address Book port", "must differ"),
    ({"rpc_access_point_port": 135, "rpc_ports_outside_range_reason": "legacy"}, "RPC Services › Access Point port", "endpoint mapper"),
    ({"rpc_address_book_port": 6001}, "RPC Services › Address Book port", "59531-60554"),
    ({"rpc_mode": "on"}, "RPC Services", "unknown value"),
    ({"smtp_mode": "clear", "hub_servers": []}, "SMTP(s) Service › HUB Servers", "at least one HUB server"),
    ({"smtp_mode": "clear", "hub_servers": ["10.0.0.21", "x"]}, "SMTP(s) Service › HUB Servers › HUB2 Address", "not an IPv4"),
    ({"smtp_mode": "clear", "smtp_virtual_port": 135}, "SMTP(s) Service › Virtual Service SMTP port", "RPC Services › Endpoint Mapper port"),
    ({"ha_role": "primary"}, "High Availability › Role", "unknown value"),
    ({"ha_role": "master", "virtual_service_address": "10.0.1.10"}, "High Availability › Virtual Service Address", "not in the node's subnet"),
    ({"ha_role": "master", "virtual_service_address": "10.0.0.11"}, "High Availability › Virtual Service Address", "node's own address"),
    ({"ha_role": "master", "virtual_service_address": "10.0.0.10", "cluster_identifier": 256}, "High Availability › Cluster Identifier", "out of range"),
    ({"ha_role": "master", "virtual_service_address": ""}, "High Availability › Virtual Service Address", "required"),
    ({"tls_engine": "nginx"}, "TLS engine (exchange_tls_engine)", "unknown value"),
    ({"http_redirect_prot": 80}, "settings", "unknown setting"),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD, ids=[f"{i:02d}-{b[1]}" for i, b in enumerate(BAD)])
def test_bad_settings_name_the_wui_field(changes: dict[str, t.Any], field: str, message: str) -> None:
    with pytest.raises(PlanError) as caught:
        build_plan({**BASE, **changes})
    assert caught.value.field == field, str(caught.value)
    assert str(caught.value).startswith(f"{field}: ")
    assert message in str(caught.value), str(caught.value)


def test_rpc_ports_outside_the_range_with_a_reason() -> None:
    plan = plan_for(rpc_access_point_port=6001, rpc_address_book_port=6002, rpc_ports_outside_range_reason="fixed before 2010 SP1")
    assert {b["port"] for b in plan["listeners"]} >= {6001, 6002}


def test_the_node_must_be_among_its_peers() -> None:
    with pytest.raises(PlanError, match="this node .* is not among the peers lb1, lb2"):
        build_plan(
            {
                **BASE,
                "ha_role": "master",
                "virtual_service_address": "10.0.0.10",
                "network_hostname": "lb3",
                "peers": [{"name": "lb1", "address": "10.0.0.11"}, {"name": "lb2", "address": "10.0.0.12"}],
            }
        )


def test_tls_is_modern_by_default_and_legacy_only_on_request() -> None:
    plan = plan_for()
    assert plan["tls"]["min_version"] == "TLSv1.2"
    assert "SHA:" not in plan["tls"]["ciphers"] and "SECLEVEL" not in plan["tls"]["ciphers"]
    legacy = plan_for(tls_min_version="TLSv1.0")
    assert legacy["tls"]["min_version"] == "TLSv1.0" and legacy["tls"]["ciphers"].endswith("@SECLEVEL=0")


def test_packages_follow_the_plan() -> None:
    assert plan_for()["packages"] == ["haproxy", "nftables", "netbase"]  # nft reads protocol names from netbase
    assert plan_for(firewall=False)["packages"] == ["haproxy"]
    assert plan_for(tls_engine="stunnel", firewall=False)["packages"] == ["haproxy", "stunnel4"]
    pair = plan_for(ha_role="master", virtual_service_address="10.0.0.10", tls_engine="stunnel")
    assert pair["packages"] == ["haproxy", "stunnel4", "keepalived", "nftables", "netbase"]


def test_the_guide_timeout_bounds_idle_http_connections_while_long_polls_may_last() -> None:
    plan = plan_for(http_timeout=7, http_long_poll_timeout=1800)
    https = frontends(plan)["ft_https"]
    assert (https["timeout_idle_s"], https["timeout_client_s"]) == (7, 1800)
    assert frontends(plan)["ft_http_redirect"]["timeout_idle_s"] == 7


def test_statistics_only_with_an_admin_password_and_on_the_node_address() -> None:
    assert plan_for()["stats"] is None
    plan = plan_for(stats_enabled=True, ha_role="master", virtual_service_address="10.0.0.10")
    assert plan["stats"] == {"address": "10.0.0.11", "port": 8404}  # the node's own address, not the VIP
    with pytest.raises(PlanError, match="statistics and metrics port .*: 443 is already used"):
        build_plan({**BASE, "stats_enabled": True, "stats_port": 443})


def test_node_metrics_only_when_asked_behind_the_admin_password_and_from_the_admin_networks() -> None:
    plan = plan_for(stats_enabled=True)
    assert plan["node_metrics"] is None and "prometheus-node-exporter" not in plan["packages"]
    plan = plan_for(stats_enabled=True, node_metrics=True, ha_role="master", virtual_service_address="10.0.0.10")
    assert plan["node_metrics"] == {"address": "10.0.0.11", "port": 9100, "textfile_directory": "/var/lib/prometheus/node-exporter",
                                    "vrrp_state": True}
    assert "prometheus-node-exporter" in plan["packages"]
    assert rules(plan)[("tcp", 9100)]["sources"] == ["10.0.0.0/24"]
    with pytest.raises(PlanError, match=r"node metrics \(exchange_node_metrics\): needs the admin password"):
        build_plan({**BASE, "node_metrics": True})
    with pytest.raises(PlanError, match=r"node metrics port \(exchange_node_metrics_port\): 8404 is already used"):
        build_plan({**BASE, "stats_enabled": True, "node_metrics": True, "node_metrics_port": 8404})


def test_health_checks_take_a_dark_server_out_in_about_three_seconds_and_can_be_slowed() -> None:
    checks = [b["check"] for b in plan_for(imap_mode="clear")["backends"] if b["check"]["kind"] != "none"]
    assert {"http", "banner", "rpc"} <= {c["kind"] for c in checks}
    for check in checks:
        assert (check["inter_ms"], check["fastinter_ms"], check["downinter_ms"], check["timeout_ms"], check["fall"]) == (1000, 250, 2000, 1000, 2)
    slow = plan_for(health_check_interval_ms=5000, health_check_timeout_ms=4000)["backends"][0]["check"]
    assert (slow["inter_ms"], slow["fastinter_ms"], slow["downinter_ms"], slow["timeout_ms"]) == (5000, 250, 5000, 4000)
    with pytest.raises(PlanError, match=r"Health checks › interval \(exchange_health_check_interval_ms\): 100 is out of range"):
        build_plan({**BASE, "health_check_interval_ms": 100})


def test_ntlm_authenticated_connections_are_never_shared_between_clients() -> None:
    for mode in ("ssl-offload", "clear"):
        http = [b for b in plan_for(http_mode=mode)["backends"] if b["mode"] == "http"]
        assert http and all(b["http_reuse"] == "never" for b in http)


def test_services_startup_and_timezone() -> None:
    system = plan_for()["system"]
    assert system == {"start_haproxy_at_boot": True, "start_stunnel_at_boot": True, "start_keepalived_at_boot": True, "timezone": "",
                      "packages_state": "present", "apt_cache_valid_time": 3600}
    system = plan_for(startup_haproxy="manual", timezone="Europe/Paris")["system"]
    assert system["start_haproxy_at_boot"] is False and system["timezone"] == "Europe/Paris"
    with pytest.raises(PlanError, match=r"Services tab › vrrp › Startup .*: unknown value 'sometimes'"):
        build_plan({**BASE, "startup_vrrp": "sometimes"})
    with pytest.raises(PlanError, match=r"Timezone .*not a time zone name"):
        build_plan({**BASE, "timezone": "Paris; rm -rf /"})


def test_packages_are_kept_present_or_latest_with_lists_fresh_for_a_bounded_time() -> None:
    assert plan_for(packages_state="latest", apt_cache_valid_time=0)["system"]["packages_state"] == "latest"
    assert plan_for(ha_role="master", virtual_service_address="10.0.0.100", http_mode="ssl-offload", tls_engine="stunnel",
                    firewall=True, node_metrics=True, stats_enabled=True)["packages"] == [
        "haproxy", "stunnel4", "keepalived", "nftables", "netbase", "prometheus-node-exporter"]
    with pytest.raises(PlanError, match=r"Packages › state \(exchange_packages_state\): unknown value 'newest'"):
        build_plan({**BASE, "packages_state": "newest"})
    with pytest.raises(PlanError, match=r"Packages › apt lists valid for .*: -1 is out of range"):
        build_plan({**BASE, "apt_cache_valid_time": -1})


# --- the firewall ---------------------------------------------------------------------


def rules(plan: dict[str, t.Any]) -> dict[tuple[str, int], dict[str, t.Any]]:
    return {(r["protocol"], r["port"]): r for r in plan["firewall"]["rules"]}


def test_the_firewall_opens_the_services_to_anyone_and_management_to_the_node_subnet() -> None:
    plan = plan_for(stats_enabled=True)
    opened = rules(plan)
    assert plan["firewall"]["admin_networks"] == ["10.0.0.0/24"]
    for service_port in (443, 80, 135, 60000, 60001):
        assert opened[("tcp", service_port)]["sources"] == []
        assert opened[("tcp", service_port)]["address"] == "10.0.0.11"
    assert opened[("tcp", 22)]["sources"] == ["10.0.0.0/24"]
    assert opened[("tcp", 8404)]["sources"] == ["10.0.0.0/24"]
    assert set(opened) == {("tcp", p) for p in (443, 80, 135, 60000, 60001, 22, 8404)}


def test_the_firewall_never_opens_stunnels_loopback_ports() -> None:
    plan = plan_for(tls_engine="stunnel", imap_mode="ssl-offload")
    internal = {b["port"] for f in plan["frontends"] for b in f["binds"] if b["address"] == "127.0.0.1"}
    assert internal and not internal & {port for _proto, port in rules(plan)}
    assert ("tcp", 993) in rules(plan)


def test_a_pair_lets_vrrp_and_peers_in_from_the_other_node_only() -> None:
    plan = plan_for(
        ha_role="master", virtual_service_address="10.0.0.10", network_hostname="lb1",
        peers=[{"name": "lb1", "address": "10.0.0.11"}, {"name": "lb2", "address": "10.0.0.12"}],
    )
    opened = rules(plan)
    assert opened[("vrrp", 0)]["sources"] == ["10.0.0.12/32"]
    assert opened[("tcp", 10000)]["sources"] == ["10.0.0.12/32"]
    assert opened[("tcp", 443)]["address"] == "10.0.0.10"


def test_admin_networks_are_checked_and_must_let_ansible_in() -> None:
    plan = build_plan({**BASE, "admin_networks": ["192.168.10.0/24", "10.9.9.9/32"]}, "10.9.9.9").as_dict()
    assert plan["firewall"]["admin_networks"] == ["192.168.10.0/24", "10.9.9.9/32"]
    with pytest.raises(PlanError) as error:
        build_plan({**BASE, "admin_networks": ["192.168.10.0/24"]}, "10.0.0.99")
    assert error.value.field == "Firewall › admin networks (exchange_admin_networks)"
    assert "10.0.0.99" in str(error.value) and "lock itself out" in str(error.value)
    with pytest.raises(PlanError) as error:
        plan_for(admin_networks=["192.168.10.1/24"])
    assert error.value.field == "Firewall › admin networks (exchange_admin_networks) › network 1"
    with pytest.raises(PlanError, match="exchange_ssh_port"):
        plan_for(ssh_port=70000)


def test_no_firewall_when_it_is_off() -> None:
    assert plan_for(firewall=False)["firewall"] is None
    # and then the lock-out check has nothing to guard
    assert build_plan({**BASE, "firewall": False, "admin_networks": ["192.168.10.0/24"]}, "10.0.0.99").firewall is None


# --- Exchange 2013 and later ------------------------------------------------------------

MODERN = {"version": "2016", "rpc_mode": "disabled"}


def test_exchange_2013_and_later_check_each_service_on_its_own_health_page() -> None:
    plan = plan_for(**MODERN)
    bk = backends(plan)
    for key, vdir in (("owa", "/owa"), ("ecp", "/ecp"), ("ews", "/ews"), ("activesync", "/microsoft-server-activesync"),
                      ("oab", "/oab"), ("autodiscover", "/autodiscover"), ("outlook_anywhere", "/rpc"), ("mapi", "/mapi")):
        assert bk[f"bk_{key}"]["check"]["uri"] == f"{vdir}/healthcheck.htm", key
        assert bk[f"bk_{key}"]["persistence"] is None, key  # Exchange 2013 and later need no affinity
    routes = {r["key"]: r for r in frontends(plan)["ft_https"]["routes"]}
    assert routes["mapi"]["paths"] == ["/mapi"] and routes["mapi"]["backend"] == "bk_mapi"
    assert bk["bk_mapi"]["timeout_server_s"] == DEFAULTS["http_long_poll_timeout"]
    assert plan["stick_tables"] == []


def test_exchange_2010_keeps_the_guide_checks_and_has_no_mapi() -> None:
    plan = plan_for()
    assert {b["check"]["uri"] for b in plan["backends"] if b["check"]["kind"] == "http"} == {"/owa/auth/logon.aspx"}
    assert "mapi" not in {r["key"] for r in frontends(plan)["ft_https"]["routes"]}


def test_mapi_can_be_turned_off_and_answers_a_refusal() -> None:
    services = {**DEFAULTS["http_services"], "mapi": False}
    routes = {r["key"]: r for r in frontends(plan_for(**MODERN, http_services=services))["ft_https"]["routes"]}
    assert routes["mapi"]["enabled"] is False


def test_exchange_2013_forwarded_tls_is_checked_on_the_owa_health_page() -> None:
    assert backends(plan_for(**MODERN, http_mode="ssl-forward"))["bk_https_forward"]["check"]["uri"] == "/owa/healthcheck.htm"


def test_exchange_2013_and_later_refuse_rpc_client_access() -> None:
    with pytest.raises(PlanError) as error:
        plan_for(version="2013")
    assert error.value.field == "RPC Services"
    assert "set RPC to disabled" in str(error.value)
    with pytest.raises(PlanError, match="Exchange version"):
        plan_for(version="2007")


# --- ssl-bridge --------------------------------------------------------------------------


def test_ssl_bridge_ends_tls_and_encrypts_again_to_the_cas_https_port() -> None:
    plan = plan_for(http_mode="ssl-bridge", http_cas_ca_certificate="/etc/ssl/corp-ca.pem")
    assert binds(plan)[443]["certificate"] == "/etc/exchange-lb/tls/http.pem"
    owa = backends(plan)["bk_owa"]
    assert {(s["port"], s["ssl"]) for s in owa["servers"]} == {(443, True)}
    assert owa["server_tls"] == {"sni": "mail.mydomain.local", "ca_file": "/etc/exchange-lb/cas-ca.pem", "verify_host": "mail.mydomain.local"}
    assert owa["persistence"]["kind"] == "cookie"  # routing and persistence as with ssl-offload
    assert plan["ca_bundles"] == [{
        "field": "HTTP(s) Service › CAS CA certificate (exchange_http_cas_ca_certificate)",
        "src": "/etc/ssl/corp-ca.pem", "dest": "/etc/exchange-lb/cas-ca.pem",
    }]
    assert frontends(plan)["ft_https"]["forwarded_proto"] == "https"


def test_ssl_bridge_without_a_ca_encrypts_without_verifying() -> None:
    plan = plan_for(http_mode="ssl-bridge", http_cas_https_port=8443)
    owa = backends(plan)["bk_owa"]
    assert owa["server_tls"]["ca_file"] == "" and plan["ca_bundles"] == []
    assert {s["port"] for s in owa["servers"]} == {8443}


def test_ssl_bridge_with_stunnel_keeps_the_re_encryption_in_haproxy() -> None:
    plan = plan_for(http_mode="ssl-bridge", tls_engine="stunnel")
    assert [t["accept_port"] for t in plan["tls_tunnels"]] == [443]
    assert all(s["ssl"] for s in backends(plan)["bk_owa"]["servers"])


# --- more certificates, by SNI -------------------------------------------------------------

SNI = [{"certificate": "/etc/ssl/other.pfx", "host_name": "mail.otherdomain.local"},
       {"certificate": "/etc/ssl/legacy.pem", "host_name": "legacy.mydomain.local"}]


def test_more_certificates_are_offered_by_sni_with_haproxy() -> None:
    plan = plan_for(http_additional_certificates=SNI)
    assert binds(plan)[443]["more_certificates"] == ["/etc/exchange-lb/tls/http-sni1.pem", "/etc/exchange-lb/tls/http-sni2.pem"]
    certificates = {c["service"]: c for c in plan["certificates"]}
    assert certificates["http_sni1"]["host_name"] == "mail.otherdomain.local"
    assert certificates["http_sni2"]["src"] == "/etc/ssl/legacy.pem"
    assert certificates["http_sni1"]["field"] == "HTTP(s) Service › additional certificates (exchange_http_additional_certificates) › certificate 1"


def test_more_certificates_are_offered_by_sni_with_stunnel() -> None:
    plan = plan_for(http_additional_certificates=SNI, tls_engine="stunnel")
    https = next(t for t in plan["tls_tunnels"] if t["accept_port"] == 443)
    assert https["sni"] == [
        {"host_name": "mail.otherdomain.local", "certificate": "/etc/exchange-lb/tls/http-sni1.pem"},
        {"host_name": "legacy.mydomain.local", "certificate": "/etc/exchange-lb/tls/http-sni2.pem"},
    ]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"http_mode": "ssl-forward", "http_additional_certificates": SNI[:1]},
         "HTTP(s) Service › additional certificates (exchange_http_additional_certificates)", "not ssl-forward"),
        ({"http_additional_certificates": [{"certificate": "/a.pem", "host_name": "mail.mydomain.local"}]},
         "HTTP(s) Service › additional certificates (exchange_http_additional_certificates) › certificate 1 › host_name",
         "already served by HTTP(s) Service › Host Name"),
        ({"http_additional_certificates": [{"certificate": "", "host_name": "x.mydomain.local"}]},
         "HTTP(s) Service › additional certificates (exchange_http_additional_certificates) › certificate 1 › certificate",
         "no certificate file"),
        ({"http_additional_certificates": [{"certificate": "/a.pem", "host_name": "nodots"}]},
         "HTTP(s) Service › additional certificates (exchange_http_additional_certificates) › certificate 1 › host_name", ""),
        # the role's argument spec does not check this list (its items hold passwords): the plan does
        ({"http_additional_certificates": [{"certificate": "/a.pem", "host_name": "x.mydomain.local", "pasword": ""}]},
         "HTTP(s) Service › additional certificates (exchange_http_additional_certificates) › certificate 1 › pasword",
         "is no option of a certificate (certificate, host_name, password)"),
        ({"http_additional_certificates": [{"certificate": ["/a.pem"], "host_name": "x.mydomain.local"}]},
         "HTTP(s) Service › additional certificates (exchange_http_additional_certificates) › certificate 1 › certificate",
         "a file name is expected"),
        ({"http_additional_certificates": "not a list"},
         "HTTP(s) Service › additional certificates (exchange_http_additional_certificates)", "a list of"),
        ({"http_additional_certificates": ["not a mapping"]},
         "HTTP(s) Service › additional certificates (exchange_http_additional_certificates) › certificate 1",
         "a certificate file and the host name it serves are expected"),
    ],
)
def test_bad_additional_certificates_name_their_field(changes: dict[str, t.Any], field: str, words: str) -> None:
    with pytest.raises(PlanError) as error:
        plan_for(**changes)
    assert error.value.field == field
    assert words in str(error.value)


def test_an_http_service_without_any_cas_up_answers_a_clear_page() -> None:
    for plan in (plan_for(), plan_for(**MODERN, http_mode="ssl-bridge")):
        for backend in plan["backends"]:
            if backend["mode"] == "http":
                assert backend["unavailable_message"].startswith("No Exchange Client Access server"), backend["name"]


def test_remote_powershell_sticks_by_address_with_exchange_2010_and_goes_to_the_default_backend_later() -> None:
    """Guide 2.5: affinity recommended for Remote PowerShell. The field was added as one row of the
    settings table and one rule of the HTTP builder."""
    plan = plan_for()
    route = next(r for r in plan["frontends"][0]["routes"] if r["key"] == "powershell")
    assert route["paths"] == ["/powershell"] and route["backend"] == "bk_powershell" and route["enabled"] is True
    backend = next(b for b in plan["backends"] if b["name"] == "bk_powershell")
    assert backend["persistence"]["kind"] == "source" and backend["persistence"]["table"] == "st_src"
    assert backend["timeout_server_s"] == DEFAULTS["http_long_poll_timeout"] and backend["balance"] == "leastconn"
    modern = plan_for(version="2016", rpc_mode="disabled")
    route = next(r for r in modern["frontends"][0]["routes"] if r["key"] == "powershell")
    assert route["backend"] == "bk_http" and "bk_powershell" not in {b["name"] for b in modern["backends"]}
    off = plan_for(http_services={"powershell": "disabled"})
    assert next(r for r in off["frontends"][0]["routes"] if r["key"] == "powershell")["enabled"] is False
