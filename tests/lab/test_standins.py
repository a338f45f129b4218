"""The Exchange stand-ins answer like the real servers and name themselves.

Run from the host against a running lab:  lab/lab.sh up && pytest tests/lab
Real clients only: http.client + ssl (lab CA), imaplib, poplib, smtplib, impacket.
"""
from __future__ import annotations

import concurrent.futures
import email
import imaplib
import poplib
import re
import smtplib
import socket
import time
import uuid

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labkit import CAS, ENV, HUBS, http_conn, podman, tcp_open, tls_context  # noqa: E402

from impacket import ntlm
from impacket.dcerpc.v5 import epm, lsat, rrp, transport
from impacket.dcerpc.v5.rpcrt import RPC_C_AUTHN_LEVEL_CONNECT, MSRPCBindAck

CAS_IDS = [c["host"] for c in CAS]
HUB_IDS = [h["host"] for h in HUBS]
SCHEMES = ["http", "https"]
GW = ENV["LAB_GW"]

# (path as a client sends it, canonical vdir name, method)
VDIR_REQUESTS = [
    ("/owa/", "owa", "GET"),
    ("/OWA/auth/logon.aspx", "owa", "POST"),
    ("/ecp/", "ecp", "GET"),
    ("/EWS/Exchange.asmx", "EWS", "POST"),
    ("/ews/exchange.asmx", "EWS", "GET"),
    ("/Microsoft-Server-ActiveSync?Cmd=Sync&User=lab&DeviceId=dev1&DeviceType=test", "Microsoft-Server-ActiveSync", "POST"),
    ("/microsoft-server-activesync", "Microsoft-Server-ActiveSync", "OPTIONS"),
    ("/OAB/", "OAB", "GET"),
    ("/Autodiscover/Autodiscover.xml", "Autodiscover", "POST"),
    ("/autodiscover/autodiscover.xml", "Autodiscover", "GET"),
    ("/rpc/rpcproxy.dll?cas1:6001", "rpc", "RPC_IN_DATA"),
    ("/RPC/rpcproxy.dll?cas1:6002", "rpc", "RPC_OUT_DATA"),
    ("/mapi/emsmdb/", "mapi", "POST"),
    ("/MAPI/nspi/", "mapi", "GET"),
    ("/PowerShell/?serializationLevel=Full", "PowerShell", "POST"),
    ("/powershell/", "PowerShell", "GET"),
]


# ------------------------------------------------------------------ HTTP(S)
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("cas", CAS, ids=CAS_IDS)
def test_every_vdir_answers_and_names_the_host(cas, scheme):
    conn = http_conn(cas["ip"], scheme)
    try:
        for path, vdir, method in VDIR_REQUESTS:
            body = b"<probe/>" if method in ("POST", "RPC_IN_DATA") else None
            conn.request(method, path, body=body, headers={"Host": ENV["LAB_MAIL_FQDN"]})
            resp = conn.getresponse()
            text = resp.read().decode()
            assert resp.status == 200, (method, path, resp.status, text)
            assert resp.getheader("X-Served-By") == cas["host"], (path, resp.getheaders())
            if method != "HEAD":
                assert text == "%s on %s (%s) %s %s\n" % (vdir, cas["host"], scheme, method, path), text
        if scheme == "https":
            assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        conn.close()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("cas", CAS, ids=CAS_IDS)
def test_owa_sets_a_session_cookie(cas, scheme):
    conn = http_conn(cas["ip"], scheme)
    conn.request("GET", "/owa/")
    resp = conn.getresponse()
    resp.read()
    cookie = resp.getheader("Set-Cookie") or ""
    assert re.match(r"X-OWA-Session=%s-[0-9a-f]{32}; Path=/owa; HttpOnly$" % cas["host"], cookie), cookie
    conn.request("GET", "/ecp/")  # other vdirs set no cookie
    resp = conn.getresponse()
    resp.read()
    assert resp.getheader("Set-Cookie") is None
    conn.close()


@pytest.mark.parametrize("cas", CAS, ids=CAS_IDS)
def test_healthcheck_htm_and_sick_switch(cas):
    conn = http_conn(cas["ip"], "https")
    vdirs = ["owa", "ecp", "EWS", "Microsoft-Server-ActiveSync", "OAB", "Autodiscover", "rpc", "mapi"]
    for vdir in vdirs:
        conn.request("GET", "/%s/healthcheck.htm" % vdir)
        resp = conn.getresponse()
        assert (resp.status, resp.read().decode()) == (200, "200 OK<br/>%s\n" % cas["host"]), vdir
        assert resp.getheader("Set-Cookie") is None
    # one sick vdir, then the whole server
    try:
        podman("exec", cas["name"], "touch", "/run/lab-sick-owa")
        conn.request("GET", "/owa/healthcheck.htm")
        resp = conn.getresponse()
        assert resp.status == 503 and cas["host"] in resp.read().decode()
        conn.request("GET", "/ecp/healthcheck.htm")
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        resp.read()
        podman("exec", cas["name"], "touch", "/run/lab-sick")
        conn.request("GET", "/ecp/")
        resp = conn.getresponse()
        assert resp.status == 503 and resp.read().decode() == "sick: %s\n" % cas["host"]
    finally:
        podman("exec", cas["name"], "rm", "-f", "/run/lab-sick", "/run/lab-sick-owa")
    conn.request("GET", "/owa/healthcheck.htm")
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    conn.close()


