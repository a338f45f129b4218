"""Exchange 2016 behind the appliance with TLS on both sides (ssl-bridge), as a
client sees it: each service on its own health page, MAPI over HTTP, no
affinity, and a second certificate for another accepted domain, chosen by SNI."""

from __future__ import annotations

import imaplib
import os
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
    CLIENT, HOST, assert_check_mode_is_clean, curl, delivered, message, pop3_login, server_states, standin, tls_context,
)

OTHER = "mail.otherdomain.local"


@pytest.fixture(scope="module")
def node(host) -> str:
    return host.ansible.get_variables()["exchange_network_address"]


def served_by(node: str, path: str, *args: str) -> str:
    status, headers, _ = curl(node, f"https://{HOST}{path}", *args)
    assert status == 200, (path, status)
    return headers["x-served-by"]


def whoami(node: str) -> dict[str, str]:
    _, _, body = curl(node, f"https://{HOST}/whoami")
    return dict(line.split("=", 1) for line in body.splitlines() if "=" in line)


def test_check_mode_on_the_converged_node_shows_no_pending_change():
    """First, on the node as converge and idempotence left it (molecule/clients.py): the verify runs
    after each converge of the life cycle (stunnel, then haproxy)."""
    assert_check_mode_is_clean()


def test_the_cas_is_reached_over_tls_with_the_host_name(node):
    seen = [whoami(node) for _ in range(4)]
    assert {answer["host"] for answer in seen} == {"cas1", "cas2"}
    for answer in seen:
        assert answer["scheme"] == "https" and answer["server_port"] == "443", answer
        assert answer["sni"] == HOST and answer["ssl_protocol"] in ("TLSv1.2", "TLSv1.3"), answer
        assert answer["x_forwarded_for"] == CLIENT and answer["x_forwarded_proto"] == "https", answer


def test_the_cas_certificates_are_verified_with_the_given_ca(host):
    config = host.file("/etc/haproxy/haproxy.cfg").content_string
    assert config.count("verify required ca-file /etc/exchange-lb/cas-ca.pem verifyhost mail.mydomain.local") >= 2
    # and the CAS passed the verification: every server is up
    for backend in ("bk_owa", "bk_ews", "bk_mapi", "bk_http"):
        assert set(server_states(host, backend).values()) == {"UP"}, backend


def test_mapi_over_http_is_routed_to_the_cas(node):
    status, headers, body = curl(node, f"https://{HOST}/mapi/emsmdb/?MailboxId=lab")
    assert status == 200 and body.startswith("mapi on cas"), body
    assert headers["x-served-by"] in {"cas1", "cas2"}


def test_no_affinity_is_kept_for_exchange_2016(node, tmp_path):
    jar = str(tmp_path / "cookies")
    answers = [served_by(node, "/owa/", "-c", jar, "-b", jar) for _ in range(6)]
    assert set(answers) == {"cas1", "cas2"}
    assert "EXLBSRV" not in Path(jar).read_text(encoding="utf-8")


