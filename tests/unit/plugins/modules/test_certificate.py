# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the certificate module: main() run in-process against files in tmp_path."""

from __future__ import annotations

import datetime
import json
import os
import re
import stat
import typing as t

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.exchange_lb.appliance.plugins.modules import certificate as module

FIELD = "HTTP(s) Service › Certificate"
HOST = "mail.mydomain.local"
PASSWORD = "s3cret-Pfx!"
DAY = datetime.timedelta(days=1)


class ModuleExit(Exception):
    """exit_json or fail_json was called; ``result`` holds what the module returned."""

    def __init__(self, instance: basic.AnsibleModule, result: dict[str, t.Any], failed: bool) -> None:
        super().__init__(result)
        self.module = instance
        self.result = result
        self.failed = failed


@pytest.fixture(autouse=True)
def fake_exits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    warnings: list[str] = []

    def exit_json(_self: basic.AnsibleModule, **kwargs: t.Any) -> t.NoReturn:
        raise ModuleExit(_self, kwargs, failed=False)

    def fail_json(_self: basic.AnsibleModule, msg: str, **kwargs: t.Any) -> t.NoReturn:
        raise ModuleExit(_self, dict(kwargs, msg=msg), failed=True)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda _self, warning: warnings.append(warning))
    return warnings


def run(args: dict[str, t.Any]) -> ModuleExit:
    with patch_module_args(args):
        with pytest.raises(ModuleExit) as info:
            module.main()
    return info.value


# --- certificates, made with cryptography -------------------------------------------------------


def _cert(
    common_name: str,
    key: t.Any,
    issuer: tuple[x509.Certificate, t.Any] | None = None,
    days: int = 365,
    ca: bool = False,
    dns_san: bool | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - DAY)
        .not_valid_after(now + days * DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if dns_san if dns_san is not None else not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


class Files:
    """A CA, an intermediate and a leaf, written to ``tmp_path`` as the files an admin would upload."""

    def __init__(self, directory: t.Any) -> None:
        self.dir = directory
        ca_key = ec.generate_private_key(ec.SECP384R1())
        self.ca = _cert("MyDomain Root CA", ca_key, ca=True, days=3650)
        inter_key = ec.generate_private_key(ec.SECP256R1())
        self.inter = _cert("MyDomain Issuing CA", inter_key, (self.ca, ca_key), ca=True, days=1000)

        self.key = ec.generate_private_key(ec.SECP256R1())
        self.leaf = _cert(HOST, self.key, (self.inter, inter_key))
        self.soon = _cert(HOST, self.key, (self.inter, inter_key), days=10)
        self.expired = _cert(HOST, self.key, (self.inter, inter_key), days=-1)
        self.self_signed = _cert(HOST, self.key)
        self.cn_only = _cert(HOST, self.key, (self.inter, inter_key), dns_san=False)
        self.ca_leaf = _cert(HOST, self.key, (self.inter, inter_key), ca=True, dns_san=True)
        self.renewed = _cert(HOST, self.key, (self.inter, inter_key), days=400)

    def write(self, name: str, data: bytes) -> str:
        path = self.dir / name
        path.write_bytes(data)
        return str(path)

    def pfx(self, name: str = "mail.pfx", cert: x509.Certificate | None = None, password: str = PASSWORD) -> str:
        data = pkcs12.serialize_key_and_certificates(
            b"exchange",
            self.key,
            cert or self.leaf,
            [self.ca, self.inter],
            serialization.BestAvailableEncryption(password.encode()),
        )
        return self.write(name, data)

    def pem(self, name: str = "mail.pem", cert: x509.Certificate | None = None, chain: bool = True) -> str:
        certs = (self.ca, cert or self.leaf, self.inter) if chain else (cert or self.leaf,)
        data = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
        data += self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return self.write(name, data)

    def expected_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (self.leaf, self.inter, self.ca)) + (
            self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )


@pytest.fixture(name="files")
def fixture_files(tmp_path: t.Any) -> Files:
    return Files(tmp_path)


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# --- checking only ------------------------------------------------------------------------------


def test_good_pfx_is_described(files: Files) -> None:
    result = run({"src": files.pfx(), "password": PASSWORD, "host_name": HOST, "field": FIELD})
    assert not result.failed
    assert result.result["changed"] is False
    assert "dest" not in result.result
    info = result.result["certificate"]
    assert info["common_name"] == HOST
    assert info["subject_alt_names"] == [HOST]
    assert info["issuer"] == "CN=MyDomain Issuing CA"
    assert info["status"] == "valid"
    assert info["self_signed"] is False
    assert info["chain_length"] == 2
    assert info["key_type"] == "EC" and info["key_size"] == 256
    assert info["days_left"] in (364, 365)
    assert info["not_after"].endswith("Z")
    assert PASSWORD not in json.dumps(result.result)