def _timed_get(ip: str, scheme: str, path: str) -> tuple[float, int, str, str]:
    conn = http_conn(ip, scheme, timeout=15)
    t0 = time.monotonic()
    conn.request("GET", path)
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    return time.monotonic() - t0, resp.status, resp.getheader("X-Served-By"), text


@pytest.mark.parametrize("cas", CAS, ids=CAS_IDS)
def test_long_poll_is_held(cas):
    """ActiveSync Direct Push (Cmd=Ping) and /longpoll hold the request ~N s."""
    n = 2
    jobs = [
        ("https", "/Microsoft-Server-ActiveSync?Cmd=Ping&User=lab&DeviceId=d1&DeviceType=t&s=%d" % n),
        ("http", "/Microsoft-Server-ActiveSync?Cmd=Ping&s=%d" % n),
        ("https", "/longpoll?s=%d" % n),
        ("http", "/longpoll?s=0"),
    ]
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(lambda j: _timed_get(cas["ip"], j[0], j[1]), jobs))
    for (scheme, path), (dt, status, served_by, text) in zip(jobs, results):
        assert status == 200 and served_by == cas["host"], (path, status, text)
        expect = 0 if path.endswith("s=0") else n
        assert expect - 0.05 <= dt <= expect + 1.5, (path, dt)
        assert ("held %d s on %s (%s)" % (expect, cas["host"], scheme)) in text, text


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("cas", CAS, ids=CAS_IDS)
def test_whoami_echoes_client_and_forwarding_headers(cas, scheme):
    conn = http_conn(cas["ip"], scheme)
    conn.request("GET", "/whoami", headers={"X-Forwarded-For": "192.0.2.7, 198.51.100.9",
                                             "X-Forwarded-Proto": "https", "Host": "autodiscover.mydomain.local"})
    resp = conn.getresponse()
    assert resp.status == 200
    seen = dict(line.split("=", 1) for line in resp.read().decode().splitlines())
    conn.close()
    assert seen["host"] == cas["host"]
    assert seen["remote_addr"] == GW  # the host reaches the lab through the bridge address
    assert seen["x_forwarded_for"] == "192.0.2.7, 198.51.100.9"
    assert seen["x_forwarded_proto"] == "https"
    assert seen["http_host"] == "autodiscover.mydomain.local"
    assert seen["scheme"] == scheme
    if scheme == "https":
        assert seen["sni"] == ENV["LAB_MAIL_FQDN"] and seen["ssl_protocol"].startswith("TLSv1.")


# ------------------------------------------------------------------ IMAP / POP3
def _banner_names(banner: bytes | str, host: str):
    text = banner.decode() if isinstance(banner, bytes) else banner
    assert re.search(r"\b%s IMAP/POP3 ready" % re.escape(host), text), text


@pytest.mark.parametrize("cas", CAS, ids=CAS_IDS)
def test_imap_143_plain_login(cas):
    m = imaplib.IMAP4(cas["ip"], 143, timeout=10)
    _banner_names(m.welcome, cas["host"])
    assert "STARTTLS" in m.capabilities
    assert m.login("lab", "labpass")[0] == "OK"  # plaintext allowed in the lab
    typ, data = m.select("INBOX", readonly=True)
    assert typ == "OK" and int(data[0]) >= 1
    m.logout()


@pytest.mark.parametrize("cas", CAS, ids=CAS_IDS)
def test_imap_143_starttls_and_imaps_993(cas):
    ctx = tls_context()  # certificate + name (mail.mydomain.local) verified
    m = _imap_pinned(cas["ip"], 143, ctx, starttls=True)
    assert m.login("lab", "labpass")[0] == "OK"
    typ, data = m.select("INBOX", readonly=True)
    assert typ == "OK" and int(data[0]) >= 1
    typ, data = m.fetch(b"1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"Welcome to the exlb lab mailbox" in data[0][1]
    m.logout()
    m = _imap_pinned(cas["ip"], 993, ctx)
    _banner_names(m.welcome, cas["host"])
    assert m.login("lab", "labpass")[0] == "OK"
    m.logout()


class _PinnedIMAP(imaplib.IMAP4):
    """IMAP4 to an IP, TLS verified against the mail name (STARTTLS or implicit)."""

    def __init__(self, ip, port, ctx, implicit):
        self._ctx, self._implicit, self._ip = ctx, implicit, ip
        super().__init__(ENV["LAB_MAIL_FQDN"], port, timeout=10)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self._ip, self.port), timeout)
        if self._implicit:
            return self._ctx.wrap_socket(sock, server_hostname=self.host)
        return sock


