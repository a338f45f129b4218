# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the certificate module util; every certificate is made here, with cryptography."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import ipaddress
import json
import os
import re
import typing as t

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.exchange_lb.appliance.plugins.module_utils import _certificate as certificate
from ansible_collections.exchange_lb.appliance.plugins.module_utils._certificate import CertificateError

NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
FIELD = "HTTP(s) Service › Certificate"
HOST = "mail.mydomain.local"
PASSWORD = "s3cret-Pfx!"
HOUR = datetime.timedelta(hours=1)
UNTIL = "2027-06-01 12:00:00 UTC"


# --- a small PKI, made once per session ----------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]) if common_name else x509.Name([])


def make_cert(
    common_name: str,
    key: t.Any,
    issuer: tuple[x509.Certificate, t.Any] | None = None,
    *,
    sans: list[str] | None = None,
    not_before: datetime.datetime = NOW - 30 * DAY,
    not_after: datetime.datetime = NOW + 365 * DAY,
    ca: bool = False,
    eku: list[x509.ObjectIdentifier] | None = None,
    serial: int = 0x1A2B3C4D,
    key_usage: x509.KeyUsage | None = None,
) -> x509.Certificate:
    """A certificate for ``key``, signed by ``issuer`` (certificate, key) or self-signed."""
    issuer_name = issuer[0].subject if issuer else _name(common_name)
    signing_key = issuer[1] if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        names: list[x509.GeneralName] = []
        for san in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                names.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if key_usage:
        builder = builder.add_extension(key_usage, critical=True)
    algorithm = None if isinstance(signing_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signing_key, algorithm)


def key_usage(*usages: str) -> x509.KeyUsage:
    """A keyUsage extension with the given usages (``digital_signature``, ``key_encipherment``, ...)."""
    names = (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
        "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
    )
    return x509.KeyUsage(**{name: name in usages for name in names})


SHA256_WITH_RSA = bytes.fromhex("06092a864886f70d01010b")
WEAK_SIGNATURES = {
    "SHA-1": (hashes.SHA1(), bytes.fromhex("06092a864886f70d010105")),  # sha1WithRSAEncryption
    "MD5": (hashes.MD5(), bytes.fromhex("06092a864886f70d010104")),  # md5WithRSAEncryption
}