# (case id, (files) -> module args, regex of msg)
REFUSED: list[tuple[str, t.Callable[[Files], dict[str, t.Any]], str]] = [
    ("wrong-password", lambda f: {"src": f.pfx(), "password": "nope"}, r"^HTTP\(s\) Service › Certificate: wrong file password"),
    ("missing-password", lambda f: {"src": f.pfx()}, r"^HTTP\(s\) Service › Certificate: the PKCS#12 file is protected: a file password is required$"),
    ("missing-file", lambda f: {"src": str(f.dir / "nothere.pfx")}, r"cannot read the certificate file .*nothere\.pfx: No such file or directory"),
    ("garbage", lambda f: {"src": f.write("junk.pfx", b"\x00\x01junk" * 10)}, r"the file is not a certificate"),
    ("der", lambda f: {"src": f.write("cert.cer", f.leaf.public_bytes(serialization.Encoding.DER))}, r"lone DER certificate"),
    (
        "wrong-host",
        lambda f: {"src": f.pem(), "host_name": "owa.other.local"},
        r"does not cover the host name owa\.other\.local; it covers: mail\.mydomain\.local",
    ),
    ("expired", lambda f: {"src": f.pem(cert=f.expired)}, r"the certificate expired on .* \(CN=mail\.mydomain\.local\)$"),
    (
        "cn-only",
        lambda f: {"src": f.pem(cert=f.cn_only), "host_name": HOST},
        r"^HTTP\(s\) Service › Certificate: the certificate has no DNS name among its subject alternative names \(SAN\), "
        r"only the common name CN=mail\.mydomain\.local: browsers and phones ignore the common name and refuse it",
    ),
    ("ca-leaf", lambda f: {"src": f.pem(cert=f.ca_leaf)}, r"^HTTP\(s\) Service › Certificate: the certificate is a CA certificate"),
    ("negative-warn-days", lambda f: {"src": f.pem(), "warn_days": -1}, r"warn_days must be 0 or more"),
]


@pytest.mark.parametrize("case, args, pattern", REFUSED, ids=[c[0] for c in REFUSED])
def test_refusals_name_the_field(
    files: Files, case: str, args: t.Callable[[Files], dict[str, t.Any]], pattern: str
) -> None:
    dest = files.dir / "out.pem"
    result = run(dict(args(files), field=FIELD, dest=str(dest)))
    assert result.failed, case
    assert result.result["field"] == FIELD
    assert re.search(pattern, result.result["msg"]), result.result["msg"]
    assert PASSWORD not in json.dumps(result.result)
    assert "nope" not in result.result["msg"]
    assert not dest.exists()


def test_expiring_soon_warns(files: Files, fake_exits: list[str]) -> None:
    result = run({"src": files.pem(cert=files.soon), "field": FIELD})
    assert result.result["certificate"]["status"] == "expires soon"
    assert len(fake_exits) == 1
    assert fake_exits[0].startswith(FIELD + ": the certificate expires in ")


def test_warn_days_zero_is_quiet(files: Files, fake_exits: list[str]) -> None:
    result = run({"src": files.pem(cert=files.soon), "warn_days": 0})
    assert result.result["certificate"]["status"] == "valid"
    assert not fake_exits


def test_the_renewal_in_a_file_with_the_old_certificate_is_installed(files: Files, fake_exits: list[str]) -> None:
    dest = files.dir / "https.pem"
    pem = files.pem(cert=files.leaf).replace(".pem", "-both.pem")
    with open(files.pem(cert=files.leaf), "rb") as old, open(pem, "wb") as both:
        both.write(files.renewed.public_bytes(serialization.Encoding.PEM) + old.read())
    result = run({"src": pem, "host_name": HOST, "field": FIELD, "dest": str(dest)})
    assert not result.failed, result.result
    assert result.result["certificate"]["days_left"] in (399, 400)
    assert x509.load_pem_x509_certificates(dest.read_bytes())[0] == files.renewed
    assert len(fake_exits) == 1 and fake_exits[0].startswith(f"{FIELD}: the file also holds an older certificate for the same key")


def test_self_signed_status(files: Files) -> None:
    result = run({"src": files.pem(cert=files.self_signed, chain=False), "host_name": HOST})
    assert result.result["certificate"]["status"] == "self signed"
    assert result.result["certificate"]["self_signed"] is True
    assert result.result["certificate"]["chain_length"] == 0


def test_self_signed_with_a_foreign_chain_is_refused(files: Files) -> None:
    result = run({"src": files.pem(cert=files.self_signed), "field": FIELD})
    assert result.failed
    assert "does not sign CN=mail.mydomain.local nor any certificate of its chain" in result.result["msg"]


# --- dest ---------------------------------------------------------------------------------------


