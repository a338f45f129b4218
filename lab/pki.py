#!/usr/bin/env python3
"""Lab PKI for the exlb test lab (uses `cryptography`).

  pki.py --out .lab/pki [--force]

Idempotent: does nothing while .lab/pki/index.json lists every file and the good
certificates stay valid for more than RENEW_DAYS; otherwise regenerates all.

Layout (see index.json for the full description of every file):
  ca.crt / ca.key                 lab root CA ("exlb Lab Root CA")
  intermediate.crt / .key         issuing CA (signed by the root)
  chain.crt                       intermediate (what servers send after the leaf)
  ca-bundle.crt                   root + intermediate
  mail.mydomain.local.{crt,key,fullchain.crt,pem,pfx}     RSA-2048 server cert
        SANs mail.mydomain.local, autodiscover.mydomain.local; .pem = cert+chain+key
        (haproxy format); .pfx password "labpfx"
  mail.mydomain.local-ecdsa.{...}  the same as ECDSA P-256
  hub.mydomain.local.{crt,key,fullchain.crt,pem}           hub1/hub2 stand-ins
  standin/{ca.crt,cas.*,hub.*}    what the stand-in containers mount at /etc/lab/pki
  bad/...                          deliberately broken material for negative tests
"""
from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import shutil
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PFX_PASSWORD = "labpfx"
WRONG_PFX_PASSWORD = "not-labpfx"
RENEW_DAYS = 30
LEAF_DAYS = 397
CA_DAYS = 3650
DOMAIN = "mydomain.local"
MAIL = "mail." + DOMAIN
AUTODISCOVER = "autodiscover." + DOMAIN
VIP = "10.89.60.10"
FORMAT = 4  # 2, 3: the hub certificate names the other sets' hubs too; 4: bad/cn-only, ca-leaf,
# no-digital-signature, sha1, sha1-intermediate


def hub_addresses() -> list[str]:
    """Every hub stand-in's address, from lab/env.sh's layout (LAB_STANDINS, _B, _C): one source."""
    entries = " ".join(os.environ.get(var, "") for var in ("LAB_STANDINS", "LAB_STANDINS_B", "LAB_STANDINS_C")).split()
    found = [entry.split(":")[2] for entry in entries if entry.split(":")[3] == "hub"]
    if not found:
        raise SystemExit("pki.py: no hub in LAB_STANDINS: run it through lab/lab.sh, or source lab/env.sh first")
    return found


NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def rsa_key(bits: int = 2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def name(cn: str, ou: str = "exlb lab") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "exchange_lb lab"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def sans(names: list[str], ips: list[str] = ()) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName(
        [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips])


def build_cert(subject, key, issuer_name, issuer_key, not_before, not_after, *, ca=False, path_len=None,
               san=None, server=True, key_usage=None):
    pub = key.public_key()
    b = (x509.CertificateBuilder()
         .subject_name(subject).issuer_name(issuer_name).public_key(pub)
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False))
    if issuer_key is not key:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    else:
        is_rsa = isinstance(key, rsa.RSAPrivateKey)
        b = b.add_extension(key_usage or x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=is_rsa, data_encipherment=False,
            key_agreement=not is_rsa, key_cert_sign=False, crl_sign=False, encipher_only=False,
            decipher_only=False), critical=True)
        if server:
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                       ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if san is not None:
        b = b.add_extension(san, critical=False)
    return b.sign(issuer_key, hashes.SHA256())


SHA256_WITH_RSA = bytes.fromhex("06092a864886f70d01010b")
SHA1_WITH_RSA = bytes.fromhex("06092a864886f70d010105")


def sha1_signed(c, issuer_key):
    """``c`` (sha256WithRSA by the RSA ``issuer_key``) signed again with SHA-1, as CAs did until 2016.

    cryptography's builder no longer signs with SHA-1: the two signature algorithm
    OIDs (inside the signed part and outside) become sha1WithRSAEncryption, of the
    same length, and the signed part is signed again by hand (same signature length).
    """
    der = c.public_bytes(serialization.Encoding.DER)
    assert der.count(SHA256_WITH_RSA) == 2 and der.endswith(c.signature)
    der = der.replace(SHA256_WITH_RSA, SHA1_WITH_RSA)
    tbs = x509.load_der_x509_certificate(der).tbs_certificate_bytes
    signature = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    assert len(signature) == len(c.signature)
    return x509.load_der_x509_certificate(der[:-len(signature)] + signature)


def pem_cert(c) -> bytes:
    return c.public_bytes(serialization.Encoding.PEM)


def pem_key(k) -> bytes:
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