def weakly_signed(cert: x509.Certificate, issuer_key: rsa.RSAPrivateKey, weak: str) -> x509.Certificate:
    """``cert`` (signed sha256WithRSA by ``issuer_key``) signed again with SHA-1 or MD5.

    cryptography's builder no longer signs with those, as CAs no longer do: the two
    sha256WithRSAEncryption OIDs (in the signed part and outside it) become the weak
    one, of the same length, and the signed part is signed again by hand.
    """
    algorithm, oid = WEAK_SIGNATURES[weak]
    der = cert.public_bytes(serialization.Encoding.DER)
    assert der.count(SHA256_WITH_RSA) == 2 and der.endswith(cert.signature)
    der = der.replace(SHA256_WITH_RSA, oid)
    try:
        signature = issuer_key.sign(x509.load_der_x509_certificate(der).tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
    except Exception:  # pylint: disable=broad-exception-caught
        pytest.skip(f"this OpenSSL build does not sign with {weak}")
    assert len(signature) == len(cert.signature)
    weak_cert = x509.load_der_x509_certificate(der[: -len(signature)] + signature)
    assert isinstance(weak_cert.signature_hash_algorithm, type(algorithm))
    return weak_cert


def pem(*items: t.Any, password: str | None = None, newline: bytes = b"\n") -> bytes:
    """Certificates and keys as one PEM file, in the given order."""
    out = b""
    for item in items:
        if isinstance(item, x509.Certificate):
            out += item.public_bytes(serialization.Encoding.PEM)
        else:
            encryption: serialization.KeySerializationEncryption = (
                serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
            )
            out += item.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return out.replace(b"\n", newline)


def pfx(key: t.Any, cert: x509.Certificate, chain: list[x509.Certificate], password: str | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return pkcs12.serialize_key_and_certificates(b"exchange", key, cert, chain, encryption)


def legacy_pfx(key: t.Any, cert: x509.Certificate, chain: list[x509.Certificate], password: str) -> bytes:
    """3DES/SHA-1, as older Windows exports are."""
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(2048)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(password.encode())
    )
    return pkcs12.serialize_key_and_certificates(b"exchange", key, cert, chain, encryption)


@dataclasses.dataclass
class Pki:
    root_key: t.Any
    root: x509.Certificate
    inter_key: t.Any
    inter: x509.Certificate
    key: t.Any
    leaf: x509.Certificate
    other_key: t.Any
    other_root: x509.Certificate
    rsa_key: t.Any
    rsa_leaf: x509.Certificate
    self_signed: x509.Certificate

    def issue(self, common_name: str = HOST, key: t.Any = None, **kwargs: t.Any) -> x509.Certificate:
        """A leaf issued by the intermediate CA."""
        kwargs.setdefault("sans", [common_name] if common_name else None)
        return make_cert(common_name, key or self.key, (self.inter, self.inter_key), **kwargs)

    def issued_with(self, key: t.Any) -> tuple[x509.Certificate, t.Any, list[x509.Certificate]]:
        """A leaf for ``key`` issued by the intermediate CA, as (certificate, key, chain)."""
        return self.issue(key=key), key, []

    def issued_by_weak_intermediate(self) -> tuple[x509.Certificate, t.Any, list[x509.Certificate]]:
        weak_key = _weak_rsa()
        weak = make_cert("Weak Issuing CA", weak_key, (self.root, self.root_key), ca=True)
        return make_cert(HOST, self.key, (weak, weak_key), sans=[HOST]), self.key, [weak, self.root]

    def weak_leaf(self, weak: str) -> tuple[x509.Certificate, t.Any, list[x509.Certificate]]:
        """A leaf signed by the (RSA) root with SHA-1 or MD5."""
        return weakly_signed(make_cert(HOST, self.key, (self.root, self.root_key), sans=[HOST]), self.root_key, weak), self.key, [self.root]

    def weak_intermediate(self, weak: str) -> tuple[x509.Certificate, t.Any, list[x509.Certificate]]:
        """A SHA-256 leaf whose intermediate (RSA) the root signed with SHA-1 or MD5."""
        inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        inter = make_cert("Old Issuing CA", inter_key, (self.root, self.root_key), ca=True)
        leaf = make_cert(HOST, self.key, (inter, inter_key), sans=[HOST])
        return leaf, self.key, [weakly_signed(inter, self.root_key, weak), self.root]

    def weak_root(self) -> tuple[x509.Certificate, t.Any, list[x509.Certificate]]:
        """A SHA-256 leaf and intermediate under a root that signed itself with SHA-1 (a trust anchor: fine)."""
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        root = weakly_signed(make_cert("Old Root CA", root_key, ca=True), root_key, "SHA-1")
        inter_key = ec.generate_private_key(ec.SECP256R1())
        inter = make_cert("Old Issuing CA", inter_key, (root, root_key), ca=True)
        return make_cert(HOST, self.key, (inter, inter_key), sans=[HOST]), self.key, [inter, root]

    def bundle(self, cert: x509.Certificate | None = None, key: t.Any = None, chain: bool = True) -> bytes:
        return pem(cert or self.leaf, *((self.inter, self.root) if chain else ()), key or self.key)


@pytest.fixture(scope="session", name="pki")
def fixture_pki() -> Pki:
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = make_cert("MyDomain Root CA", root_key, ca=True, not_before=NOW - 3650 * DAY, not_after=NOW + 3650 * DAY)
    inter_key = ec.generate_private_key(ec.SECP384R1())
    inter = make_cert("MyDomain Issuing CA", inter_key, (root, root_key), ca=True, not_after=NOW + 1000 * DAY)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = make_cert(HOST, key, (inter, inter_key), sans=[HOST, "autodiscover.mydomain.local"])
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_root = make_cert("Other Root CA", other_key, ca=True)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_leaf = make_cert(HOST, rsa_key, (inter, inter_key), sans=[HOST])
    self_signed = make_cert(HOST, key, sans=[HOST])
    return Pki(root_key, root, inter_key, inter, key, leaf, other_key, other_root, rsa_key, rsa_leaf, self_signed)


def chain_names(bundle: certificate.Bundle) -> list[str]:
    return [certificate.describe(cert) for cert in (bundle.certificate, *bundle.chain)]


# --- loading -------------------------------------------------------------------------------------

FULL_CHAIN = ["CN=mail.mydomain.local", "CN=MyDomain Issuing CA", "CN=MyDomain Root CA"]

# (case id, file builder -> (data, password), expected chain, expected source format)
LOAD_OK: list[tuple[str, t.Callable[[Pki], tuple[bytes, str | None]], list[str], str]] = [
    ("pem-in-order", lambda p: (pem(p.leaf, p.inter, p.root, p.key), None), FULL_CHAIN, "PEM"),
    ("pem-key-first-chain-reversed", lambda p: (pem(p.key, p.root, p.inter, p.leaf), None), FULL_CHAIN, "PEM"),
    ("pem-shuffled", lambda p: (pem(p.root, p.key, p.leaf, p.inter), None), FULL_CHAIN, "PEM"),
    ("pem-crlf", lambda p: (pem(p.leaf, p.inter, p.key, newline=b"\r\n"), None), FULL_CHAIN[:2], "PEM"),
    ("pem-no-chain", lambda p: (pem(p.leaf, p.key), None), FULL_CHAIN[:1], "PEM"),
    ("pem-duplicates", lambda p: (pem(p.leaf, p.inter, p.inter, p.leaf, p.key), None), FULL_CHAIN[:2], "PEM"),
    ("pem-encrypted-key", lambda p: (pem(p.leaf, p.inter, p.key, password=PASSWORD), PASSWORD), FULL_CHAIN[:2], "PEM"),
    ("pem-password-not-needed", lambda p: (pem(p.leaf, p.key), PASSWORD), FULL_CHAIN[:1], "PEM"),
    ("pem-rsa", lambda p: (pem(p.rsa_key, p.rsa_leaf), None), FULL_CHAIN[:1], "PEM"),
    ("pem-self-signed", lambda p: (pem(p.self_signed, p.key), None), FULL_CHAIN[:1], "PEM"),
    (
        "pem-openssl-bag-attributes",
        lambda p: (b"Bag Attributes\n    friendlyName: exchange\n" + pem(p.key) + b"subject=CN = x\n" + pem(p.leaf), None),
        FULL_CHAIN[:1],
        "PEM",
    ),
    ("pfx-password", lambda p: (pfx(p.key, p.leaf, [p.inter, p.root], PASSWORD), PASSWORD), FULL_CHAIN, "PKCS#12"),
    ("pfx-chain-reversed", lambda p: (pfx(p.key, p.leaf, [p.root, p.inter], PASSWORD), PASSWORD), FULL_CHAIN, "PKCS#12"),
    ("pfx-no-password", lambda p: (pfx(p.key, p.leaf, [], None), None), FULL_CHAIN[:1], "PKCS#12"),
    ("pfx-no-password-given-one", lambda p: (pfx(p.key, p.leaf, [], None), PASSWORD), FULL_CHAIN[:1], "PKCS#12"),
    ("pfx-empty-password", lambda p: (pfx(p.key, p.leaf, [p.inter], None), ""), FULL_CHAIN[:2], "PKCS#12"),
    ("pfx-legacy-3des", lambda p: (legacy_pfx(p.key, p.leaf, [p.inter], PASSWORD), PASSWORD), FULL_CHAIN[:2], "PKCS#12"),
    # a .pfx pasted into an AWX credential as base64, on one line (base64 -w0) or wrapped (base64)
    ("pfx-base64", lambda p: (base64.b64encode(pfx(p.key, p.leaf, [p.inter], PASSWORD)), PASSWORD), FULL_CHAIN[:2], "PKCS#12"),
    (
        "pfx-base64-wrapped",
        lambda p: (base64.encodebytes(pfx(p.key, p.leaf, [p.inter, p.root], None)), None),
        FULL_CHAIN,
        "PKCS#12",
    ),
    (
        "pfx-unicode-password",
        lambda p: (pfx(p.key, p.leaf, [], "pässwörd"), "pässwörd"),
        FULL_CHAIN[:1],
        "PKCS#12",
    ),
]


@pytest.mark.parametrize("case, build, expected_chain, source_format", LOAD_OK, ids=[case[0] for case in LOAD_OK])
def test_load_bundle_accepts(
    pki: Pki,
    case: str,
    build: t.Callable[[Pki], tuple[bytes, str | None]],
    expected_chain: list[str],
    source_format: str,
) -> None:
    data, password = build(pki)
    bundle = certificate.load_bundle(data, password, field=FIELD)
    assert chain_names(bundle) == expected_chain, case
    assert bundle.source_format == source_format
    assert certificate.combined_pem(bundle).endswith(b"-----END PRIVATE KEY-----\n")


# (case id, file builder -> (data, password), regex the message must match after the field)
LOAD_REFUSED: list[tuple[str, t.Callable[[Pki], tuple[bytes, str | None]], str]] = [
    ("empty", lambda p: (b" \n", None), r"the certificate file is empty"),
    ("garbage", lambda p: (os.urandom(64) + b"garbage", None), r"the file is not a certificate \(expected a PEM"),
    ("text", lambda p: (b"hello, this is not a certificate\n", None), r"the file is not a certificate"),
    ("base64-text", lambda p: (base64.b64encode(b"hello, this is not a certificate"), None), r"the file is not a certificate"),
    ("base64-garbage", lambda p: (base64.b64encode(b"0" + bytes(range(64))), None), r"the file is not a certificate"),
    ("base64-wrong-password", lambda p: (base64.b64encode(pfx(p.key, p.leaf, [], PASSWORD)), "nope"), r"wrong file password"),
    (
        "pem-damaged",
        lambda p: (b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n", None),
        r"the file holds neither a certificate nor a private key",
    ),
    ("der-certificate", lambda p: (p.leaf.public_bytes(serialization.Encoding.DER), None), r"lone DER certificate \(CN=mail"),
    ("pem-no-key", lambda p: (pem(p.leaf, p.inter), None), r"holds no private key for the certificate \(CN=mail\.mydomain\.local\)"),
    ("pem-key-only", lambda p: (pem(p.key), None), r"holds a private key but no readable certificate"),
    ("pem-key-mismatch", lambda p: (pem(p.leaf, p.inter, p.other_key), None), r"private key does not match the certificate \(CN=mail"),
    ("pem-password-required", lambda p: (pem(p.leaf, p.key, password=PASSWORD), None), r"private key is encrypted: a file password is required"),
    ("pem-wrong-password", lambda p: (pem(p.leaf, p.key, password=PASSWORD), "nope"), r"wrong file password"),
    ("pfx-password-required", lambda p: (pfx(p.key, p.leaf, [], PASSWORD), None), r"PKCS#12 file is protected: a file password is required"),
    ("pfx-wrong-password", lambda p: (pfx(p.key, p.leaf, [], PASSWORD), "nope"), r"wrong file password: the PKCS#12 file cannot be decrypted"),
    ("pfx-truncated", lambda p: (pfx(p.key, p.leaf, [], PASSWORD)[:200], PASSWORD), r"not a certificate|wrong file password"),
    (
        # cryptography will not pair a key with a foreign certificate, so the certificate goes in as a CA one
        "pfx-key-mismatch",
        lambda p: (pkcs12.serialize_key_and_certificates(b"x", p.other_key, None, [p.leaf], serialization.NoEncryption()), None),
        r"private key does not match the certificate \(CN=mail",
    ),
    (
        "chain-unrelated-ca",
        lambda p: (pem(p.leaf, p.inter, p.other_root, p.key), None),
        r"the chain certificate CN=Other Root CA does not sign CN=MyDomain Issuing CA nor any certificate of its chain",
    ),
    (
        "chain-missing-intermediate",
        lambda p: (pem(p.leaf, p.root, p.key), None),
        r"CN=MyDomain Root CA does not sign CN=mail\.mydomain\.local .*issued to CN=MyDomain Issuing CA",
    ),
    (
        "chain-impostor-issuer",
        lambda p: (pem(p.leaf, make_cert("MyDomain Issuing CA", p.other_key, ca=True), p.key), None),
        r"CN=MyDomain Issuing CA has the name of the issuer of CN=mail\.mydomain\.local but did not sign it",
    ),
    (
        # a SHA-1 signature is checked by hand: a stranger of the issuer's name is still caught
        "chain-impostor-issuer-sha1",
        lambda p: (
            pem(
                weakly_signed(make_cert(HOST, p.key, (p.root, p.root_key), sans=[HOST]), p.root_key, "SHA-1"),
                make_cert("MyDomain Root CA", p.rsa_key, ca=True),
                p.key,
            ),
            None,
        ),
        r"CN=MyDomain Root CA has the name of the issuer of CN=mail\.mydomain\.local but did not sign it",
    ),
    (
        "chain-after-self-signed",
        lambda p: (pem(p.self_signed, p.inter, p.key), None),
        r"CN=MyDomain Issuing CA does not sign CN=mail\.mydomain\.local nor any certificate of its chain$",
    ),
]


@pytest.mark.parametrize("case, build, pattern", LOAD_REFUSED, ids=[case[0] for case in LOAD_REFUSED])
def test_load_bundle_refuses(
    pki: Pki, case: str, build: t.Callable[[Pki], tuple[bytes, str | None]], pattern: str
) -> None:
    data, password = build(pki)
    with pytest.raises(CertificateError) as info:
        certificate.load_bundle(data, password, field=FIELD)
    assert info.value.field == FIELD
    assert str(info.value).startswith(FIELD + ": "), case
    assert re.search(pattern, info.value.message), f"{case}: {info.value.message}"
    if password:
        assert password not in str(info.value)


def test_error_text_is_field_then_message() -> None:
    error = CertificateError(FIELD, "the certificate expired on 2026-01-01 (CN=mail.mydomain.local)")
    assert str(error) == "HTTP(s) Service › Certificate: the certificate expired on 2026-01-01 (CN=mail.mydomain.local)"
    assert isinstance(error, ValueError)


def test_default_field() -> None:
    with pytest.raises(CertificateError, match=r"^Certificate: the certificate file is empty"):
        certificate.load_bundle(b"", None)


def test_bundle_repr_hides_the_key(pki: Pki) -> None:
    bundle = certificate.load_bundle(pki.bundle(), None)
    assert "private_key" not in repr(bundle)


# --- validation ----------------------------------------------------------------------------------


def _weak_rsa() -> t.Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


def _weak_ec() -> t.Any:
    try:
        return ec.generate_private_key(ec.SECP192R1())
    except Exception:  # pylint: disable=broad-exception-caught
        pytest.skip("this cryptography/OpenSSL build refuses P-192 keys")


# (case id, (pki) -> (certificate, key, chain), host name, regex of the refusal or None when accepted)
VALIDATE: list[tuple[str, t.Callable[[Pki], tuple[x509.Certificate, t.Any, list[x509.Certificate]]], str | None, str | None]] = [
    ("ca-signed-ok", lambda p: (p.leaf, p.key, [p.inter, p.root]), HOST, None),
    ("second-san", lambda p: (p.leaf, p.key, [p.inter]), "autodiscover.mydomain.local", None),
    ("host-case-and-dot", lambda p: (p.leaf, p.key, [p.inter]), "MAIL.MyDomain.Local.", None),
    ("no-host-name-check", lambda p: (p.leaf, p.key, []), None, None),
    ("self-signed-ok", lambda p: (p.self_signed, p.key, []), HOST, None),
    ("rsa-2048-ok", lambda p: (p.rsa_leaf, p.rsa_key, [p.inter]), HOST, None),
    (
        "expired",
        lambda p: (p.issue(not_before=NOW - 400 * DAY, not_after=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)), p.key, []),
        HOST,
        r"^the certificate expired on 2026-01-01 \(CN=mail\.mydomain\.local\)$",
    ),
    (
        "expired-at-noon",
        lambda p: (p.issue(not_after=NOW - DAY - datetime.timedelta(hours=3)), p.key, []),
        HOST,
        r"^the certificate expired on 2026-05-31 09:00:00 UTC \(CN=mail\.mydomain\.local\)$",
    ),
    (
        "not-yet-valid",
        lambda p: (p.issue(not_before=NOW + 2 * DAY + datetime.timedelta(hours=3)), p.key, []),
        HOST,
        r"^the certificate is not valid before 2026-06-03 15:00:00 UTC \(CN=mail\.mydomain\.local\)$",
    ),
    (
        "expired-intermediate",
        lambda p: (
            p.leaf,
            p.key,
            [make_cert("MyDomain Issuing CA", p.inter_key, (p.root, p.root_key), ca=True, not_after=NOW - 10 * DAY)],
        ),
        HOST,
        r"^the chain certificate expired on .* \(CN=MyDomain Issuing CA\)$",
    ),
    (
        "wrong-name",
        lambda p: (p.leaf, p.key, []),
        "webmail.mydomain.local",
        r"^the certificate does not cover the host name webmail\.mydomain\.local; it covers: "
        r"mail\.mydomain\.local, autodiscover\.mydomain\.local \(CN=mail\.mydomain\.local\)$",
    ),
    ("wildcard-ok", lambda p: (p.issue("*.mydomain.local"), p.key, []), HOST, None),
    (
        "wildcard-not-apex",
        lambda p: (p.issue("*.mydomain.local"), p.key, []),
        "mydomain.local",
        r"does not cover the host name mydomain\.local; it covers: \*\.mydomain\.local",
    ),
    (
        "wildcard-one-label-only",
        lambda p: (p.issue("*.mydomain.local"), p.key, []),
        "a.mail.mydomain.local",
        r"does not cover the host name a\.mail\.mydomain\.local",
    ),
    (
        "partial-label-wildcard",
        lambda p: (p.issue("m*.mydomain.local"), p.key, []),
        HOST,
        r"does not cover the host name mail\.mydomain\.local; it covers: m\*\.mydomain\.local",
    ),
    (
        "san-wins-over-cn",
        lambda p: (p.issue("legacy.mydomain.local", sans=[HOST]), p.key, []),
        "legacy.mydomain.local",
        r"it covers: mail\.mydomain\.local \(CN=legacy\.mydomain\.local\)$",
    ),
    (
        # browsers and phones ignore the CN: a certificate naming its host only there is refused, host name or not
        "cn-only",
        lambda p: (p.issue(HOST, sans=[]), p.key, []),
        HOST,
        r"^the certificate has no DNS name among its subject alternative names \(SAN\), only the common name "
        r"CN=mail\.mydomain\.local: browsers and phones ignore the common name and refuse it; have it reissued "
        r"with mail\.mydomain\.local as a DNS subject alternative name$",
    ),
    ("cn-only-wildcard", lambda p: (p.issue("*.mydomain.local", sans=[]), p.key, []), HOST, r"only the common name CN=\*\.mydomain"),
    ("cn-only-no-host-name-check", lambda p: (p.issue(HOST, sans=[]), p.key, []), None, r"no DNS name among its subject alternative"),
    ("cn-and-ip-sans-only", lambda p: (p.issue(HOST, sans=["10.0.0.10"]), p.key, []), HOST, r"no DNS name among its subject alternative"),
    (
        "no-names",
        lambda p: (p.issue("", sans=[]), p.key, []),
        HOST,
        r"^the certificate names no host: it has no DNS name among its subject alternative names \(SAN\) and no common name",
    ),
    ("ip-san-ok", lambda p: (p.issue(HOST, sans=[HOST, "10.0.0.10"]), p.key, []), "10.0.0.10", None),
    ("ip-san-only-for-an-address-ok", lambda p: (p.issue("10.0.0.10", sans=["10.0.0.10"]), p.key, []), "10.0.0.10", None),
    ("ip-not-in-dns-sans", lambda p: (p.issue("10.0.0.10", sans=[HOST]), p.key, []), "10.0.0.10", r"does not cover"),
    (
        "ip-in-cn-only",
        lambda p: (p.issue("10.0.0.10", sans=[]), p.key, []),
        "10.0.0.10",
        r"does not cover the host name 10\.0\.0\.10; it covers: no host name at all",
    ),
    (
        "ca-true-leaf",
        lambda p: (p.issue(ca=True), p.key, [p.inter]),
        HOST,
        r"^the certificate is a CA certificate \(basicConstraints CA:TRUE\), not a server certificate: browsers and "
        r"phones refuse a CA certificate offered by a server; .*\(CN=mail\.mydomain\.local\)$",
    ),
    (
        "key-usage-without-digital-signature",
        lambda p: (p.issue(key=p.rsa_key, key_usage=key_usage("key_encipherment")), p.rsa_key, []),
        HOST,
        r"^the certificate's key usage \(keyEncipherment\) lacks digitalSignature, which the TLS handshake needs",
    ),
    (
        "key-usage-cert-sign-only",
        lambda p: (p.issue(key_usage=key_usage("key_cert_sign", "crl_sign")), p.key, []),
        HOST,
        r"^the certificate's key usage \(keyCertSign, cRLSign\) lacks digitalSignature",
    ),
    ("key-usage-rsa-ok", lambda p: (p.issue(key=p.rsa_key, key_usage=key_usage("digital_signature", "key_encipherment")), p.rsa_key, []), HOST, None),
    ("key-usage-ec-ok", lambda p: (p.issue(key_usage=key_usage("digital_signature", "key_agreement")), p.key, []), HOST, None),
    (
        "sha1-signed-leaf",
        lambda p: p.weak_leaf("SHA-1"),
        HOST,
        r"^the certificate is signed with SHA-1, a hash browsers and phones no longer trust .*: have it reissued "
        r"signed with SHA-256 \(CN=mail\.mydomain\.local\)$",
    ),
    ("md5-signed-leaf", lambda p: p.weak_leaf("MD5"), HOST, r"^the certificate is signed with MD5, a hash browsers"),
    (
        "sha1-signed-intermediate",
        lambda p: p.weak_intermediate("SHA-1"),
        HOST,
        r"^the chain certificate is signed with SHA-1, .*\(CN=Old Issuing CA\)$",
    ),
    ("sha1-self-signed-root-ok", lambda p: p.weak_root(), HOST, None),
    ("idna-u-label-host-a-label-san-ok", lambda p: (p.issue("xn--mnchen-3ya.mydomain.local"), p.key, []), "München.mydomain.local", None),
    ("idna-a-label-host-ok", lambda p: (p.issue("xn--mnchen-3ya.mydomain.local"), p.key, []), "xn--mnchen-3ya.mydomain.local", None),
    ("idna-wildcard-ok", lambda p: (p.issue("*.xn--mnchen-3ya.mydomain.local"), p.key, []), "mail.münchen.mydomain.local", None),
    (
        "idna-wrong-name",
        lambda p: (p.issue("xn--mnchen-3ya.mydomain.local"), p.key, []),
        "köln.mydomain.local",
        r"^the certificate does not cover the host name köln\.mydomain\.local \(xn--kln-sna\.mydomain\.local\); "
        r"it covers: xn--mnchen-3ya\.mydomain\.local \(münchen\.mydomain\.local\)",
    ),
    (
        "weak-rsa-1024",
        lambda p: p.issued_with(_weak_rsa()),
        HOST,
        r"^the certificate's RSA key has 1024 bits, which is too weak: at least 2048 bits are required \(CN=mail",
    ),
    (
        "weak-ec-p192",
        lambda p: p.issued_with(_weak_ec()),
        HOST,
        r"^the certificate's EC key \(secp192r1\) has 192 bits, which is too weak: at least 256 bits",
    ),
    ("ec-p384-ok", lambda p: p.issued_with(ec.generate_private_key(ec.SECP384R1())), HOST, None),
    (
        "ed25519-unsupported",
        lambda p: p.issued_with(ed25519.Ed25519PrivateKey.generate()),
        HOST,
        r"^the certificate's Ed25519 key is not supported",
    ),
    (
        "weak-intermediate",
        lambda p: p.issued_by_weak_intermediate(),
        HOST,
        r"^the chain certificate's RSA key has 1024 bits, which is too weak: .*\(CN=Weak Issuing CA\)$",
    ),
    (
        "client-auth-only",
        lambda p: (p.issue(eku=[ExtendedKeyUsageOID.CLIENT_AUTH]), p.key, []),
        HOST,
        r"^the certificate is not meant for TLS servers",
    ),
    ("server-auth-ok", lambda p: (p.issue(eku=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), p.key, []), HOST, None),
]


@pytest.mark.parametrize("case, build, host_name, pattern", VALIDATE, ids=[case[0] for case in VALIDATE])
def test_validate(
    pki: Pki,
    case: str,
    build: t.Callable[[Pki], tuple[x509.Certificate, t.Any, list[x509.Certificate]]],
    host_name: str | None,
    pattern: str | None,
) -> None:
    cert, key, chain = build(pki)
    bundle = certificate.load_bundle(pem(cert, *chain, key), None, field=FIELD)
    if pattern is None:
        certificate.validate(bundle, host_name=host_name, field=FIELD, now=NOW)
        return
    with pytest.raises(CertificateError) as info:
        certificate.validate(bundle, host_name=host_name, field=FIELD, now=NOW)
    assert str(info.value).startswith(FIELD + ": ")
    assert re.search(pattern, info.value.message), f"{case}: {info.value.message}"


def test_validate_policy_is_configurable(pki: Pki) -> None:
    bundle = certificate.load_bundle(pem(pki.leaf, pki.key), None)
    with pytest.raises(CertificateError, match="at least 384 bits"):
        certificate.validate(bundle, now=NOW, policy=certificate.KeyPolicy(min_ec_bits=384))


@pytest.mark.parametrize("host_name", ["", "*.mydomain.local", "mail..mydomain.local", "two words"])
def test_validate_refuses_bad_host_names(pki: Pki, host_name: str) -> None:
    bundle = certificate.load_bundle(pem(pki.leaf, pki.key), None)
    if not host_name:
        certificate.validate(bundle, host_name=host_name, now=NOW)  # empty means "do not check"
        return
    with pytest.raises(CertificateError, match="is not a host name"):
        certificate.validate(bundle, host_name=host_name, now=NOW)


# (pattern from the certificate, host name, expected)
PATTERNS = [
    ("mail.example.com", "mail.example.com", True),
    ("MAIL.Example.COM", "mail.example.com", True),
    ("mail.example.com.", "mail.example.com", True),
    ("mail.example.com", "mail.example.net", False),
    ("*.example.com", "mail.example.com", True),
    ("*.example.com", "autodiscover.example.com", True),
    ("*.example.com", "example.com", False),
    ("*.example.com", "a.b.example.com", False),
    ("*.example.com", ".example.com", False),
    ("*.com", "example.com", False),
    ("*", "example", False),
    ("m*.example.com", "mail.example.com", False),
    ("*ail.example.com", "mail.example.com", False),
    ("mail.*.com", "mail.example.com", False),
    ("*.*.com", "a.example.com", False),
    ("", "mail.example.com", False),
    ("mail.example.com", "", False),
]


@pytest.mark.parametrize("pattern, host_name, expected", PATTERNS)
def test_matches_pattern(pattern: str, host_name: str, expected: bool) -> None:
    assert certificate.matches_pattern(pattern, host_name) is expected


def test_normalize_host_name_idna() -> None:
    assert certificate.normalize_host_name("München.Example.COM.") == "xn--mnchen-3ya.example.com"
    assert certificate.normalize_host_name("::1") == "::1"


# (pattern from the certificate, host name, expected): names compare in IDNA A-label form
IDNA_PATTERNS = [
    ("xn--mnchen-3ya.example.com", "münchen.example.com", True),
    ("xn--mnchen-3ya.example.com", "MÜNCHEN.example.com", True),
    ("münchen.example.com", "xn--mnchen-3ya.example.com", True),  # a U-label in a certificate (not allowed, seen)
    ("*.xn--mnchen-3ya.example.com", "mail.münchen.example.com", True),
    ("*.münchen.example.com", "mail.xn--mnchen-3ya.example.com", True),
    ("xn--mnchen-3ya.example.com", "munchen.example.com", False),
    ("xn--mnchen-3ya.example.com", "xn--mnchen-3ya.example.com", True),
    ("xn--kln-sna.example.com", "münchen.example.com", False),
]


@pytest.mark.parametrize("pattern, host_name, expected", IDNA_PATTERNS)
def test_matches_pattern_idna(pattern: str, host_name: str, expected: bool) -> None:
    assert certificate.matches_pattern(pattern, host_name) is expected


def test_idna_uses_the_idna_package_when_installed_else_the_builtin_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    if certificate._idna is not None:  # pylint: disable=protected-access
        # UTS #46 non-transitional, as browsers: ß stays a letter of its own
        assert certificate.to_a_labels("straße.example") == "xn--strae-oqa.example"
    monkeypatch.setattr(certificate, "_idna", None)
    assert certificate.to_a_labels("straße.example") == "strasse.example"  # IDNA 2003 maps it to ss
    assert certificate.normalize_host_name("München.Example.COM.") == "xn--mnchen-3ya.example.com"
    assert certificate.matches_pattern("xn--mnchen-3ya.example.com", "münchen.example.com")


# (the certificate's DNS names, the host name asked, whether the certificate covers it). Each row is a
# case where service_identity or cryptography.x509.verification would answer otherwise (the module's
# docstring says why the matcher is ours): one odd name among the certificate's names does not void
# the others, a trailing dot is no other name, and a wildcard over a top-level domain covers nothing.
SAN_CASES = [
    (["*.com", HOST], HOST, True),  # service_identity refuses the whole certificate
    ([HOST, "mail.*.com"], HOST, True),  # idem
    (["*.*.local", HOST], HOST, True),  # idem
    ([HOST + "."], HOST, True),  # both libraries: not covered
    (["*.local"], HOST.split(".", 1)[1], False),  # cryptography's verifier: covered
    (["*.mydomain.local"], HOST, True),
]


@pytest.mark.parametrize("sans, host_name, covered", SAN_CASES)
def test_the_certificate_covers_the_host_name_as_browsers_match_it(
    pki: Pki, sans: list[str], host_name: str, covered: bool
) -> None:
    bundle = certificate.load_bundle(pem(pki.issue(sans=sans), pki.inter, pki.root, pki.key), None, field=FIELD)
    assert certificate.covers_host_name(bundle.certificate, host_name) is covered
    if covered:
        certificate.validate(bundle, host_name=host_name, field=FIELD, now=NOW)
        return
    with pytest.raises(CertificateError) as info:
        certificate.validate(bundle, host_name=host_name, field=FIELD, now=NOW)
    assert str(info.value) == (
        f"{FIELD}: the certificate does not cover the host name {host_name}; it covers: {', '.join(sans)} "
        f"({certificate.describe(bundle.certificate)})"
    )


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abcmnäöüéñçø", min_size=1, max_size=12), min_size=1, max_size=3))
def test_an_internationalised_name_matches_its_a_label_form(labels: list[str]) -> None:
    host = ".".join([*labels, "example"])
    a_labels = certificate.to_a_labels(host)
    assert a_labels.isascii()
    assert certificate.normalize_host_name(host.upper() + ".") == a_labels
    assert certificate.matches_pattern(a_labels, host) and certificate.matches_pattern(host, a_labels)
    assert certificate.matches_pattern("*." + a_labels, "mail." + host)
    assert not certificate.matches_pattern("*." + a_labels, host)


# --- an old and a renewed certificate for the same key in one file --------------------------------


def test_the_renewal_is_served_and_the_old_certificate_set_aside(pki: Pki) -> None:
    old = pki.issue(not_before=NOW - 400 * DAY, not_after=NOW + 10 * DAY, serial=1)
    new = pki.issue(not_before=NOW - DAY, not_after=NOW + 400 * DAY, serial=2)
    for data in (pem(old, new, pki.inter, pki.root, pki.key), pem(pki.key, pki.root, new, pki.inter, old)):
        bundle = certificate.load_bundle(data, None, field=FIELD, now=NOW)
        assert bundle.certificate == new
        assert bundle.chain == (pki.inter, pki.root)
        assert bundle.superseded == (old,)
        assert x509.load_pem_x509_certificates(certificate.combined_pem(bundle)) == [new, pki.inter, pki.root]
    _bundle, info, warnings = certificate.check_certificate(pem(old, new, pki.inter, pki.key), None, field=FIELD, host_name=HOST, now=NOW)
    assert info.serial == "02"
    assert warnings == [
        f"{FIELD}: the file also holds an older certificate for the same key (CN=mail.mydomain.local, until "
        "2026-06-11 12:00:00 UTC); the renewal until 2027-07-06 12:00:00 UTC is used"
    ]


def test_an_expired_certificate_next_to_its_renewal_is_no_refusal(pki: Pki) -> None:
    old = pki.issue(not_before=NOW - 400 * DAY, not_after=NOW - 10 * DAY, serial=1)
    new = pki.issue(serial=2)
    bundle, _info, _warnings = certificate.check_certificate(pem(new, old, pki.inter, pki.key), None, field=FIELD, host_name=HOST, now=NOW)
    assert bundle.certificate == new


def test_a_renewal_not_valid_yet_waits_its_turn(pki: Pki) -> None:
    old = pki.issue(serial=1)
    new = pki.issue(not_before=NOW + 5 * DAY, not_after=NOW + 400 * DAY, serial=2)
    assert certificate.load_bundle(pem(old, new, pki.key), None, now=NOW).certificate == old
    assert certificate.load_bundle(pem(old, new, pki.key), None, now=NOW + 6 * DAY).certificate == new


def test_when_none_is_valid_the_latest_is_refused_with_its_dates(pki: Pki) -> None:
    older = pki.issue(not_before=NOW - 800 * DAY, not_after=NOW - 400 * DAY, serial=1)
    old = pki.issue(not_before=NOW - 400 * DAY, not_after=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc), serial=2)
    with pytest.raises(CertificateError, match=r"the certificate expired on 2026-01-01 \(CN=mail"):
        certificate.check_certificate(pem(older, old, pki.key), None, field=FIELD, now=NOW)


