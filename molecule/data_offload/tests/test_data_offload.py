"""The data path with TLS ended on the appliance, as a client sees it.

Real clients only: curl for HTTP(S), imaplib, poplib and smtplib for mail, each
through the appliance node to the lab's stand-in CAS and Hub servers, which
name themselves in every answer.  Used by data_offload (haproxy ends TLS) and
after the switch to stunnel in the same life cycle (stunnel ends TLS and hands over
with the PROXY protocol).
"""

from __future__ import annotations

import imaplib
import json
import os
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # molecule/: the shared clients
from clients import (  # noqa: E402
    CLIENT, HOST, assert_check_mode_is_clean, connect_from, converge, curl, delivered, haproxy_command, message, pop3_login,
    server_states, standin, tls_context,
)

CA = os.environ["LAB_CA_CERT"]


@pytest.fixture(scope="module")
def node(host) -> str:
    return host.ansible.get_variables()["exchange_network_address"]


def served_by(node: str, path: str = "/owa/", *args: str) -> str:
    status, headers, _ = curl(node, f"https://{HOST}{path}", *args)
    assert status == 200, (path, status)
    return headers["x-served-by"]


def test_check_mode_on_the_converged_node_shows_no_pending_change():
    """First, on the node as converge and idempotence left it (molecule/clients.py): with each engine,
    the verify runs after each converge of the life cycle (haproxy, then stunnel)."""
    assert_check_mode_is_clean()


# --- HTTP(s) ---------------------------------------------------------------------


def test_https_reaches_both_cas(node):
    assert {served_by(node, "/ews/") for _ in range(6)} == {"cas1", "cas2"}


def test_the_cas_sees_the_client_and_the_scheme(node):
    _, _, body = curl(node, f"https://{HOST}/whoami")
    assert f"x_forwarded_for={CLIENT}\n" in body, body
    assert "x_forwarded_proto=https\n" in body, body


def test_plain_http_is_redirected_to_https_keeping_the_path(node):
    status, headers, _ = curl(node, f"http://{HOST}/owa/auth/logon.aspx?replaceCurrent=1")
    assert status == 302
    assert headers["location"] == f"https://{HOST}/owa/auth/logon.aspx?replaceCurrent=1"


def test_the_root_leads_to_owa(node):
    status, headers, _ = curl(node, f"https://{HOST}/")
    assert status == 302 and headers["location"] == "/owa/"


def test_owa_keeps_a_browser_on_one_cas_with_the_load_balancer_cookie(node, tmp_path):
    jar = str(tmp_path / "cookies")
    first = served_by(node, "/owa/", "-c", jar, "-b", jar)
    assert "EXLBSRV" in open(jar, encoding="utf-8").read()
    assert {served_by(node, "/owa/", "-c", jar, "-b", jar) for _ in range(8)} == {first}
    # ECP shares OWA's state (same backend, same cookie) - but ECP is disabled here, see below


def test_activesync_sticks_to_the_authorization_header_not_the_address(node):
    def device(user: str) -> set[str]:
        return {served_by(node, "/Microsoft-Server-ActiveSync?Cmd=Sync", "-H", f"Authorization: Basic {user}") for _ in range(5)}

    seen = [device(f"dXNlcnt{n}fTpwYXNz") for n in range(6)]
    assert all(len(one) == 1 for one in seen), seen  # each device stays on its CAS
    assert set().union(*seen) == {"cas1", "cas2"}, seen  # the devices behind one address spread


def test_remote_powershell_keeps_a_workstation_on_one_cas_by_its_address(node):
    """Guide 2.5: affinity recommended for Remote PowerShell (Exchange 2010): by the client's address,
    whatever its requests carry (a shell's WinRM requests keep no load-balancer cookie)."""
    first = served_by(node, "/PowerShell/?serializationLevel=Full")
    assert {served_by(node, f"/powershell/?n={n}", "-H", f"Cookie: EXLBSRV={n}") for n in range(8)} == {first}


def test_stickiness_survives_a_reload_of_a_single_node(host, node):
    """A node without a pair is its own haproxy peer: the old process hands its tables to the new one."""
    users = [f"dXNlcnt{n}fTpwYXNz" for n in range(6)]

    def devices(order: list[str]) -> dict[str, str]:
        return {user: served_by(node, "/Microsoft-Server-ActiveSync?Cmd=Sync", "-H", f"Authorization: Basic {user}")
                for user in order}

    def worker() -> str:
        return next(line.split()[1] for line in haproxy_command(host, "show info").splitlines() if line.startswith("Pid:"))

    before = devices(users)
    assert set(before.values()) == {"cas1", "cas2"}, before
    old = worker()
    assert host.run("systemctl reload haproxy").rc == 0
    deadline = time.monotonic() + 15
    while worker() == old and time.monotonic() < deadline:
        time.sleep(0.2)
    assert worker() != old, "no new haproxy process after the reload"
    # asked in the other order: without the tables, the rotation would hand out other CAS
    assert devices(list(reversed(users))) == before