class Writer:
    def __init__(self, root: str):
        self.root = root
        self.index: dict[str, dict] = {}

    def write(self, rel: str, data: bytes, secret: bool = False) -> str:
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        os.chmod(path, 0o600 if secret else 0o644)
        return rel

    def entry(self, key: str, **kw):
        self.index[key] = kw


def _utc(c, attr: str) -> dt.datetime:
    if hasattr(c, attr + "_utc"):  # cryptography >= 42
        return getattr(c, attr + "_utc")
    return getattr(c, attr).replace(tzinfo=dt.timezone.utc)


def info(c, key) -> dict:
    try:
        san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v.value) for v in san]
    except x509.ExtensionNotFound:
        names = []
    if isinstance(key, rsa.RSAPrivateKey):
        ktype = "RSA-%d" % key.key_size
    else:
        ktype = "ECDSA-" + key.curve.name
    return {
        "subject_cn": c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
        "issuer_cn": c.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
        "sans": names,
        "not_before": _utc(c, "not_valid_before").isoformat(),
        "not_after": _utc(c, "not_valid_after").isoformat(),
        "key_type": ktype,
        "serial": format(c.serial_number, "x"),
    }


def generate(out: str) -> dict:
    w = Writer(out)
    ca_k = rsa_key(3072)
    ca_c = build_cert(name("exlb Lab Root CA"), ca_k, name("exlb Lab Root CA"), ca_k,
                      NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=CA_DAYS), ca=True, path_len=1)
    im_k = rsa_key(2048)
    im_c = build_cert(name("exlb Lab Issuing CA"), im_k, ca_c.subject, ca_k,
                      NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=CA_DAYS - 1), ca=True, path_len=0)
    w.write("ca.crt", pem_cert(ca_c))
    w.write("ca.key", pem_key(ca_k), secret=True)
    w.write("intermediate.crt", pem_cert(im_c))
    w.write("intermediate.key", pem_key(im_k), secret=True)
    w.write("chain.crt", pem_cert(im_c))
    w.write("ca-bundle.crt", pem_cert(ca_c) + pem_cert(im_c))
    w.entry("ca", purpose="lab root CA: trust anchor for every good certificate (clients verify with it)",
            good=True, files={"crt": "ca.crt", "key": "ca.key"}, **info(ca_c, ca_k))
    w.entry("intermediate", purpose="issuing CA signed by the root; signs every leaf",
            good=True, files={"crt": "intermediate.crt", "key": "intermediate.key", "chain": "chain.crt",
                              "bundle": "ca-bundle.crt"}, **info(im_c, im_k))

    nb, na = NOW - dt.timedelta(hours=1), NOW + dt.timedelta(days=LEAF_DAYS)

    def leaf(cn, key, names, ips=(), *, not_before=nb, not_after=na, issuer=(im_c, im_k)):
        return build_cert(name(cn), key, issuer[0].subject, issuer[1], not_before, not_after,
                          san=sans(names, list(ips)))

    def bundle(base, cert, key, *, pfx_password=PFX_PASSWORD, chain=(im_c,), pfx=True):
        chain_pem = b"".join(pem_cert(c) for c in chain)
        files = {"crt": w.write(base + ".crt", pem_cert(cert)),
                 "key": w.write(base + ".key", pem_key(key), secret=True),
                 "fullchain": w.write(base + ".fullchain.crt", pem_cert(cert) + chain_pem),
                 "pem": w.write(base + ".pem", pem_cert(cert) + chain_pem + pem_key(key), secret=True)}
        if pfx:
            data = pkcs12.serialize_key_and_certificates(
                base.split("/")[-1].encode(), key, cert, list(chain) or None,
                serialization.BestAvailableEncryption(pfx_password.encode()))
            files["pfx"] = w.write(base + ".pfx", data, secret=True)
        return files

    # --- good server certificates
    mail_k = rsa_key(2048)
    mail_c = leaf(MAIL, mail_k, [MAIL, AUTODISCOVER])
    w.entry("mail", purpose="the Exchange service certificate (RSA-2048) for the appliance and the CAS stand-ins",
            good=True, files=bundle(MAIL, mail_c, mail_k), password=PFX_PASSWORD, **info(mail_c, mail_k))
    mail_ec_k = ec_key()
    mail_ec_c = leaf(MAIL, mail_ec_k, [MAIL, AUTODISCOVER])
    w.entry("mail_ecdsa", purpose="ECDSA P-256 variant of the Exchange service certificate",
            good=True, files=bundle(MAIL + "-ecdsa", mail_ec_c, mail_ec_k), password=PFX_PASSWORD,
            **info(mail_ec_c, mail_ec_k))
    hub_k = rsa_key(2048)
    hub_names = ["hub." + DOMAIN, "hub1", "hub2", "hub1." + DOMAIN, "hub2." + DOMAIN, "smtp." + DOMAIN]
    hub_c = leaf("hub." + DOMAIN, hub_k, hub_names, hub_addresses())
    w.entry("hub", purpose="SMTP certificate of the hub stand-ins (hub1, hub2)",
            good=True, files=bundle("hub." + DOMAIN, hub_c, hub_k), password=PFX_PASSWORD, **info(hub_c, hub_k))

    # --- what the stand-in containers mount read-only at /etc/lab/pki
    sd = os.path.join(out, "standin")
    os.makedirs(sd, exist_ok=True)
    w.write("standin/ca.crt", pem_cert(ca_c))
    w.write("standin/cas.fullchain.crt", pem_cert(mail_c) + pem_cert(im_c))
    w.write("standin/cas.key", pem_key(mail_k), secret=True)
    w.write("standin/hub.fullchain.crt", pem_cert(hub_c) + pem_cert(im_c))
    w.write("standin/hub.key", pem_key(hub_k), secret=True)
    w.entry("standin", purpose="mounted read-only into cas*/hub* at /etc/lab/pki: CAS serve the mail cert, hubs the hub cert",
            good=True, files={"ca": "standin/ca.crt", "cas_fullchain": "standin/cas.fullchain.crt",
                              "cas_key": "standin/cas.key", "hub_fullchain": "standin/hub.fullchain.crt",
                              "hub_key": "standin/hub.key"})

    # --- deliberately bad material
    k = rsa_key(2048)
    c = leaf(MAIL, k, [MAIL, AUTODISCOVER], not_before=NOW - dt.timedelta(days=400),
             not_after=NOW - dt.timedelta(days=35))
    w.entry("bad_expired", purpose="expired 35 days ago (otherwise fine)", good=False, problem="expired",
            files=bundle("bad/expired", c, k), password=PFX_PASSWORD, **info(c, k))
    k = rsa_key(2048)
    c = leaf(MAIL, k, [MAIL, AUTODISCOVER], not_before=NOW + dt.timedelta(days=3650),
             not_after=NOW + dt.timedelta(days=4000))
    w.entry("bad_not_yet_valid", purpose="valid only from 10 years from now", good=False, problem="not_yet_valid",
            files=bundle("bad/not-yet-valid", c, k), password=PFX_PASSWORD, **info(c, k))
    k = rsa_key(2048)
    c = leaf("www.wrong-name.invalid", k, ["www.wrong-name.invalid"])
    w.entry("bad_wrong_host", purpose="valid chain but for www.wrong-name.invalid, not mail.mydomain.local",
            good=False, problem="wrong_hostname", files=bundle("bad/wrong-host", c, k), password=PFX_PASSWORD,
            **info(c, k))
    other = rsa_key(2048)
    files = {"crt": w.write("bad/key-mismatch.crt", pem_cert(mail_c)),
             "key": w.write("bad/key-mismatch.key", pem_key(other), secret=True),
             "pem": w.write("bad/key-mismatch.pem", pem_cert(mail_c) + pem_cert(im_c) + pem_key(other), secret=True)}
    w.entry("bad_key_mismatch", purpose="the good mail certificate paired with a key that does not match it",
            good=False, problem="key_mismatch", files=files, **info(mail_c, other))
    k = rsa_key(1024)
    c = leaf(MAIL, k, [MAIL, AUTODISCOVER])
    w.entry("bad_weak_rsa1024", purpose="mail.mydomain.local with a weak RSA-1024 key", good=False,
            problem="weak_key", files=bundle("bad/weak-rsa1024", c, k), password=PFX_PASSWORD, **info(c, k))
    k = rsa_key(2048)
    c = build_cert(name(MAIL, "self-signed"), k, name(MAIL, "self-signed"), k, nb, na,
                   san=sans([MAIL, AUTODISCOVER]))
    w.entry("bad_self_signed", purpose="self-signed mail.mydomain.local (not issued by the lab CA)", good=False,
            problem="self_signed", files=bundle("bad/self-signed", c, k, chain=()), password=PFX_PASSWORD,
            **info(c, k))
    k = rsa_key(2048)
    c = build_cert(name(MAIL), k, im_c.subject, im_k, nb, na)  # no subject alternative name at all
    w.entry("bad_cn_only", purpose="mail.mydomain.local named only in the CN, no DNS subject alternative name "
            "(browsers and phones refuse it)", good=False, problem="cn_only", files=bundle("bad/cn-only", c, k),
            password=PFX_PASSWORD, **info(c, k))
    k = rsa_key(2048)
    c = build_cert(name(MAIL), k, im_c.subject, im_k, nb, na, ca=True, san=sans([MAIL, AUTODISCOVER]))
    w.entry("bad_ca_leaf", purpose="mail.mydomain.local as a CA certificate (basicConstraints CA:TRUE)", good=False,
            problem="ca_leaf", files=bundle("bad/ca-leaf", c, k), password=PFX_PASSWORD, **info(c, k))
    k = rsa_key(2048)
    c = build_cert(name(MAIL), k, im_c.subject, im_k, nb, na, san=sans([MAIL, AUTODISCOVER]),
                   key_usage=x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=True,
                                           data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                           crl_sign=False, encipher_only=False, decipher_only=False))
    w.entry("bad_no_digital_signature", purpose="mail.mydomain.local whose key usage is keyEncipherment only "
            "(no digitalSignature: no TLS 1.3 nor ECDHE)", good=False, problem="no_digital_signature",
            files=bundle("bad/no-digital-signature", c, k), password=PFX_PASSWORD, **info(c, k))
    k = rsa_key(2048)
    c = sha1_signed(leaf(MAIL, k, [MAIL, AUTODISCOVER]), im_k)
    w.entry("bad_sha1", purpose="mail.mydomain.local signed by the lab's issuing CA with SHA-1", good=False,
            problem="sha1_signature", files=bundle("bad/sha1", c, k), password=PFX_PASSWORD, **info(c, k))
    old_im_k = rsa_key(2048)
    old_im_c = sha1_signed(build_cert(name("exlb Lab SHA-1 Issuing CA"), old_im_k, ca_c.subject, ca_k,
                                      NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=CA_DAYS - 1),
                                      ca=True, path_len=0), ca_k)
    k = rsa_key(2048)
    c = leaf(MAIL, k, [MAIL, AUTODISCOVER], issuer=(old_im_c, old_im_k))
    w.entry("bad_sha1_intermediate", purpose="mail.mydomain.local (SHA-256) issued by an intermediate the root "
            "signed with SHA-1", good=False, problem="sha1_intermediate",
            files=bundle("bad/sha1-intermediate", c, k, chain=(old_im_c,)), password=PFX_PASSWORD, **info(c, k))
    data = pkcs12.serialize_key_and_certificates(b"wrong-password", mail_k, mail_c, [im_c],
                                                 serialization.BestAvailableEncryption(WRONG_PFX_PASSWORD.encode()))
    w.entry("bad_pfx_wrong_password", purpose="the good mail cert as PFX whose password is NOT labpfx",
            good=False, problem="pfx_wrong_password", expected_password=PFX_PASSWORD,
            actual_password=WRONG_PFX_PASSWORD, files={"pfx": w.write("bad/wrong-password.pfx", data, secret=True)})
    junk = (b"-----BEGIN CERTIFICATE-----\nVGhpcyBpcyBub3QgYSBjZXJ0aWZpY2F0ZS4=\n-----END CERTIFICATE-----\n")
    files = {"crt": w.write("bad/not-a-cert.crt", junk),
             "txt": w.write("bad/not-a-cert.txt", b"This is not a certificate.\n"),
             "pfx": w.write("bad/not-a-cert.pfx", b"This is not a PKCS#12 file.\n")}
    w.entry("bad_not_a_cert", purpose="files named like certificates that are not (PEM armour around text, plain "
            "text, a .pfx that is text)", good=False, problem="not_a_certificate", files=files)

    index = {
        "format": FORMAT,
        "generated": NOW.isoformat(),
        "renew_days": RENEW_DAYS,
        "pfx_password": PFX_PASSWORD,
        "note": "paths are relative to this file's directory; keys are unencrypted PEM (PKCS#8)",
        "entries": w.index,
    }
    w.write("index.json", (json.dumps(index, indent=2, sort_keys=True) + "\n").encode())
    return index


def is_current(out: str) -> str | None:
    """None when the PKI can be reused, else the reason to regenerate."""
    path = os.path.join(out, "index.json")
    try:
        with open(path) as fh:
            index = json.load(fh)
    except (OSError, ValueError):
        return "no index.json"
    if index.get("format") != FORMAT:
        return "format changed"
    limit = NOW + dt.timedelta(days=RENEW_DAYS)
    for key, e in index.get("entries", {}).items():
        for rel in e.get("files", {}).values():
            if not os.path.isfile(os.path.join(out, rel)):
                return "missing " + rel
        if e.get("good") and "not_after" in e:
            if dt.datetime.fromisoformat(e["not_after"]) < limit:
                return "%s expires %s" % (key, e["not_after"])
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    reason = "forced" if args.force else is_current(out)
    if reason is None:
        print("pki: %s is current" % args.out, file=sys.stderr)
        return 0
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".pki-", dir=parent)
    try:
        os.chmod(tmp, 0o755)
        generate(tmp)
        if os.path.exists(out):
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    print("pki: generated %s (%s)" % (args.out, reason), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