def test_the_old_certificates_intermediate_goes_with_it(pki: Pki) -> None:
    """The renewal comes from a renewed intermediate (same name, new key); the old one chains only the old leaf."""
    old_inter_key = ec.generate_private_key(ec.SECP256R1())
    old_inter = make_cert("MyDomain Issuing CA", old_inter_key, (pki.root, pki.root_key), ca=True, serial=7)
    old = make_cert(HOST, pki.key, (old_inter, old_inter_key), sans=[HOST], not_after=NOW + 10 * DAY, serial=1)
    new = pki.issue(serial=2)
    bundle = certificate.load_bundle(pem(old, old_inter, new, pki.inter, pki.root, pki.key), None, now=NOW)
    assert (bundle.certificate, bundle.chain, bundle.superseded) == (new, (pki.inter, pki.root), (old,))
    # a certificate that chains neither is still refused
    with pytest.raises(CertificateError, match=r"the chain certificate CN=Other Root CA does not sign"):
        certificate.load_bundle(pem(old, old_inter, new, pki.inter, pki.other_root, pki.key), None, now=NOW)


# --- inspection ----------------------------------------------------------------------------------


def test_inspect_ca_signed(pki: Pki) -> None:
    bundle = certificate.load_bundle(pki.bundle(), None)
    info = certificate.inspect(bundle, now=NOW)
    assert info.common_name == HOST
    assert info.subject_alt_names == [HOST, "autodiscover.mydomain.local"]
    assert info.not_before == "2026-05-02T12:00:00Z"
    assert info.not_after == "2027-06-01T12:00:00Z"
    assert info.issuer == "CN=MyDomain Issuing CA"
    assert info.subject == "CN=mail.mydomain.local"
    assert info.self_signed is False
    assert info.days_left == 365
    assert (info.key_type, info.key_size) == ("EC", 256)
    assert re.fullmatch(r"([0-9a-f]{2}:){31}[0-9a-f]{2}", info.fingerprint_sha256)
    assert info.fingerprint_sha256 == pki.leaf.fingerprint(hashes.SHA256()).hex(":")
    assert info.serial == "1a:2b:3c:4d"
    assert info.status == "valid"
    assert info.chain_length == 2
    assert info.identity() == {
        "subject": "CN=mail.mydomain.local",
        "fingerprint_sha256": info.fingerprint_sha256,
        "not_after": "2027-06-01T12:00:00Z",
    }