def _imap_pinned(ip, port, ctx, starttls=False):
    m = _PinnedIMAP(ip, port, ctx, implicit=(port == 993))
    if starttls:
        m.starttls(ssl_context=ctx)  # imaplib passes server_hostname=self.host
        assert m.sock.version().startswith("TLSv1.")
    return m


class _PinnedPOP3(poplib.POP3):
    def __init__(self, ip, port, ctx, implicit):
        self._ip, self._ctx, self._implicit = ip, ctx, implicit
        self.host, self.port = ENV["LAB_MAIL_FQDN"], port
        self._tls_established = False
        self.sock = socket.create_connection((ip, port), 10)
        if implicit:
            self.sock = ctx.wrap_socket(self.sock, server_hostname=self.host)
            self._tls_established = True
        self.file = self.sock.makefile("rb")
        self._debugging = 0
        self.welcome = self._getresp()


@pytest.mark.parametrize("cas", CAS, ids=CAS_IDS)
def test_pop3_110_plain_and_stls(cas):
    p = poplib.POP3(cas["ip"], 110, timeout=10)
    _banner_names(p.getwelcome(), cas["host"])
    p.user("lab")
    p.pass_("labpass")
    count, size = p.stat()
    assert count >= 1 and size > 0
    p.quit()

    ctx = tls_context()
    p = _PinnedPOP3(cas["ip"], 110, ctx, implicit=False)
    _banner_names(p.getwelcome(), cas["host"])
    p.stls(context=ctx)  # certificate checked against mail.mydomain.local
    p.user("lab")
    p.pass_("labpass")
    assert p.stat()[0] >= 1
    top = b"\n".join(p.top(1, 0)[1])
    assert b"Subject: Welcome to the exlb lab mailbox" in top
    p.quit()


@pytest.mark.parametrize("cas", CAS, ids=CAS_IDS)
def test_pop3s_995(cas):
    p = _PinnedPOP3(cas["ip"], 995, tls_context(), implicit=True)
    _banner_names(p.getwelcome(), cas["host"])
    p.user("lab")
    p.pass_("labpass")
    assert p.stat()[0] >= 1
    p.quit()


# ------------------------------------------------------------------ DCE/RPC
def _ntlm_names(ip: str, port: int, iface_uuid: bytes) -> tuple[str, str]:
    """Bind with NTLM (auth level connect); the server's challenge carries its names."""
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[%d]" % (ip, port))
    t.set_credentials("probe", "probe", "LAB")
    t.set_connect_timeout(5)
    dce = t.get_dce_rpc()
    dce.set_auth_level(RPC_C_AUTHN_LEVEL_CONNECT)
    dce.connect()
    try:
        resp = dce.bind(iface_uuid)
        ack = MSRPCBindAck(resp.getData())
        av = ntlm.AV_PAIRS(ntlm.NTLMAuthChallenge(ack["auth_data"])["TargetInfoFields"])
        return (av[ntlm.NTLMSSP_AV_HOSTNAME][1].decode("utf-16le"),
                av[ntlm.NTLMSSP_AV_DNS_HOSTNAME][1].decode("utf-16le"))
    finally:
        dce.disconnect()


def _ept_map(ip: str, iface_uuid: bytes) -> str:
    last = None
    for _ in range(10):  # registration follows the listeners by a few ms after a restart
        try:
            return epm.hept_map(ip, iface_uuid, protocol="ncacn_ip_tcp")
        except Exception as exc:  # noqa: BLE001 - impacket raises its own hierarchy
            last = exc
            time.sleep(0.3)
    raise AssertionError("ept_map on %s failed: %s" % (ip, last))


@pytest.mark.parametrize("cas", CAS, ids=CAS_IDS)
def test_endpoint_mapper_135_maps_to_60000_and_60001(cas):
    # ept_map (what Outlook does); ept_lookup/rpcdump does not work on samba 4.17
    assert _ept_map(cas["ip"], lsat.MSRPC_UUID_LSAT) == "ncacn_ip_tcp:%s[60000]" % cas["ip"]
    assert _ept_map(cas["ip"], rrp.MSRPC_UUID_RRP) == "ncacn_ip_tcp:%s[60001]" % cas["ip"]
    assert _ept_map(cas["ip"], epm.MSRPC_UUID_PORTMAP) == "ncacn_ip_tcp:%s[135]" % cas["ip"]