def test_dest_written_once_then_unchanged(files: Files) -> None:
    dest = str(files.dir / "haproxy" / "https.pem")
    os.mkdir(os.path.dirname(dest))
    args = {"src": files.pfx(), "password": PASSWORD, "dest": dest}
    first = run(args)
    assert first.result["changed"] is True
    assert first.result["dest"] == dest
    with open(dest, "rb") as handle:
        assert handle.read() == files.expected_pem()
    assert _mode(dest) == 0o600
    assert os.listdir(os.path.dirname(dest)) == ["https.pem"]  # no temporary file left behind
    second = run(args)
    assert second.result["changed"] is False
    # the same certificate as a PEM bundle renders the same file
    assert run({"src": files.pem(), "dest": dest}).result["changed"] is False


# (case id, existing content: None | "same" | "other", check mode, expected changed, file written)
CHECK_MODE = [
    ("absent-check", None, True, True, False),
    ("absent-real", None, False, True, True),
    ("same-check", "same", True, False, True),
    ("other-check", "other", True, True, False),
    ("other-real", "other", False, True, True),
]


@pytest.mark.parametrize("case, existing, check_mode, changed, expect_new", CHECK_MODE, ids=[c[0] for c in CHECK_MODE])
def test_check_mode(
    files: Files, case: str, existing: str | None, check_mode: bool, changed: bool, expect_new: bool
) -> None:
    dest = files.dir / "https.pem"
    old = b"old content\n"
    if existing == "same":
        dest.write_bytes(files.expected_pem())
        dest.chmod(0o600)
    elif existing == "other":
        dest.write_bytes(old)
        dest.chmod(0o600)
    result = run({"src": files.pfx(), "password": PASSWORD, "dest": str(dest), "_ansible_check_mode": check_mode})
    assert result.result["changed"] is changed, case
    if expect_new:
        assert dest.read_bytes() == files.expected_pem()
    elif existing is None:
        assert not dest.exists()
    else:
        assert dest.read_bytes() == old


def test_mode_owner_and_default(files: Files) -> None:
    dest = files.dir / "https.pem"
    dest.write_bytes(files.expected_pem())
    dest.chmod(0o644)
    # same content, but the key must not stay world-readable: 0600 is enforced
    result = run({"src": files.pfx(), "password": PASSWORD, "dest": str(dest)})
    assert result.result["changed"] is True
    assert _mode(str(dest)) == 0o600
    # an explicit mode wins
    result = run({"src": files.pfx(), "password": PASSWORD, "dest": str(dest), "mode": "0640"})
    assert result.result["changed"] is True
    assert _mode(str(dest)) == 0o640
    assert run({"src": files.pfx(), "password": PASSWORD, "dest": str(dest), "mode": "0640"}).result["changed"] is False


def test_dest_directory_missing(files: Files) -> None:
    dest = files.dir / "no" / "such" / "dir" / "https.pem"
    result = run({"src": files.pfx(), "password": PASSWORD, "dest": str(dest), "field": FIELD})
    assert result.failed
    assert result.result["msg"] == f"{FIELD}: cannot write the combined PEM file {dest}: No such file or directory"


def test_diff_is_a_summary(files: Files) -> None:
    dest = files.dir / "https.pem"
    dest.write_bytes(b"junk")
    result = run({"src": files.pfx(), "password": PASSWORD, "dest": str(dest), "_ansible_diff": True})
    diff = result.result["diff"]
    assert diff["before"] == {"content": "not a certificate"}
    after = diff["after"]
    assert after["subject"] == "CN=mail.mydomain.local"
    assert after["fingerprint_sha256"] == result.result["certificate"]["fingerprint_sha256"]
    assert after["not_after"] == result.result["certificate"]["not_after"]
    text = json.dumps(diff)
    assert "BEGIN" not in text and PASSWORD not in text
    # the next run: same identity on both sides, nothing changed
    again = run({"src": files.pfx(), "password": PASSWORD, "dest": str(dest), "_ansible_diff": True})
    assert again.result["changed"] is False
    assert again.result["diff"]["before"] == again.result["diff"]["after"]


def test_diff_when_dest_is_new(files: Files) -> None:
    dest = files.dir / "new.pem"
    result = run({"src": files.pem(), "dest": str(dest), "_ansible_diff": True, "_ansible_check_mode": True})
    assert result.result["changed"] is True
    assert result.result["diff"]["before"] == {}
    assert result.result["diff"]["after"]["subject"] == "CN=mail.mydomain.local"
    assert not dest.exists()


def test_password_is_no_log(files: Files) -> None:
    # AnsibleModule masks no_log values in everything it returns or logs
    result = run({"src": files.pfx(), "password": PASSWORD})
    assert PASSWORD in result.module.no_log_values