def test_inspect_as_dict_is_json_and_has_no_secret(pki: Pki) -> None:
    data = pem(pki.leaf, pki.key, password=PASSWORD)
    info = certificate.inspect(certificate.load_bundle(data, PASSWORD), now=NOW)
    text = json.dumps(info.as_dict())
    assert PASSWORD not in text
    assert "PRIVATE" not in text
    assert set(info.as_dict()) == {
        "common_name", "subject_alt_names", "not_before", "not_after", "issuer", "subject", "self_signed",
        "days_left", "key_type", "key_size", "fingerprint_sha256", "serial", "status", "chain_length",
    }


# (case id, (pki) -> (cert, key), now, warn_days, expected status, expected days_left, expected self_signed)
STATUS = [
    ("valid", lambda p: (p.leaf, p.key), NOW, 30, "valid", 365, False),
    ("self-signed", lambda p: (p.self_signed, p.key), NOW, 30, "self signed", 365, True),
    ("rsa", lambda p: (p.rsa_leaf, p.rsa_key), NOW, 30, "valid", 365, False),
    ("expires-soon", lambda p: (p.leaf, p.key), NOW + 350 * DAY, 30, "expires soon", 15, False),
    ("expires-soon-self-signed", lambda p: (p.self_signed, p.key), NOW + 350 * DAY, 30, "expires soon", 15, True),
    ("warn-days-zero", lambda p: (p.leaf, p.key), NOW + 364 * DAY, 0, "valid", 1, False),
    ("expired", lambda p: (p.leaf, p.key), NOW + 366 * DAY, 30, "expired", -1, False),
    ("not-yet-valid", lambda p: (p.leaf, p.key), NOW - 31 * DAY, 30, "not yet valid", 396, False),
]


