"""The lab itself: apt proxy, node image, ssh access to the LB nodes, PKI files.

Run from the host against a running lab (lab/lab.sh up). The LB-node ssh tests
skip, with the reason, when the lab was started with --standins-only.
"""
from __future__ import annotations

import datetime as dt
import http.client
import json
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labkit import ENV, NODES, PKI, REPO, STANDINS, podman, tcp_open  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: E402

GW, PROXY_PORT = ENV["LAB_GW"], int(ENV["LAB_PROXY_PORT"])
NODE_IMAGE = ENV["LAB_NODE_IMAGE"]


def _mirrors() -> dict[str, str]:
    out = subprocess.run([sys.executable, str(REPO / "lab" / "aptproxy.py"), "--print-mirrors"],
                         check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.split())


def _proxy(method: str, url: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(GW, PROXY_PORT, timeout=20)
    conn.request(method, url)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


# ------------------------------------------------------------------ apt proxy
def test_apt_proxy_refuses_other_hosts_and_methods():
    assert tcp_open(GW, PROXY_PORT), "apt proxy not listening on %s:%d" % (GW, PROXY_PORT)
    status, body = _proxy("GET", "http://not-a-mirror.invalid/debian/dists/bookworm/Release")
    assert status == 403 and b"not an allowed" in body
    main = _mirrors()["LAB_MIRROR_MAIN"].replace("https://", "http://")
    status, _ = _proxy("POST", main + "/dists/")
    assert status == 405
    status, _ = _proxy("GET", main.rsplit("/", 1)[0] + "/../etc/passwd")
    assert status == 403


def test_apt_works_inside_the_lab_through_the_proxy():
    """A stand-in (internal network, no route out) runs apt-get update via the proxy."""
    r = podman("exec", STANDINS[0]["name"], "apt-get", "-q", "-o", "Acquire::Retries=2", "update", timeout=120)
    assert "Reading package lists" in r.stdout
    assert "Err:" not in r.stdout, r.stdout
    r = podman("exec", STANDINS[0]["name"], "ip", "-4", "route", "show", "default", check=False)
    assert r.stdout.strip() == "", "the lab network must have no default route: %r" % r.stdout


# ------------------------------------------------------------------ node image
def test_node_image_is_a_plain_customer_vm():
    script = r"""
set -e
for p in haproxy keepalived stunnel4; do ! dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q installed || { echo "has $p"; exit 1; }; done
for p in openssh-server python3 python3-apt sudo systemd-sysv dbus iproute2 procps ca-certificates iputils-ping; do dpkg-query -W -f='${Status}\n' $p | grep -q 'install ok installed'; done
id ansible
sudo -l -U ansible | grep -q 'NOPASSWD: ALL'
/usr/sbin/sshd -T -f /etc/ssh/sshd_config -h /dev/null 2>/dev/null | grep -qi '^passwordauthentication no' || grep -q '^PasswordAuthentication no' /etc/ssh/sshd_config.d/10-lab.conf
ls /etc/ssh/ssh_host_* 2>/dev/null && { echo "baked host key"; exit 1; } || true
grep -q 'Acquire::http::Proxy "%s"' /etc/apt/apt.conf.d/01lab-proxy
grep -q '^URIs: http://' /etc/apt/sources.list.d/debian.sources
echo OK
""" % ENV["LAB_APT_PROXY"]
    r = podman("run", "--rm", "--network", "none", NODE_IMAGE, "bash", "-c", script, check=False, timeout=60)
    assert r.returncode == 0 and r.stdout.strip().endswith("OK"), r.stdout + r.stderr


def test_container_capabilities():
    caps = {}
    for n in NODES + STANDINS:
        r = podman("inspect", "--format", "{{.EffectiveCaps}}", n["name"], check=False)
        if r.returncode == 0:
            caps[n["role"]] = r.stdout
    assert "cas" in caps and "hub" in caps
    for role in ("cas", "hub"):
        assert "CAP_NET_ADMIN" not in caps[role] and "CAP_NET_RAW" not in caps[role], caps[role]
    if "lb" in caps:
        for cap in ("CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_ADMIN"):
            assert cap in caps["lb"], caps["lb"]


# ------------------------------------------------------------------ LB nodes over ssh
def _ssh(ip: str, *cmd: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-i", ENV["LAB_SSH_KEY"], "-o", "StrictHostKeyChecking=yes",
         "-o", "UserKnownHostsFile=" + ENV["LAB_KNOWN_HOSTS"], "-o", "BatchMode=yes",
         "-o", "ConnectTimeout=5", *extra, "%s@%s" % (ENV["LAB_SSH_USER"], ip), *cmd],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("node", NODES, ids=[n["host"] for n in NODES])
def test_lb_node_ssh_with_strict_host_keys_and_sudo(node):
    if podman("container", "exists", node["name"], check=False).returncode != 0:
        pytest.skip("%s not running (lab started with --standins-only)" % node["name"])
    r = _ssh(node["ip"], "sudo -n sh -c 'id -u; hostname'")  # ssh joins argv into one remote command
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", node["host"]]
    r = _ssh(node["ip"], "true", extra=("-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no"))
    assert r.returncode != 0 and "Permission denied" in r.stderr


# ------------------------------------------------------------------ PKI
def _index() -> dict:
    return json.loads((PKI / "index.json").read_text())


def _cert(rel: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((PKI / rel).read_bytes())


def test_pki_index_lists_existing_files():
    entries = _index()["entries"]
    for key, e in entries.items():
        assert e["purpose"], key
        for rel in e["files"].values():
            assert (PKI / rel).is_file(), (key, rel)
    for needed in ("ca", "mail", "mail_ecdsa", "hub", "bad_expired", "bad_not_yet_valid", "bad_wrong_host",
                   "bad_key_mismatch", "bad_weak_rsa1024", "bad_self_signed", "bad_pfx_wrong_password",
                   "bad_not_a_cert", "bad_cn_only", "bad_ca_leaf", "bad_no_digital_signature", "bad_sha1",
                   "bad_sha1_intermediate"):
        assert needed in entries, needed


@pytest.mark.parametrize("key", ["mail", "mail_ecdsa", "hub"])
def test_good_certificates_verify_and_match_their_keys(key):
    e = _index()["entries"][key]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(PKI / e["files"]["fullchain"], PKI / e["files"]["key"])
    ctx.load_cert_chain(PKI / e["files"]["pem"])  # combined cert+chain+key
    r = subprocess.run(["openssl", "verify", "-CAfile", str(PKI / "ca.crt"), "-untrusted", str(PKI / "chain.crt"),
                        str(PKI / e["files"]["crt"])], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    k, c, chain = pkcs12.load_key_and_certificates((PKI / e["files"]["pfx"]).read_bytes(), b"labpfx")
    assert c == _cert(e["files"]["crt"]) and len(chain) == 1 and k is not None


def test_bad_certificates_are_bad_in_the_documented_way():
    entries = _index()["entries"]
    now = dt.datetime.now(dt.timezone.utc)
    exp = _cert(entries["bad_expired"]["files"]["crt"])
    assert dt.datetime.fromisoformat(entries["bad_expired"]["not_after"]) < now
    nyv = dt.datetime.fromisoformat(entries["bad_not_yet_valid"]["not_before"])
    assert nyv > now
    assert exp.issuer == _cert("intermediate.crt").subject
    wrong = _cert(entries["bad_wrong_host"]["files"]["crt"])
    names = wrong.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert ENV["LAB_MAIL_FQDN"] not in names
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ssl.SSLError):
        ctx.load_cert_chain(PKI / entries["bad_key_mismatch"]["files"]["crt"], PKI / entries["bad_key_mismatch"]["files"]["key"])
    weak = _cert(entries["bad_weak_rsa1024"]["files"]["crt"])
    assert weak.public_key().key_size == 1024
    ss = _cert(entries["bad_self_signed"]["files"]["crt"])
    assert ss.issuer == ss.subject
    pfx = (PKI / entries["bad_pfx_wrong_password"]["files"]["pfx"]).read_bytes()
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(pfx, b"labpfx")
    assert pkcs12.load_key_and_certificates(pfx, entries["bad_pfx_wrong_password"]["actual_password"].encode())[1]
    with pytest.raises(ValueError):
        x509.load_pem_x509_certificate((PKI / entries["bad_not_a_cert"]["files"]["crt"]).read_bytes())
    r = subprocess.run(["openssl", "verify", "-CAfile", str(PKI / "ca.crt"), "-untrusted", str(PKI / "chain.crt"),
                        str(PKI / entries["bad_expired"]["files"]["crt"])], capture_output=True, text=True)
    assert r.returncode != 0 and "expired" in (r.stdout + r.stderr)
    # what the certificate check refuses although the chain verifies (tests/unit/test_lab_pki_refusals.py: why)
    cn_only = _cert(entries["bad_cn_only"]["files"]["crt"])
    with pytest.raises(x509.ExtensionNotFound):
        cn_only.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert _cert(entries["bad_ca_leaf"]["files"]["crt"]).extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = _cert(entries["bad_no_digital_signature"]["files"]["crt"]).extensions.get_extension_for_class(x509.KeyUsage)
    assert not usage.value.digital_signature
    assert _cert(entries["bad_sha1"]["files"]["crt"]).signature_hash_algorithm.name == "sha1"
    r = subprocess.run(["openssl", "verify", "-auth_level", "0", "-CAfile", str(PKI / "ca.crt"), "-untrusted",
                        str(PKI / "chain.crt"), str(PKI / entries["bad_sha1"]["files"]["crt"])], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr  # a real SHA-1 signature of the lab's issuing CA