def test_a_disabled_web_service_is_refused_clearly(node):
    status, _, body = curl(node, f"https://{HOST}/ecp/")
    assert status == 403
    assert "Exchange Control Panel is disabled" in body


def test_activesync_long_poll_outlives_the_guide_timeout(node):
    started = time.monotonic()
    status, headers, body = curl(node, f"https://{HOST}/Microsoft-Server-ActiveSync?Cmd=Ping&s=8", "-H", "Authorization: Basic bG9uZw==")
    assert status == 200, body
    assert time.monotonic() - started >= 7.5  # held open longer than the 5 s Timeout of this scenario


def test_an_idle_keep_alive_connection_is_closed_after_the_guide_timeout(node):
    with socket.create_connection((node, 443), timeout=20) as raw, tls_context().wrap_socket(raw) as tls:
        tls.sendall(f"GET /owa/ HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += tls.recv(65536)
        head, _, body = answer.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += tls.recv(65536)
        assert head.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert tls.recv(65536) == b""  # the appliance closes the idle connection...
        idle = time.monotonic() - started
    assert 4 <= idle <= 8, idle  # ...after this scenario's 5 s Timeout


def test_tls_is_1_2_or_newer(node):
    for version in ("--tlsv1.0", "--tlsv1.1"):
        result = subprocess.run(
            ["curl", "-sS", "--max-time", "10", "--cacert", CA, "--resolve", f"{HOST}:443:{node}", version,
             "--tls-max", version[2:].replace("tlsv", ""), f"https://{HOST}/owa/"],
            capture_output=True, text=True, timeout=20, check=False,
        )
        assert result.returncode != 0, f"{version} was accepted"


def tls_handshake(node: str, port: int, version: ssl.TLSVersion) -> str:
    """The TLS version agreed with the node when the client offers only `version`; raises if refused."""
    context = tls_context()
    context.minimum_version = context.maximum_version = version
    with socket.create_connection((node, port), timeout=10) as raw, context.wrap_socket(raw) as tls:
        return str(tls.version())


def test_a_changed_tls_setting_is_reloaded_and_every_listener_keeps_serving(host, node):
    """TLS minimum version (exchange_tls_min_version) changed and back: the engine that ends TLS reloads (same
    main process) and every TLS listener serves under the new setting. A reload re-binds each changed listener:
    stunnel must still be allowed to bind 443 then (it runs as stunnel4)."""
    engine = host.ansible.get_variables().get("exchange_tls_engine", "haproxy")
    unit = "stunnel@exchange-lb" if engine == "stunnel" else "haproxy"
    main_pid = host.run(f"systemctl show -P MainPID {unit}").stdout.strip()
    try:
        converge("-e", json.dumps({"exchange_tls_min_version": "TLSv1.3"}))
        assert served_by(node, "/owa/") in ("cas1", "cas2")
        for port in (443, 993, 995, 587):  # HTTPS, IMAPS, POP3S, SMTP(s) Service (TLS on 587)
            assert tls_handshake(node, port, ssl.TLSVersion.TLSv1_3) == "TLSv1.3", port
            with pytest.raises(ssl.SSLError):
                tls_handshake(node, port, ssl.TLSVersion.TLSv1_2)
    finally:
        converge()
    for port in (443, 993, 995, 587):  # HTTPS, IMAPS, POP3S, SMTP(s) Service (TLS on 587)
        assert tls_handshake(node, port, ssl.TLSVersion.TLSv1_2) == "TLSv1.2", port
    assert host.run(f"systemctl show -P MainPID {unit}").stdout.strip() == main_pid, f"{unit} was restarted, not reloaded"
    if engine == "stunnel":
        service = host.run("systemctl show -P User stunnel@exchange-lb").stdout.strip()
        assert service == "stunnel4"
        journal = host.run("journalctl -u stunnel@exchange-lb -b --no-pager -o cat").stdout
        assert not [line for line in journal.splitlines() if "Binding service" in line and "fail" in line], journal[-2000:]


# --- IMAP(s), POP3(s): clear and ssl-offload ------------------------------------------


def test_imap_clear_and_imaps_offloaded_reach_both_cas(node):
    clear_banners, secure_banners = set(), set()
    for _ in range(4):
        clear = imaplib.IMAP4(node, 143, timeout=10)
        assert clear.login("lab", "labpass")[0] == "OK"
        clear_banners.add("cas1" if b"cas1" in clear.welcome else "cas2")
        clear.logout()
        secure = imaplib.IMAP4_SSL(node, 993, ssl_context=tls_context(), timeout=10)
        assert secure.sock.version() in ("TLSv1.2", "TLSv1.3")
        assert secure.login("lab", "labpass")[0] == "OK"
        assert secure.select("INBOX")[0] == "OK"
        secure_banners.add("cas1" if b"cas1" in secure.welcome else "cas2")
        secure.logout()
    assert clear_banners == secure_banners == {"cas1", "cas2"}


def test_pop3_clear_and_pop3s_offloaded_reach_the_cas(node):
    pop3_login(node, 110)
    pop3_login(node, 995, secure=True)


# --- SMTP(s): clear and ssl-offload ---------------------------------------------------


def test_smtp_clear_reaches_a_hub_that_names_itself(node):
    subject = f"clear-{uuid.uuid4()}"
    with smtplib.SMTP(timeout=15) as smtp:
        code, banner = smtp.connect(node, 25)
        assert code == 220 and banner.startswith((b"hub1", b"hub2")), banner
        smtp.send_message(message(subject))
    assert len(delivered(subject)) == 1


def test_smtps_offloaded_reaches_a_hub(node):
    subject = f"smtps-{uuid.uuid4()}"
    with smtplib.SMTP_SSL(context=tls_context(), timeout=15) as smtp:
        code, banner = smtp.connect(node, 587)
        assert code == 220 and banner.startswith((b"hub1", b"hub2")), banner
        assert smtp.sock.version() in ("TLSv1.2", "TLSv1.3")
        smtp.send_message(message(subject))
    assert len(delivered(subject)) == 1


# --- health ------------------------------------------------------------------------------


def test_a_cas_whose_imap_hangs_leaves_the_imap_rotation_and_returns(host, node):
    def banners(count: int) -> set[str]:
        names = set()
        for _ in range(count):
            client = imaplib.IMAP4(node, 143, timeout=3)
            names.add("cas1" if "cas1" in client.welcome.decode() else "cas2")
            client.logout()
        return names

    # dovecot on cas1 hangs: connections are still accepted, but no banner ever comes
    # (only an application-aware check notices; a TCP check would keep it in rotation)
    subprocess.run(["podman", "exec", standin("cas1").container, "pkill", "-STOP", "-f", "dovecot"], check=True, timeout=60)
    try:
        # (clients may see cas2 only before that: leastconn avoids the CAS holding hung connections)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if server_states(host, "bk_imap").get("cas1", "").startswith("DOWN"):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"cas1 stayed in the IMAP rotation 15 s after its IMAP service hung: {server_states(host, 'bk_imap')}")
        assert banners(6) == {"cas2"}  # once out, no client lands on the dead CAS
    finally:
        subprocess.run(["podman", "exec", standin("cas1").container, "pkill", "-CONT", "-f", "dovecot"], check=True, timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:  # a dovecot that was frozen first works off the connections it queued
            if banners(6) == {"cas1", "cas2"}:
                break
        except (OSError, imaplib.IMAP4.error):
            pass
        time.sleep(0.5)
    else:
        pytest.fail("cas1 did not come back into the IMAP rotation within 30 s")


# --- statistics and metrics -----------------------------------------------------------


# as molecule.yml sets it: '{{' and '{%' in a password (a template that renders nothing: taken as written)
ADMIN_PASSWORD = "lab-{{admin}}-Secret{%"


def test_statistics_and_metrics_need_the_admin_password(node):
    url = f"http://{node}:8404/"
    assert curl(node, url)[0] == 401
    assert curl(node, url, "-u", "admin:wrong-password")[0] == 401
    status, _, body = curl(node, url, "-u", f"admin:{ADMIN_PASSWORD}")
    assert status == 200 and "Statistics Report" in body
    status, _, body = curl(node, f"{url}metrics", "-u", f"admin:{ADMIN_PASSWORD}")
    assert status == 200 and "haproxy_backend_status" in body
    assert curl(node, f"{url}metrics")[0] == 401


def test_statistics_only_from_the_admin_networks(node):
    # exchange_admin_networks is this machine; a stand-in server is elsewhere on the lab network
    assert connect_from(standin("cas1").container, node, 8404) == "timeout"
    assert connect_from(standin("cas1").container, node, 443) == "open"


def test_the_node_keeps_only_a_hash_of_the_admin_password(host):
    config = host.file("/etc/haproxy/haproxy.cfg").content_string
    assert ADMIN_PASSWORD not in config and "-Secret" not in config
    assert "password $6$" in config


def test_a_new_admin_password_shows_in_the_diff_without_its_hash():
    # check mode: the diff a user reviews before changing the password names the change, never the hash
    # '{{ Secret }}' names no variable: the password is taken as written, said in a warning without it
    result = converge("--check", "--diff", "-e", json.dumps({"exchange_admin_password": "another-{{ Secret }}-1"}))
    output = result.stdout + result.stderr
    changed = re.findall(r"^([-+])\s+user admin password \(hidden #[0-9a-f]{8}\)$", output, re.M)
    assert sorted(changed) == ["+", "-"], output[-6000:]
    assert "$6$" not in output and "{{ Secret }}" not in output
    assert "exchange_admin_password: taken as written" in " ".join(output.split())


# --- RPC (Outlook): endpoint mapper and the two static ports ----------------------------


def rpc_server_name(node: str, port: int) -> str:
    """Bind through the appliance with NTLM; the answering server's challenge carries its name."""
    from impacket import ntlm
    from impacket.dcerpc.v5 import epm, lsat, rrp, transport
    from impacket.dcerpc.v5.rpcrt import RPC_C_AUTHN_LEVEL_CONNECT, MSRPCBindAck

    interface = {135: epm.MSRPC_UUID_PORTMAP, 60000: lsat.MSRPC_UUID_LSAT, 60001: rrp.MSRPC_UUID_RRP}[port]
    rpc = transport.DCERPCTransportFactory(f"ncacn_ip_tcp:{node}[{port}]")
    rpc.set_credentials("probe", "probe", "LAB")
    rpc.set_connect_timeout(5)
    dce = rpc.get_dce_rpc()
    dce.set_auth_level(RPC_C_AUTHN_LEVEL_CONNECT)
    dce.connect()
    try:
        ack = MSRPCBindAck(dce.bind(interface).getData())
        pairs = ntlm.AV_PAIRS(ntlm.NTLMAuthChallenge(ack["auth_data"])["TargetInfoFields"])
        return pairs[ntlm.NTLMSSP_AV_DNS_HOSTNAME][1].decode("utf-16le")
    finally:
        dce.disconnect()


def test_outlook_lands_on_one_cas_for_the_mapper_and_both_static_ports(node):
    names = {port: {rpc_server_name(node, port) for _ in range(3)} for port in (135, 60000, 60001)}
    assert len(set().union(*names.values())) == 1, names  # one stickiness shared by all three


def test_a_cas_that_drops_off_the_network_is_taken_out_and_its_rpc_sessions_shut(node):
    current = rpc_server_name(node, 135)
    container, address, alias = standin(current)
    # put back as it was (address, MAC, name): a new MAC would leave the node's ARP entry stale for half a minute
    mac = subprocess.run(["podman", "inspect", "--format", '{{ (index .NetworkSettings.Networks "exlb-lab").MacAddress }}',
                          container], check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    session = socket.create_connection((node, 60000), timeout=30)  # a long-lived Outlook connection
    # The CAS vanishes without a word (no FIN, no RST): only the appliance's check can notice.
    subprocess.run(["podman", "network", "disconnect", "exlb-lab", container], check=True, timeout=60)
    try:
        started = time.monotonic()
        assert session.recv(1) == b""  # the appliance shut the session to the CAS it marked down
        shut_after = time.monotonic() - started
        print(f"session to the vanished CAS shut after {shut_after:.1f} s")
        assert shut_after < 20
        others = {"cas1", "cas2"} - {current}
        assert {rpc_server_name(node, port) for port in (135, 60000, 60001)} == others
    finally:
        session.close()
        subprocess.run(["podman", "network", "connect", "--ip", address, "--mac-address", mac,
                        *(f"--alias={name}" for name in alias), "exlb-lab", container], check=True, timeout=60)
        # the lab as the next test finds it: the appliance sends to that CAS again (bounded)
        deadline = time.monotonic() + 30
        while current not in {served_by(node, "/ews/") for _ in range(4)} and time.monotonic() < deadline:
            time.sleep(0.5)