@pytest.mark.parametrize("case, build, now, warn_days, status, days_left, self_signed", STATUS, ids=[s[0] for s in STATUS])
def test_inspect_status(
    pki: Pki,
    case: str,
    build: t.Callable[[Pki], tuple[x509.Certificate, t.Any]],
    now: datetime.datetime,
    warn_days: int,
    status: str,
    days_left: int,
    self_signed: bool,
) -> None:
    cert, key = build(pki)
    info = certificate.inspect(certificate.load_bundle(pem(cert, key), None), now=now, warn_days=warn_days)
    assert (info.status, info.days_left, info.self_signed) == (status, days_left, self_signed), case


def test_inspect_rsa_key(pki: Pki) -> None:
    info = certificate.inspect(certificate.load_bundle(pem(pki.rsa_leaf, pki.rsa_key), None), now=NOW)
    assert (info.key_type, info.key_size) == ("RSA", 2048)


@pytest.mark.parametrize(
    "now, warn_days, expected",
    [
        (NOW, 30, None),
        (NOW + 350 * DAY, 30, f"{FIELD}: the certificate expires in 15 days, on {UNTIL} (CN=mail.mydomain.local): renew it"),
        (NOW + 364 * DAY, 30, f"{FIELD}: the certificate expires in 1 day, on {UNTIL} (CN=mail.mydomain.local): renew it"),
        (NOW + 365 * DAY - HOUR, 30, f"{FIELD}: the certificate expires today, on {UNTIL} (CN=mail.mydomain.local): renew it"),
        (NOW + 350 * DAY, 0, None),
        (NOW + 400 * DAY, 30, None),
    ],
)
def test_expiry_warning(pki: Pki, now: datetime.datetime, warn_days: int, expected: str | None) -> None:
    bundle = certificate.load_bundle(pki.bundle(), None)
    assert certificate.expiry_warning(bundle, field=FIELD, now=now, warn_days=warn_days) == expected


