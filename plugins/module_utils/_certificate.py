# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# NOTE: this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The certificate fields of the appliance: load, check and describe a TLS bundle.

The ALOHA web UI had, for every SSL-offloaded service, a field "Certificate
.pfx or .pem + file password" and showed Common Name, From, Until and Status
of what was uploaded.  This module util does the same for
``exchange_lb.appliance.certificate``:

* :func:`load_bundle` reads a PEM file (certificate, chain and private key in
  any order), a DER certificate or a PKCS#12 (.pfx/.p12) file, also as base64
  text (an AWX credential field holds text only), decrypts it with
  the file password, finds the certificate that belongs to the private key and
  puts the chain in issuer order;
* :func:`validate` applies the appliance's policy (key strength, signature
  hash, a server certificate's constraints and usage, its DNS names, dates,
  host name);
* :func:`inspect` describes the certificate the way the web UI did;
* :func:`combined_pem` renders what haproxy and stunnel read.

Every refusal is a :class:`CertificateError` whose text starts with the WUI
label of the field, e.g. ``HTTP(s) Service › Certificate: the certificate
expired on 2026-01-01 (CN=mail.mydomain.local)``.  Nothing here ever puts the
private key or the password into a message or a return value.

All parsing is done by ``cryptography``; no PEM or DER is parsed by hand.
Host names are compared in IDNA A-label form (``xn--...``): with the ``idna``
package (UTS #46, as browsers do) when it is installed, else with Python's
built-in ``idna`` codec (IDNA 2003).

The host-name matching (:func:`matches_pattern`, :func:`covers_host_name`,
about twenty lines) is ours on purpose; both libraries that do RFC 6125
matching were tried against the cases the unit tests pin, and both answer
otherwise where a client's answer matters:

* ``cryptography.x509.verification`` (42+) matches names only inside a whole
  path validation: asked about the leaf alone (the leaf as its own trust
  anchor) it still applies its time and CA/B profile rules, a name mismatch
  is told from those refusals only by its message text, one DNS name of a
  certificate cannot be matched on its own, and its documentation calls the
  API unstable.  It also covers ``example.com`` with ``*.com`` (browsers
  refuse a wildcard over a top-level domain; we do too) and takes A-label
  host names only.
* ``service_identity`` (``verify_certificate_hostname``) refuses the whole
  certificate (``CertificateError``) when any one of its DNS names is an
  invalid wildcard (``*.com``, ``mail.*.com``, ``*.*.local``), even next to
  the right name, where clients only skip that name; it does not cover
  ``mail.example.com`` with a ``mail.example.com.`` name nor an ``xn--`` host
  with a U-label name (not allowed in a certificate, but seen); and matching
  one name, as the callers here need, exists only in its ``hazmat`` module.
  It would also add itself and ``attrs`` to every controller, and its current
  release (26.1) needs cryptography 47 where the collection needs 42.

Wrapping either to keep these answers would take more code than the matcher.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import ipaddress
import traceback
import typing as t

from ansible.module_utils.compat.version import LooseVersion

_idna: t.Any
try:
    import idna as _idna
except ImportError:
    _idna = None

try:
    import cryptography
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR: str | None = traceback.format_exc()
    CRYPTOGRAPHY_VERSION = ""
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
    CRYPTOGRAPHY_VERSION = cryptography.__version__

if t.TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import (
        CertificateIssuerPublicKeyTypes,
        PrivateKeyTypes,
    )

#: The oldest cryptography release with every API used here
#: (``not_valid_after_utc`` came with 42.0).
MIN_CRYPTOGRAPHY_VERSION = "42.0.0"

#: The label used when the caller names no WUI field.
DEFAULT_FIELD = "Certificate"

#: A certificate file is small; anything bigger is the wrong file.
MAX_FILE_SIZE = 1024 * 1024

#: Status texts, as the appliance's web UI showed them.
STATUS_VALID = "valid"
STATUS_SELF_SIGNED = "self signed"
STATUS_EXPIRES_SOON = "expires soon"
STATUS_EXPIRED = "expired"
STATUS_NOT_YET_VALID = "not yet valid"

_FORMATS_HINT = (
    "expected a PEM file (certificate, chain and private key), "
    "a PKCS#12 file (.pfx/.p12) or a DER certificate"
)


class CertificateError(ValueError):
    """A certificate file the appliance cannot use, with the WUI label of its field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclasses.dataclass(frozen=True)
class KeyPolicy:
    """The smallest keys the appliance accepts (RSA and EC only)."""

    min_rsa_bits: int = 2048
    min_ec_bits: int = 256


@dataclasses.dataclass(frozen=True)
class Bundle:
    """A decrypted certificate file: the server certificate, its chain and its key.

    ``chain`` is in issuer order: ``chain[0]`` signed ``certificate``,
    ``chain[1]`` signed ``chain[0]`` and so on.
    """

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    private_key: PrivateKeyTypes = dataclasses.field(repr=False, compare=False)
    source_format: str = "PEM"
    #: Older certificates for the same key found in the file (a renewal's predecessor): not served.
    superseded: tuple[x509.Certificate, ...] = ()


@dataclasses.dataclass(frozen=True)
class CertificateInfo:
    """What the WUI showed about a certificate, and a little more."""

    common_name: str
    subject_alt_names: list[str]
    not_before: str
    not_after: str
    issuer: str
    subject: str
    self_signed: bool
    days_left: int
    key_type: str
    key_size: int
    fingerprint_sha256: str
    serial: str
    status: str
    chain_length: int

    def as_dict(self) -> dict[str, t.Any]:
        """The info as plain JSON-able data (the module's ``certificate`` return value)."""
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, str]:
        """The short summary used for diffs: no key material, no PEM."""
        return {
            "subject": self.subject,
            "fingerprint_sha256": self.fingerprint_sha256,
            "not_after": self.not_after,
        }


# --- helpers -------------------------------------------------------------------------------------


def cryptography_too_old() -> bool:
    """True when the installed cryptography predates :data:`MIN_CRYPTOGRAPHY_VERSION`."""
    return bool(LooseVersion(CRYPTOGRAPHY_VERSION) < LooseVersion(MIN_CRYPTOGRAPHY_VERSION))


def _utcnow(now: datetime.datetime | None) -> datetime.datetime:
    if now is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if now.tzinfo is None:
        return now.replace(tzinfo=datetime.timezone.utc)
    return now.astimezone(datetime.timezone.utc)


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _human_date(moment: datetime.datetime) -> str:
    """``2026-01-01`` at midnight UTC, else ``2026-01-01 12:30:00 UTC``."""
    moment = moment.astimezone(datetime.timezone.utc)
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _common_name(cert: x509.Certificate) -> str:
    attributes = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return ""
    value = attributes[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def describe(cert: x509.Certificate) -> str:
    """``CN=<common name>``, or the whole subject when it has no CN; used in messages."""
    common_name = _common_name(cert)
    if common_name:
        return f"CN={common_name}"
    return cert.subject.rfc4514_string() or f"serial {_serial(cert)}"


def _serial(cert: x509.Certificate) -> str:
    serial = cert.serial_number
    length = max(1, (serial.bit_length() + 7) // 8)
    return serial.to_bytes(length, "big").hex(":")


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":")


def _public_key_der(key: t.Any) -> bytes:
    der: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``issuer`` has the issuer name of ``cert`` and its key made the signature."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except InvalidSignature:
        return False
    except ValueError:
        # cryptography checks no SHA-1 or MD5 signature: check it by hand, so that such a
        # certificate is refused for its signature hash (validate), not as a stranger to its chain.
        verified = _verify_by_hand(cert, issuer.public_key())
        return True if verified is None else verified
    except TypeError:
        # A signature algorithm cryptography cannot check: the names match, trust them.
        return True
    return True


def _verify_by_hand(cert: x509.Certificate, issuer_key: t.Any) -> bool | None:
    """Whether ``issuer_key`` made the signature of ``cert``; None when that cannot be told here."""
    try:
        algorithm = cert.signature_hash_algorithm
        parameters = cert.signature_algorithm_parameters
        if (
            isinstance(issuer_key, rsa.RSAPublicKey)
            and isinstance(parameters, (padding.PKCS1v15, padding.PSS))
            and algorithm is not None
        ):
            issuer_key.verify(cert.signature, cert.tbs_certificate_bytes, parameters, algorithm)
        elif isinstance(issuer_key, ec.EllipticCurvePublicKey) and isinstance(parameters, ec.ECDSA):
            issuer_key.verify(cert.signature, cert.tbs_certificate_bytes, parameters)
        else:
            return None
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    """True when the certificate is its own issuer (name and signature)."""
    return _signed_by(cert, cert)


def key_description(key: t.Any) -> tuple[str, int]:
    """The key type as the module reports it (``RSA``, ``EC``, ...) and its size in bits."""
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return "RSA", key.key_size
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        return "EC", key.curve.key_size
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "Ed25519", 256
    if isinstance(key, (ed448.Ed448PublicKey, ed448.Ed448PrivateKey)):
        return "Ed448", 456
    name = type(key).__name__
    for suffix in ("PublicKey", "PrivateKey"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.lstrip("_") or "unknown", int(getattr(key, "key_size", 0) or 0)


# --- loading -------------------------------------------------------------------------------------


def read_file(path: str, *, field: str = DEFAULT_FIELD) -> bytes:
    """The content of a certificate file, or a :class:`CertificateError` naming ``field``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_SIZE + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CertificateError(field, f"cannot read the certificate file {path}: {reason}") from None
    if len(data) > MAX_FILE_SIZE:
        raise CertificateError(
            field, f"{path} is larger than {MAX_FILE_SIZE // 1024} KiB, so it is not a certificate file ({_FORMATS_HINT})"
        )
    return data


def load_bundle(
    data: bytes, password: str | None, *, field: str = DEFAULT_FIELD, now: datetime.datetime | None = None
) -> Bundle:
    """Decrypt and sort a certificate file.

    The format is recognised by content, not by file name: PEM (the certificate,
    its chain and the private key, in any order, the key optionally encrypted
    with ``password``), PKCS#12 (.pfx/.p12, optionally protected by
    ``password``) or a lone DER certificate (refused: it carries no key).

    The server certificate is the one whose public key matches the private key;
    the other certificates must form its chain (each signs the one before);
    they are returned in issuer order whatever their order in the file.  When
    several certificates match the key (a renewal next to the certificate it
    replaces), the one valid at ``now`` that expires last is the server
    certificate; the others (and the chain certificates only they need) are
    kept aside in :attr:`Bundle.superseded`.
    """
    if not data.strip():
        raise CertificateError(field, f"the certificate file is empty ({_FORMATS_HINT})")
    if b"-----BEGIN " in data:
        certificates, key, source_format = _load_pem(data, password, field)
    else:
        certificates, key, source_format = _load_binary(_from_base64(data), password, field)
    return _assemble(certificates, key, source_format, field, _utcnow(now))


def _from_base64(data: bytes) -> bytes:
    """The bytes of a binary file written as base64 text (``base64 mail.pfx``, wrapped or not): how a .pfx reaches
    a file through an AWX credential, whose fields hold text only. Anything else is returned as it is."""
    text = b"".join(data.split())
    if not text or text.strip(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="):
        return data
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return data
    # DER (a PKCS#12 file or a certificate) starts with a SEQUENCE
    return decoded if decoded[:1] == b"\x30" else data


def _password_bytes(password: str | None) -> bytes | None:
    if password is None or password == "":
        return None
    return password.encode("utf-8")


def _load_pem(
    data: bytes, password: str | None, field: str
) -> tuple[list[x509.Certificate], PrivateKeyTypes | None, str]:
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    secret = _password_bytes(password)
    key: PrivateKeyTypes | None
    try:
        key = serialization.load_pem_private_key(data, secret)
    except TypeError as exc:
        if secret is None:
            raise CertificateError(
                field, "the private key is encrypted: a file password is required"
            ) from None
        if "not encrypted" not in str(exc):
            raise CertificateError(field, f"the private key cannot be read: {exc}") from None
        # A password was given for a key that has none: the key is usable as it is.
        key = serialization.load_pem_private_key(data, None)
    except ValueError as exc:
        text = str(exc)
        if "password" in text.lower() or "decrypt" in text.lower():
            raise CertificateError(
                field, "wrong file password: the private key cannot be decrypted"
            ) from None
        if not certificates:
            raise CertificateError(
                field, f"the file holds neither a certificate nor a private key ({_FORMATS_HINT})"
            ) from None
        if "no BEGIN/END delimiters" in text:
            key = None
        else:
            raise CertificateError(field, "the private key in the PEM file cannot be read (damaged or unsupported)") from None
    except Exception:  # pylint: disable=broad-exception-caught
        # cryptography refuses some key types (e.g. DSA parameters it cannot use) with other errors.
        raise CertificateError(field, "the private key in the PEM file cannot be read (damaged or unsupported)") from None
    return certificates, key, "PEM"


def _load_binary(
    data: bytes, password: str | None, field: str
) -> tuple[list[x509.Certificate], PrivateKeyTypes | None, str]:
    try:
        certificate = x509.load_der_x509_certificate(data)
    except ValueError:
        pass
    else:
        return [certificate], None, "DER"

    candidates: list[bytes | None] = []
    secret = _password_bytes(password)
    if secret is not None:
        candidates.append(secret)
    # Files exported without a password use either no password or an empty one.
    candidates.extend([None, b""])
    structurally_pkcs12 = False
    for candidate in candidates:
        try:
            key, certificate_or_none, additional = pkcs12.load_key_and_certificates(data, candidate)
        except ValueError as exc:
            if "deserialize" in str(exc).lower():
                # Not PKCS#12 at all: no password will change that.
                break
            structurally_pkcs12 = True
            continue
        except Exception:  # pylint: disable=broad-exception-caught
            # e.g. an unsupported key type inside an otherwise readable file
            raise CertificateError(
                field, "the PKCS#12 file cannot be read (unsupported content or encryption)"
            ) from None
        certificates = ([certificate_or_none] if certificate_or_none is not None else []) + list(additional)
        return certificates, key, "PKCS#12"
    if structurally_pkcs12:
        if secret is None:
            raise CertificateError(field, "the PKCS#12 file is protected: a file password is required")
        raise CertificateError(field, "wrong file password: the PKCS#12 file cannot be decrypted")
    raise CertificateError(field, f"the file is not a certificate ({_FORMATS_HINT})")


def _unique(certificates: t.Iterable[x509.Certificate]) -> list[x509.Certificate]:
    seen: set[bytes] = set()
    result = []
    for cert in certificates:
        fingerprint = cert.fingerprint(hashes.SHA256())
        if fingerprint not in seen:
            seen.add(fingerprint)
            result.append(cert)
    return result


def _assemble(
    certificates: list[x509.Certificate],
    key: PrivateKeyTypes | None,
    source_format: str,
    field: str,
    now: datetime.datetime,
) -> Bundle:
    certificates = _unique(certificates)
    if not certificates:
        raise CertificateError(field, "the file holds a private key but no readable certificate")
    if key is None:
        if source_format == "DER":
            raise CertificateError(
                field,
                f"the file is a lone DER certificate ({describe(certificates[0])}) without its private key: "
                "use a .pem holding the certificate and the key, or a .pfx",
            )
        raise CertificateError(
            field, f"the file holds no private key for the certificate ({describe(_likely_leaf(certificates))})"
        )
    key_der = _public_key_der(key.public_key())
    matching = [cert for cert in certificates if _public_key_der(cert.public_key()) == key_der]
    if not matching:
        raise CertificateError(
            field,
            f"the private key does not match the certificate ({describe(_likely_leaf(certificates))})",
        )
    leaf = _pick_renewal(matching, now)
    superseded = [cert for cert in matching if cert is not leaf]
    others = [cert for cert in certificates if cert is not leaf and cert not in superseded]
    chain = _order_chain(leaf, others, field, superseded)
    return Bundle(
        certificate=leaf,
        chain=tuple(chain),
        private_key=key,
        source_format=source_format,
        superseded=tuple(superseded),
    )


def _pick_renewal(matching: list[x509.Certificate], now: datetime.datetime) -> x509.Certificate:
    """Of several certificates for one key (a renewal next to the old one), the one to serve.

    That is the one valid now that expires last; when none is valid now, the one
    that expires last (which :func:`validate` then refuses with its dates).
    A CA certificate for the key is only taken when no other matches.
    """
    if len(matching) == 1:
        return matching[0]
    servers = [cert for cert in matching if not _is_ca(cert)] or matching
    valid = [cert for cert in servers if cert.not_valid_before_utc <= now <= cert.not_valid_after_utc]
    return max(valid or servers, key=lambda cert: (cert.not_valid_after_utc, cert.not_valid_before_utc))


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _likely_leaf(certificates: list[x509.Certificate]) -> x509.Certificate:
    """The certificate that issues none of the others (the end of the chain)."""
    for cert in certificates:
        if not any(other is not cert and other.issuer == cert.subject for other in certificates):
            return cert
    return certificates[0]


def _order_chain(
    leaf: x509.Certificate,
    others: list[x509.Certificate],
    field: str,
    superseded: t.Sequence[x509.Certificate] = (),
) -> list[x509.Certificate]:
    remaining = list(others)
    chain: list[x509.Certificate] = []
    current = leaf
    while remaining and not is_self_signed(current):
        named = [cert for cert in remaining if cert.subject == current.issuer]
        if not named:
            break
        signer = next((cert for cert in named if _signed_by(current, cert)), None)
        if signer is None:
            raise CertificateError(
                field,
                f"the chain certificate {describe(named[0])} has the name of the issuer of "
                f"{describe(current)} but did not sign it: the chain belongs to another certificate",
            )
        chain.append(signer)
        remaining.remove(signer)
        current = signer
    remaining = _drop_chains_of(superseded, remaining)
    if remaining:
        strays = ", ".join(describe(cert) for cert in remaining)
        expected = current.issuer.rfc4514_string() if not is_self_signed(current) else ""
        hint = f"; the next certificate of the chain should be issued to {expected}" if expected else ""
        raise CertificateError(
            field,
            f"the chain certificate {strays} does not sign {describe(current)} "
            f"nor any certificate of its chain{hint}",
        )
    return chain


def _drop_chains_of(
    superseded: t.Sequence[x509.Certificate], remaining: list[x509.Certificate]
) -> list[x509.Certificate]:
    """``remaining`` without the certificates that only chain the superseded ones (an old intermediate)."""
    reached = list(superseded)
    remaining = list(remaining)
    grew = True
    while grew and remaining:
        grew = False
        for cert in list(remaining):
            if any(not is_self_signed(low) and _signed_by(low, cert) for low in reached):
                reached.append(cert)
                remaining.remove(cert)
                grew = True
    return remaining


# --- checking ------------------------------------------------------------------------------------


def to_a_labels(name: str) -> str:
    """``name`` in lower case IDNA A-label form (``münchen.example`` -> ``xn--mnchen-3ya.example``).

    An ASCII name is only lowered. Otherwise the ``idna`` package converts it
    (UTS #46 processing, as browsers do) when it is installed, else Python's
    built-in ``idna`` codec (IDNA 2003). Raises :class:`UnicodeError` for a name
    that has no A-label form.
    """
    if name.isascii():
        return name.lower()
    if _idna is not None:
        encoded: bytes = _idna.encode(name, uts46=True)
        return encoded.decode("ascii").lower()
    return name.encode("idna").decode("ascii").lower()


def normalize_host_name(host_name: str, *, field: str = DEFAULT_FIELD) -> str:
    """Lower case, no trailing dot, IDNA (A-labels); refuses wildcards and blanks."""
    name = host_name.strip().rstrip(".")
    if not name or "*" in name or " " in name or ".." in name:
        raise CertificateError(field, f"'{host_name}' is not a host name")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    try:
        return to_a_labels(name)
    except UnicodeError:
        raise CertificateError(field, f"'{host_name}' is not a valid host name") from None


def matches_pattern(pattern: str, host_name: str) -> bool:
    """RFC 6125 matching of one DNS name of a certificate against a host name.

    ``*.example.com`` covers exactly one left-most label (``mail.example.com``),
    never ``example.com`` nor ``a.b.example.com``; partial-label wildcards
    (``m*.example.com``) and wildcards elsewhere than the left-most label match
    nothing; a wildcard needs at least two labels after it (``*.com`` matches
    nothing).  Both names are compared case-insensitively without a trailing dot,
    in IDNA A-label form (an internationalised name matches its ``xn--`` form).
    """
    pattern = pattern.strip().rstrip(".")
    host = host_name.strip().rstrip(".")
    if not pattern or not host:
        return False
    wildcard, dot, rest = pattern.partition(".")
    try:
        if wildcard == "*" and dot:
            pattern = "*." + to_a_labels(rest)
        else:
            pattern = to_a_labels(pattern)
        host = to_a_labels(host)
    except UnicodeError:
        return False
    if "*" not in pattern:
        return pattern == host
    label, _sep, rest = pattern.partition(".")
    if label != "*" or "*" in rest or rest.count(".") < 1:
        return False
    host_label, _sep, host_rest = host.partition(".")
    return bool(host_label) and host_rest == rest


def _san_names(cert: x509.Certificate) -> tuple[list[str], list[str]] | None:
    """DNS names and IP addresses of the SAN extension, or None when it has none."""
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    dns_names = [str(name) for name in extension.value.get_values_for_type(x509.DNSName)]
    addresses = [str(address) for address in extension.value.get_values_for_type(x509.IPAddress)]
    return dns_names, addresses


def covered_names(cert: x509.Certificate) -> list[str]:
    """The names a client checks, in certificate order: SAN DNS names, then SAN IP addresses.

    The common name is none of them: browsers and phones ignore it.
    """
    sans = _san_names(cert)
    return sans[0] + sans[1] if sans is not None else []


def covers_host_name(cert: x509.Certificate, host_name: str) -> bool:
    """True when a client connecting to ``host_name`` accepts the certificate's names.

    Only the subject alternative names count (DNS names for a host name, IP
    addresses for an address), as in current browsers and phones: the common
    name is ignored.
    """
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host_name)
    except ValueError:
        address = None
    sans = _san_names(cert)
    if sans is None:
        return False
    if address is not None:
        return any(ipaddress.ip_address(value) == address for value in sans[1])
    return any(matches_pattern(name, host_name) for name in sans[0])


def _check_key(cert: x509.Certificate, field: str, policy: KeyPolicy, what: str = "the certificate") -> None:
    key = cert.public_key()
    key_type, key_size = key_description(key)
    if key_type == "RSA":
        minimum = policy.min_rsa_bits
    elif key_type == "EC":
        minimum = policy.min_ec_bits
    else:
        raise CertificateError(
            field,
            f"{what}'s {key_type} key is not supported by the appliance's clients: "
            f"use an RSA key of {policy.min_rsa_bits} bits or more, or an EC key of "
            f"{policy.min_ec_bits} bits or more ({describe(cert)})",
        )
    if key_size < minimum:
        curve = ""
        if isinstance(key, ec.EllipticCurvePublicKey):
            curve = f" ({key.curve.name})"
        raise CertificateError(
            field,
            f"{what}'s {key_type} key{curve} has {key_size} bits, which is too weak: "
            f"at least {minimum} bits are required ({describe(cert)})",
        )


def _check_dates(cert: x509.Certificate, now: datetime.datetime, field: str, what: str) -> None:
    if now > cert.not_valid_after_utc:
        raise CertificateError(
            field, f"{what} expired on {_human_date(cert.not_valid_after_utc)} ({describe(cert)})"
        )
    if now < cert.not_valid_before_utc:
        raise CertificateError(
            field, f"{what} is not valid before {_human_date(cert.not_valid_before_utc)} ({describe(cert)})"
        )


#: Signature algorithms whose hash browsers and phones no longer accept, by OID (for those
#: cryptography cannot even name), with the hash's name for the message.
_WEAK_SIGNATURE_OIDS = {
    "1.2.840.113549.1.1.2": "MD2",  # md2WithRSAEncryption
    "1.2.840.113549.1.1.3": "MD4",  # md4WithRSAEncryption
    "1.2.840.113549.1.1.4": "MD5",  # md5WithRSAEncryption
    "1.2.840.113549.1.1.5": "SHA-1",  # sha1WithRSAEncryption
    "1.3.14.3.2.29": "SHA-1",  # sha1WithRSASignature (OIW)
    "1.2.840.10045.4.1": "SHA-1",  # ecdsa-with-SHA1
    "1.2.840.10040.4.3": "SHA-1",  # dsa-with-sha1
}


def weak_signature_hash(cert: x509.Certificate) -> str | None:
    """``SHA-1`` or ``MD5`` (...) when the certificate's signature uses that hash, else None."""
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return _WEAK_SIGNATURE_OIDS.get(cert.signature_algorithm_oid.dotted_string)
    if isinstance(algorithm, hashes.SHA1):
        return "SHA-1"
    if isinstance(algorithm, hashes.MD5):
        return "MD5"
    return _WEAK_SIGNATURE_OIDS.get(cert.signature_algorithm_oid.dotted_string)


def _check_signature_hash(cert: x509.Certificate, field: str, what: str) -> None:
    weak = weak_signature_hash(cert)
    if weak:
        raise CertificateError(
            field,
            f"{what} is signed with {weak}, a hash browsers and phones no longer trust (a forged certificate with "
            f"the same {weak} hash can be made): have it reissued signed with SHA-256 ({describe(cert)})",
        )


_KEY_USAGES = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)


def _check_server_certificate(cert: x509.Certificate, field: str) -> None:
    """A server certificate: not a CA's (basicConstraints), and allowed to sign (keyUsage)."""
    if _is_ca(cert):
        raise CertificateError(
            field,
            "the certificate is a CA certificate (basicConstraints CA:TRUE), not a server certificate: browsers "
            "and phones refuse a CA certificate offered by a server; use the server certificate issued for the "
            f"host name, or reissue it with CA:FALSE ({describe(cert)})",
        )
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.digital_signature:
        present = [label for attribute, label in _KEY_USAGES if getattr(usage, attribute)]
        listed = ", ".join(present) if present else "nothing"
        raise CertificateError(
            field,
            f"the certificate's key usage ({listed}) lacks digitalSignature, which the TLS handshake needs "
            "(TLS 1.3 and every ECDHE cipher sign with the key): browsers and phones refuse it; have it reissued "
            f"with the key usage digitalSignature (and keyEncipherment for an RSA key) ({describe(cert)})",
        )


def _check_dns_names(cert: x509.Certificate, field: str) -> None:
    """The certificate names its host among its subject alternative names, not only in its CN."""
    sans = _san_names(cert)
    if sans is not None and sans[0]:
        return
    common_name = _common_name(cert)
    if common_name:
        raise CertificateError(
            field,
            f"the certificate has no DNS name among its subject alternative names (SAN), only the common name "
            f"CN={common_name}: browsers and phones ignore the common name and refuse it; have it reissued with "
            f"{common_name} as a DNS subject alternative name",
        )
    raise CertificateError(
        field,
        "the certificate names no host: it has no DNS name among its subject alternative names (SAN) and no "
        f"common name; have it reissued with the service's host name as a DNS subject alternative name ({describe(cert)})",
    )


def _check_usage(cert: x509.Certificate, field: str) -> None:
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if ExtendedKeyUsageOID.SERVER_AUTH not in usage and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usage:
        raise CertificateError(
            field,
            "the certificate is not meant for TLS servers: its extended key usage lacks "
            f"serverAuth ({describe(cert)})",
        )


def validate(
    bundle: Bundle,
    *,
    host_name: str | None = None,
    field: str = DEFAULT_FIELD,
    now: datetime.datetime | None = None,
    policy: KeyPolicy | None = None,
) -> None:
    """Refuse, naming ``field``, a bundle the appliance must not serve.

    Checks, in this order: the key strength of the certificate and of the
    chain certificates (except a self-signed root: clients use their own copy),
    their signature hash (no SHA-1, no MD5; again except a self-signed root),
    that the certificate is a server's (not a CA's: basicConstraints; allowed
    to sign: keyUsage digitalSignature; serverAuth in the extended key usage),
    that it has a DNS name among its subject alternative names (browsers and
    phones ignore the common name), the validity dates of the certificate and
    of every chain certificate, and, when ``host_name`` is given, that the
    certificate covers it (compared in IDNA A-label form).
    """
    moment = _utcnow(now)
    cert = bundle.certificate
    policy = policy or KeyPolicy()
    host = normalize_host_name(host_name, field=field) if host_name else None
    _check_key(cert, field, policy)
    for chain_cert in bundle.chain:
        if not is_self_signed(chain_cert):
            _check_key(chain_cert, field, policy, "the chain certificate")
    _check_signature_hash(cert, field, "the certificate")
    for chain_cert in bundle.chain:
        if not is_self_signed(chain_cert):
            _check_signature_hash(chain_cert, field, "the chain certificate")
    _check_server_certificate(cert, field)
    _check_usage(cert, field)
    if host is None or not _is_address(host):
        _check_dns_names(cert, field)
    _check_dates(cert, moment, field, "the certificate")
    for chain_cert in bundle.chain:
        _check_dates(chain_cert, moment, field, "the chain certificate")
    if host_name and host is not None and not covers_host_name(cert, host):
        names = covered_names(cert)
        covered = ", ".join(_with_u_labels(name) for name in names) if names else "no host name at all"
        asked = host_name if host == host_name.strip().rstrip(".").lower() else f"{host_name} ({host})"
        raise CertificateError(
            field,
            f"the certificate does not cover the host name {asked}; it covers: {covered} ({describe(cert)})",
        )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _with_u_labels(name: str) -> str:
    """``xn--mnchen-3ya.example (münchen.example)`` for an internationalised name, else the name."""
    if "xn--" not in name.lower():
        return name
    try:
        unicode_name = _idna.decode(name) if _idna is not None else name.encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        return name
    return f"{name} ({unicode_name})" if unicode_name != name.lower() else name


def superseded_warnings(bundle: Bundle, *, field: str = DEFAULT_FIELD) -> list[str]:
    """One warning per older certificate for the same key that the file also holds (not served)."""
    kept = bundle.certificate
    return [
        f"{field}: the file also holds an older certificate for the same key ({describe(old)}, until "
        f"{_human_date(old.not_valid_after_utc)}); the renewal until {_human_date(kept.not_valid_after_utc)} is used"
        for old in bundle.superseded
    ]


def inspect(
    bundle: Bundle, *, now: datetime.datetime | None = None, warn_days: int = 30
) -> CertificateInfo:
    """Describe the bundle's certificate like the WUI (Common Name, From, Until, Status)."""
    moment = _utcnow(now)
    cert = bundle.certificate
    key_type, key_size = key_description(cert.public_key())
    sans = _san_names(cert)
    self_signed = is_self_signed(cert)
    days_left = (cert.not_valid_after_utc - moment) // datetime.timedelta(days=1)
    if moment > cert.not_valid_after_utc:
        status = STATUS_EXPIRED
    elif moment < cert.not_valid_before_utc:
        status = STATUS_NOT_YET_VALID
    elif days_left < warn_days:
        status = STATUS_EXPIRES_SOON
    elif self_signed:
        status = STATUS_SELF_SIGNED
    else:
        status = STATUS_VALID
    return CertificateInfo(
        common_name=_common_name(cert),
        subject_alt_names=(sans[0] + sans[1]) if sans is not None else [],
        not_before=_iso(cert.not_valid_before_utc),
        not_after=_iso(cert.not_valid_after_utc),
        issuer=cert.issuer.rfc4514_string(),
        subject=cert.subject.rfc4514_string(),
        self_signed=self_signed,
        days_left=days_left,
        key_type=key_type,
        key_size=key_size,
        fingerprint_sha256=_fingerprint(cert),
        serial=_serial(cert),
        status=status,
        chain_length=len(bundle.chain),
    )


def expiry_warning(
    bundle: Bundle, *, field: str = DEFAULT_FIELD, now: datetime.datetime | None = None, warn_days: int = 30
) -> str | None:
    """A warning when the certificate has fewer than ``warn_days`` days left, else None."""
    moment = _utcnow(now)
    cert = bundle.certificate
    days_left = (cert.not_valid_after_utc - moment) // datetime.timedelta(days=1)
    if days_left >= warn_days or moment > cert.not_valid_after_utc:
        return None
    when = "today" if days_left == 0 else f"in {days_left} day{'s' if days_left != 1 else ''}"
    return (
        f"{field}: the certificate expires {when}, on {_human_date(cert.not_valid_after_utc)} "
        f"({describe(cert)}): renew it"
    )


# --- output --------------------------------------------------------------------------------------


def combined_pem(bundle: Bundle) -> bytes:
    """What haproxy (``crt``) and stunnel (``cert``) read: certificate, chain in issuer order, key.

    The private key is written unencrypted (PKCS#8): the daemons start unattended.
    The output is deterministic, so rewriting an unchanged bundle changes nothing.
    """
    parts = [bundle.certificate.public_bytes(serialization.Encoding.PEM)]
    parts.extend(cert.public_bytes(serialization.Encoding.PEM) for cert in bundle.chain)
    parts.append(
        bundle.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return b"".join(parts)


def identity_of_pem(data: bytes) -> dict[str, str] | None:
    """The diff summary of the first certificate of a PEM file (an existing ``dest``), or None."""
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        return None
    cert = certificates[0]
    return {
        "subject": cert.subject.rfc4514_string(),
        "fingerprint_sha256": _fingerprint(cert),
        "not_after": _iso(cert.not_valid_after_utc),
    }


def check_certificate(
    data: bytes,
    password: str | None,
    *,
    field: str = DEFAULT_FIELD,
    host_name: str | None = None,
    warn_days: int = 30,
    now: datetime.datetime | None = None,
    policy: KeyPolicy | None = None,
) -> tuple[Bundle, CertificateInfo, list[str]]:
    """Load, validate and inspect in one call: the bundle, its info and the warnings."""
    if warn_days < 0:
        raise CertificateError(field, f"warn_days must be 0 or more, got {warn_days}")
    moment = _utcnow(now)
    bundle = load_bundle(data, password, field=field, now=moment)
    validate(bundle, host_name=host_name, field=field, now=moment, policy=policy)
    info = inspect(bundle, now=moment, warn_days=warn_days)
    warning = expiry_warning(bundle, field=field, now=moment, warn_days=warn_days)
    return bundle, info, superseded_warnings(bundle, field=field) + ([warning] if warning else [])