@pytest.mark.parametrize("cas", CAS, ids=CAS_IDS)
def test_rpc_ports_are_real_endpoints_naming_the_host(cas):
    for port, iface in ((135, epm.MSRPC_UUID_PORTMAP), (60000, lsat.MSRPC_UUID_LSAT), (60001, rrp.MSRPC_UUID_RRP)):
        nb_name, dns_name = _ntlm_names(cas["ip"], port, iface)
        assert (nb_name, dns_name) == (cas["host"].upper(), cas["host"]), port


# ------------------------------------------------------------------ SMTP (hub)
def _mailbox_message(hub: dict, subject: str, timeout: float = 8) -> email.message.Message:
    deadline = time.monotonic() + timeout
    while True:
        r = podman("exec", hub["name"], "cat", "/var/mail/hubuser", check=False)
        for chunk in re.split(r"(?m)^From ", r.stdout)[1:]:
            msg = email.message_from_string(chunk.split("\n", 1)[1])
            if msg["Subject"] == subject:
                return msg
        if time.monotonic() >= deadline:
            raise AssertionError("message %r not delivered to hubuser on %s" % (subject, hub["host"]))
        time.sleep(0.2)


def _message(subject: str, to: str) -> str:
    return "From: tester@mydomain.local\r\nTo: %s\r\nSubject: %s\r\n\r\nlab test\r\n" % (to, subject)


def _assert_received_by(msg, hub: dict, with_: str):
    received = msg.get_all("Received")[0]
    assert re.search(r"by %s(\.mydomain\.local)? \(Postfix\) with %s " % (hub["host"], with_), received), received


def _smtp(hub: dict, port: int) -> smtplib.SMTP:
    s = smtplib.SMTP(timeout=10)
    code, banner = s.connect(hub["ip"], port)
    s._host = hub["host"]  # the name STARTTLS verifies the certificate against
    assert code == 220 and re.match(r"%s(\.mydomain\.local)? ESMTP " % hub["host"], banner.decode()), banner
    return s


@pytest.mark.parametrize("hub", HUBS, ids=HUB_IDS)
def test_smtp_25_plain_delivers_with_received_header(hub):
    subject = "lab-plain-%s" % uuid.uuid4()
    s = _smtp(hub, 25)
    s.ehlo("tester.mydomain.local")
    refused = s.sendmail("tester@mydomain.local", ["hubuser@mydomain.local"], _message(subject, "hubuser@mydomain.local"))
    s.quit()
    assert refused == {}
    _assert_received_by(_mailbox_message(hub, subject), hub, "ESMTP")


@pytest.mark.parametrize("hub", HUBS, ids=HUB_IDS)
def test_smtp_25_starttls_delivers(hub):
    subject = "lab-starttls-%s" % uuid.uuid4()
    s = _smtp(hub, 25)
    s.ehlo("tester.mydomain.local")
    assert s.has_extn("starttls")
    s.starttls(context=tls_context())  # hub cert: hub1/hub2 are SANs
    assert s.sock.version().startswith("TLSv1.")
    s.ehlo("tester.mydomain.local")
    to = "hubuser@%s" % hub["host"]
    assert s.sendmail("tester@mydomain.local", [to], _message(subject, to)) == {}
    s.quit()
    _assert_received_by(_mailbox_message(hub, subject), hub, "ESMTPS")


@pytest.mark.parametrize("hub", HUBS, ids=HUB_IDS)
def test_submission_587_requires_tls_before_auth(hub):
    s = _smtp(hub, 587)
    s.ehlo("tester.mydomain.local")
    assert not s.has_extn("auth")
    with pytest.raises(smtplib.SMTPNotSupportedError):
        s.login("hubuser", "hubpass")
    code, text = s.mail("hubuser@mydomain.local")
    assert code == 530 and b"STARTTLS" in text
    s.close()


@pytest.mark.parametrize("hub", HUBS, ids=HUB_IDS)
def test_submission_587_starttls_auth_delivers(hub):
    subject = "lab-submission-%s" % uuid.uuid4()
    s = _smtp(hub, 587)
    s.ehlo("tester.mydomain.local")
    s.starttls(context=tls_context())
    s.ehlo("tester.mydomain.local")
    assert s.has_extn("auth")
    code, _ = s.login("hubuser", "hubpass")
    assert code == 235
    assert s.sendmail("hubuser@mydomain.local", ["hubuser@mydomain.local"],
                      _message(subject, "hubuser@mydomain.local")) == {}
    s.quit()
    _assert_received_by(_mailbox_message(hub, subject), hub, "ESMTPSA")


@pytest.mark.parametrize("hub", HUBS, ids=HUB_IDS)
def test_hub_is_not_a_cas(hub):
    assert not tcp_open(hub["ip"], 443) and not tcp_open(hub["ip"], 143)