# --- output --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        pytest.param(lambda p: pem(p.root, p.key, p.inter, p.leaf, password=PASSWORD), id="pem-shuffled-encrypted"),
        pytest.param(lambda p: pfx(p.key, p.leaf, [p.root, p.inter], PASSWORD), id="pfx-chain-reversed"),
    ],
)
def test_combined_pem_order_and_key(pki: Pki, files: t.Callable[[Pki], bytes]) -> None:
    bundle = certificate.load_bundle(files(pki), PASSWORD)
    combined = certificate.combined_pem(bundle)
    assert x509.load_pem_x509_certificates(combined) == [pki.leaf, pki.inter, pki.root]
    assert combined.index(b"-----BEGIN PRIVATE KEY-----") > combined.rindex(b"-----END CERTIFICATE-----")
    assert b"ENCRYPTED" not in combined
    key = serialization.load_pem_private_key(combined, None)
    assert key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == pki.leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    # deterministic: the same input always renders the same bytes (idempotent writes)
    assert certificate.combined_pem(certificate.load_bundle(files(pki), PASSWORD)) == combined


def test_combined_pem_round_trips(pki: Pki) -> None:
    combined = certificate.combined_pem(certificate.load_bundle(pki.bundle(), None))
    assert certificate.combined_pem(certificate.load_bundle(combined, None)) == combined