def wait_until(condition, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def test_a_cas_whose_owa_fails_its_health_page_still_serves_the_other_services(host, node):
    subprocess.run(["podman", "exec", standin("cas1").container, "touch", "/run/lab-sick-owa"], check=True, timeout=30)
    try:
        # cas1's OWA health page answers 503: cas1 leaves the OWA backend only
        assert wait_until(lambda: server_states(host, "bk_owa").get("cas1", "").startswith("DOWN"), 20), server_states(host, "bk_owa")
        assert server_states(host, "bk_ews") == {"cas1": "UP", "cas2": "UP"}
        # from then on no OWA request lands on the sick CAS, and EWS is still served by both
        assert {served_by(node, "/owa/") for _ in range(6)} == {"cas2"}
        assert {served_by(node, "/ews/exchange.asmx") for _ in range(6)} == {"cas1", "cas2"}
    finally:
        subprocess.run(["podman", "exec", standin("cas1").container, "rm", "-f", "/run/lab-sick-owa"], check=True, timeout=30)
    assert wait_until(lambda: server_states(host, "bk_owa").get("cas1") == "UP", 20), "cas1 did not return to OWA"
    assert {served_by(node, "/owa/") for _ in range(6)} == {"cas1", "cas2"}


def peer_certificate(node: str, name: str) -> dict:
    context = ssl.create_default_context(cafile=os.environ["LAB_CA_CERT"])
    with socket.create_connection((node, 443), timeout=10) as raw, context.wrap_socket(raw, server_hostname=name) as tls:
        return tls.getpeercert()


def common_name(certificate: dict) -> str:
    return next(value for rdn in certificate["subject"] for key, value in rdn if key == "commonName")


def test_each_accepted_domain_gets_its_own_certificate_by_sni(node):
    # verified against the lab CA for the name asked: a wrong certificate fails the handshake
    assert common_name(peer_certificate(node, OTHER)) == OTHER
    assert common_name(peer_certificate(node, "autodiscover.otherdomain.local")) == OTHER
    assert common_name(peer_certificate(node, HOST)) == HOST
    out = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", os.environ["LAB_CA_CERT"],
         "--resolve", f"{OTHER}:443:{node}", f"https://{OTHER}/owa/"],
        capture_output=True, text=True, timeout=40, check=True,
    )
    assert out.stdout == "200"


def test_a_client_without_sni_gets_the_main_certificate(node):
    context = ssl.create_default_context(cafile=os.environ["LAB_CA_CERT"])
    context.check_hostname = False
    with socket.create_connection((node, 443), timeout=10) as raw, context.wrap_socket(raw) as tls:
        assert common_name(tls.getpeercert()) == HOST


def test_the_pfx_password_never_reaches_the_node_or_the_config(host):
    configs = "/etc/haproxy/haproxy.cfg /etc/stunnel/exchange-lb.conf"
    assert host.run(f"grep -rl other-Pfx-secret /etc/exchange-lb {configs}").stdout == ""
    key_file = host.file("/etc/exchange-lb/tls/http-sni1.pem")
    if host.ansible.get_variables().get("exchange_tls_engine") == "stunnel":
        assert (key_file.mode, key_file.group) == (0o640, "stunnel4")  # stunnel reads it after dropping root
    else:
        assert (key_file.mode, key_file.user) == (0o600, "root")


def test_rpc_is_closed_for_exchange_2016(node):
    for rpc_port in (135, 60000, 60001):
        with pytest.raises(TimeoutError):
            socket.create_connection((node, rpc_port), timeout=2).close()


# --- the mail protocols in the guide's single modes -------------------------------------


def closed(node: str, port: int) -> bool:
    try:
        socket.create_connection((node, port), timeout=2).close()
    except TimeoutError:
        return True  # nothing listens; the firewall drops the attempt
    return False


def test_imap_in_ssl_offload_mode_opens_only_imaps(node):
    banners = set()
    for _ in range(4):
        secure = imaplib.IMAP4_SSL(node, 993, ssl_context=tls_context(), timeout=10)
        assert secure.login("lab", "labpass")[0] == "OK"
        banners.add("cas1" if b"cas1" in secure.welcome else "cas2")
        secure.logout()
    assert banners == {"cas1", "cas2"}
    assert closed(node, 143)


def test_pop3_in_clear_mode_opens_only_pop3(node):
    pop3_login(node, 110)
    assert closed(node, 995)


def test_smtp_in_ssl_forward_mode_opens_only_the_submission_port(node):
    subject = f"bridge-587-{uuid.uuid4()}"
    with smtplib.SMTP(timeout=15) as smtp:
        code, banner = smtp.connect(node, 587)
        assert code == 220 and banner.startswith((b"hub1", b"hub2")), banner
        smtp.starttls(context=tls_context("hub.mydomain.local"))  # TLS ends on the Hub
        smtp.login("hubuser", "hubpass")
        smtp.send_message(message(subject))
    assert len(delivered(subject)) == 1
    assert closed(node, 25)
