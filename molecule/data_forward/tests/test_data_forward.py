"""The data path with TLS passed through untouched (ssl-forward), as a client sees it:
TLS ends on the CAS and Hub servers themselves, the appliance balances TCP."""

from __future__ import annotations

import imaplib
import smtplib
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # molecule/: the shared clients
from clients import HOST, assert_check_mode_is_clean, curl, delivered, message, pop3_login, tls_context, wait_all_up  # noqa: E402


@pytest.fixture(scope="module")
def node(host) -> str:
    return host.ansible.get_variables()["exchange_network_address"]


@pytest.fixture(scope="module")
def hubs_checked(host) -> None:
    """Both Hubs checked UP by the appliance before the first message (a run once saw a submission
    closed right after converge: the condition a client can count on, not a pause)."""
    wait_all_up(host, ("bk_smtp", "bk_smtps"))


def test_check_mode_on_the_converged_node_shows_no_pending_change():
    """First, on the node as converge and idempotence left it (molecule/clients.py)."""
    assert_check_mode_is_clean()


def test_tls_ends_on_the_cas_not_on_the_appliance(node):
    status, headers, body = curl(node, f"https://{HOST}/whoami")
    assert status == 200
    assert "scheme=https\n" in body, body  # the CAS itself ended TLS
    assert f"sni={HOST}\n" in body, body
    assert "x_forwarded_for=\n" in body, body  # nothing in between looked at the request


def test_a_client_stays_on_one_cas(node):
    # source persistence: every new connection from this address goes to the same CAS
    first = curl(node, f"https://{HOST}/owa/")[1]["x-served-by"]
    assert {curl(node, f"https://{HOST}/owa/")[1]["x-served-by"] for _ in range(6)} == {first}


def test_plain_http_is_redirected_to_https(node):
    status, headers, _ = curl(node, f"http://{HOST}/owa/")
    assert status == 302 and headers["location"] == f"https://{HOST}/owa/"


def test_imap_clear_and_imaps_forwarded(node):
    clear = imaplib.IMAP4(node, 143, timeout=10)
    assert b"cas" in clear.welcome
    assert clear.login("lab", "labpass")[0] == "OK"
    clear.logout()
    secure = imaplib.IMAP4_SSL(node, 993, ssl_context=tls_context(), timeout=10)
    assert b"cas" in secure.welcome
    assert secure.login("lab", "labpass")[0] == "OK"
    secure.logout()


def test_pop3_clear_and_pop3s_forwarded(node):
    pop3_login(node, 110)
    pop3_login(node, 995, secure=True)  # TLS from the CAS itself, the lab's certificate


def test_smtp_clear_forwarded_to_a_hub_that_names_itself(node, hubs_checked):
    subject = f"fwd-clear-{uuid.uuid4()}"
    with smtplib.SMTP(timeout=15) as smtp:
        code, banner = smtp.connect(node, 25)
        assert code == 220 and banner.startswith((b"hub1", b"hub2")), banner
        smtp.send_message(message(subject))
    assert len(delivered(subject)) == 1


def test_submission_with_starttls_and_auth_passes_through(node, hubs_checked):
    subject = f"fwd-587-{uuid.uuid4()}"
    with smtplib.SMTP(timeout=15) as smtp:
        code, banner = smtp.connect(node, 587)
        assert code == 220 and banner.startswith((b"hub1", b"hub2")), banner
        # TLS ends on the Hub itself, which carries the lab's hub certificate
        smtp.starttls(context=tls_context("hub.mydomain.local"))
        assert smtp.sock.version() in ("TLSv1.2", "TLSv1.3")
        smtp.login("hubuser", "hubpass")
        smtp.send_message(message(subject))
    assert len(delivered(subject)) == 1


def test_services_tab_startup_manual_leaves_haproxy_running_but_not_started_at_boot(host):
    haproxy = host.service("haproxy")
    assert haproxy.is_running
    assert not haproxy.is_enabled


def test_setup_tab_timezone(host):
    assert host.file("/etc/localtime").linked_to.endswith("/zoneinfo/Europe/Paris")
    assert host.run("date +%Z").stdout.strip() in ("CET", "CEST")