def test_identity_of_pem(pki: Pki) -> None:
    combined = certificate.combined_pem(certificate.load_bundle(pki.bundle(), None))
    info = certificate.inspect(certificate.load_bundle(combined, None), now=NOW)
    assert certificate.identity_of_pem(combined) == info.identity()
    assert certificate.identity_of_pem(b"not a pem") is None


# --- files and the one-call entry point ----------------------------------------------------------


def test_read_file(tmp_path: t.Any) -> None:
    path = tmp_path / "cert.pem"
    path.write_bytes(b"abc")
    assert certificate.read_file(str(path)) == b"abc"
    with pytest.raises(CertificateError, match=r"^IMAP\(s\) › Certificate: cannot read the certificate file .*missing\.pfx: No such file"):
        certificate.read_file(str(tmp_path / "missing.pfx"), field="IMAP(s) › Certificate")
    with pytest.raises(CertificateError, match="cannot read the certificate file"):
        certificate.read_file(str(tmp_path))
    big = tmp_path / "big.iso"
    big.write_bytes(b"\0" * (certificate.MAX_FILE_SIZE + 1))
    with pytest.raises(CertificateError, match="is larger than 1024 KiB"):
        certificate.read_file(str(big))


def test_check_certificate(pki: Pki) -> None:
    data = pfx(pki.key, pki.leaf, [pki.inter], PASSWORD)
    bundle, info, warnings = certificate.check_certificate(
        data, PASSWORD, field=FIELD, host_name=HOST, warn_days=400, now=NOW
    )
    assert bundle.certificate == pki.leaf
    assert info.status == "expires soon"
    assert len(warnings) == 1 and warnings[0].startswith(FIELD + ": the certificate expires in 365 days")
    with pytest.raises(CertificateError, match="warn_days must be 0 or more"):
        certificate.check_certificate(data, PASSWORD, warn_days=-1, now=NOW)
    with pytest.raises(CertificateError, match="does not cover the host name"):
        certificate.check_certificate(data, PASSWORD, host_name="owa.other.local", now=NOW)


def test_check_certificate_naive_now_is_utc(pki: Pki) -> None:
    _bundle, info, _warnings = certificate.check_certificate(pki.bundle(), None, now=NOW.replace(tzinfo=None))
    assert info.days_left == 365


def test_cryptography_version() -> None:
    assert certificate.HAS_CRYPTOGRAPHY
    assert not certificate.cryptography_too_old()


@pytest.mark.parametrize(("installed", "too_old"), [("41.0.7", True), ("42.0.0", False), ("42.0.0rc1", False), ("50.0.2", False),
                                                    ("9.9", True)])
def test_cryptography_too_old_compares_versions_as_numbers(monkeypatch: pytest.MonkeyPatch, installed: str, too_old: bool) -> None:
    monkeypatch.setattr(certificate, "CRYPTOGRAPHY_VERSION", installed)
    assert certificate.cryptography_too_old() is too_old
