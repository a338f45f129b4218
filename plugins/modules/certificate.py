#!/usr/bin/python
# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate
short_description: Check a service certificate (.pfx or .pem + file password) and install it for haproxy and stunnel
version_added: 1.0.0
author: exchange_lb developers (@exchange-lb)
description:
  - The certificate field of an SSL-offloaded service of the appliance, as the ALOHA for Exchange web UI had it
    (C(Certificate .pfx or .pem + file password)).
  - Reads a certificate file on the controller (by default, through the module's action plugin) or, with
    O(remote_src=true), on the managed host; the file is recognised by its content whatever its name. It can be a PEM file
    holding the certificate, its chain and the private key in any order (the key may be encrypted), or a PKCS#12 file
    (C(.pfx)/C(.p12)) such as the one Exchange exports.
  - Refuses, with a message that starts with the web UI label given in O(field), a file that is not a certificate,
    that has no private key or a key that does not belong to the certificate, a missing or wrong file password, a
    certificate that has expired or is not valid yet, a weak or unsupported key, a certificate or chain certificate
    signed with SHA-1 or MD5, a CA certificate (C(basicConstraints CA:TRUE)) in place of a server certificate, a key
    usage without C(digitalSignature), a certificate not meant for TLS servers, a certificate with no DNS name among
    its subject alternative names (browsers and phones ignore the common name), a chain certificate that does not sign
    the certificate before it or has expired, and, when O(host_name) is set, a certificate that does not cover that
    host name.
  - When the file holds an old and a renewed certificate for the same key, the renewal is used (of those valid now,
    the one that expires last) and a warning names the one left aside.
  - "For example: 'HTTP(s) Service › Certificate: the certificate expired on 2026-01-01 (CN=mail.mydomain.local)'."
  - Returns what the web UI showed (Common Name, From, Until, Status) and more in RV(certificate). It warns when the
    certificate expires in less than O(warn_days) days.
  - With O(dest), writes the file haproxy and stunnel read. It holds the certificate, then the chain in issuer order,
    then the private key unencrypted.
  - The private key and the file password are never returned nor logged.
requirements:
  - cryptography >= 42.0.0 on the controller, or on the managed host with O(remote_src=true)
extends_documentation_fragment:
  - ansible.builtin.files
  - exchange_lb.appliance._attributes
  - exchange_lb.appliance._attributes.FILES
attributes:
  check_mode:
    support: full
    details:
      - Checks the certificate and computes RV(ignore:changed) as a real run would, but writes nothing.
  diff_mode:
    support: full
    details:
      - The diff is a summary of the certificate in O(dest) before and after (subject, SHA-256 fingerprint, expiry date)
        plus file attribute changes; it never shows the PEM content or the key.
  idempotent:
    support: full
  safe_file_operations:
    support: full
    details:
      - O(dest) is written to a temporary file in its own directory, given its final permissions, then renamed over
        the old file, so the key is never readable by others, not even for a moment.
options:
  src:
    description:
      - Path of the certificate file, on the controller (as the web UI's upload was), or on the managed host with
        O(remote_src=true).
      - On the controller the file is read and checked there, before anything on the managed host changes; only
        the combined PEM of O(dest) reaches the host, and the host needs no Python crypto library.
      - A PEM file with the certificate, its chain (optional) and its private key, in any order.
      - Or a PKCS#12 file (C(.pfx) or C(.p12)) with the certificate, its private key and optionally the chain.
      - On the controller, a file encrypted with C(ansible-vault) is read decrypted (the run needs the vault password).
      - A PKCS#12 file may also be given as base64 text (the output of C(base64 mail.pfx), wrapped or not). An AWX
        credential field, which holds text only, brings a C(.pfx) that way (docs/awx.md).
      - The format is recognised by content, not by extension. A lone DER certificate is recognised but refused, as it
        has no private key.
    type: path
    required: true
  remote_src:
    description:
      - V(true) reads O(src) on the managed host (which then needs the C(cryptography) Python library).
    type: bool
    default: false
  password:
    description:
      - The file password, the password of the PKCS#12 file or of the encrypted private key of the PEM file.
      - Omit it for a file without a password. A password given for a file that has none is ignored.
      - The module tells a missing password from a wrong one.
    type: str
  host_name:
    description:
      - The fully qualified name clients use to reach the service, for example V(mail.mydomain.local). In the web UI
        this is the HTTP(s) service's field Host Name (FQDN).
      - When set, the certificate must cover this name among its subject alternative names. The common name (CN) is
        not used, as current browsers and phones ignore it.
      - Internationalised names are compared in their IDNA A-label form, so V(münchen.mydomain.local) matches a
        certificate for V(xn--mnchen-3ya.mydomain.local).
      - Wildcards follow RFC 6125. V(*.mydomain.local) covers V(mail.mydomain.local) (one left-most label) but not
        V(mydomain.local) nor V(a.mail.mydomain.local). Partial-label wildcards such as V(m*.mydomain.local) cover
        nothing.
      - An IP address is matched against the IP addresses among the subject alternative names.
      - When omitted, the host name is not checked.
    type: str
  field:
    description:
      - The web UI label of the field this certificate fills, used to start every error and warning message, for
        example V(HTTP(s\) Service › Certificate) or V(IMAP(s\) › Certificate).
    type: str
    default: Certificate
  warn_days:
    description:
      - Warn (and report RV(certificate.status) as V(expires soon)) when the certificate has fewer days left than this.
      - V(0) turns the warning off. An expired certificate is always refused.
    type: int
    default: 30
  dest:
    description:
      - Where to write the combined PEM file for haproxy (C(crt)) and stunnel (C(cert)). It holds the certificate, then
        the chain in issuer order, then the private key, unencrypted.
      - The file gets mode V(0600) unless O(mode) is set. If it already exists and O(owner)/O(group) are not set, it
        keeps its owner and group.
      - It is written only when its content differs, so an unchanged certificate reports RV(ignore:changed=false).
      - When omitted, the module only checks the certificate and never reports a change.
    type: path
notes:
  - The key policy is that of the appliance's clients (Outlook, ActiveSync devices, browsers). RSA keys need at least
    2048 bits and EC keys at least 256 bits. Other key types (DSA, Ed25519, ...) are refused.
  - Chain certificates may come in any order; they are written in issuer order. A certificate in the file that does not
    belong to the chain of the server certificate is refused rather than silently dropped.
  - A PKCS#12 file exported by Windows with legacy encryption (RC2, 3DES) is read as long as the cryptography library
    where the file is read (the controller, or the managed host with O(remote_src=true)) can load OpenSSL's legacy
    provider, which its wheels do by default.
seealso:
  - module: exchange_lb.appliance.plan
  - module: community.crypto.x509_certificate_info
    description: A general-purpose certificate inspector.
  - module: community.crypto.openssl_pkcs12
    description: Creates or parses PKCS#12 files.
"""

EXAMPLES = r"""
- name: Check the HTTP(s) service certificate exported from Exchange and install it for haproxy
  exchange_lb.appliance.certificate:
    src: files/mail.mydomain.local.pfx  # on the controller
    password: "{{ vault_exchange_pfx_password }}"
    host_name: mail.mydomain.local
    field: HTTP(s) Service › Certificate
    dest: /etc/haproxy/certs/https.pem
    owner: root
    group: haproxy
    mode: "0640"
  register: https_certificate
  notify: Reload HAProxy

- name: Show what the web UI showed
  ansible.builtin.debug:
    msg: >-
      {{ https_certificate.certificate.common_name }}
      from {{ https_certificate.certificate.not_before }}
      until {{ https_certificate.certificate.not_after }}
      ({{ https_certificate.certificate.status }})

- name: Only check a PEM bundle that is already on the managed host (nothing is written)
  exchange_lb.appliance.certificate:
    src: /etc/ssl/private/imap.pem
    remote_src: true
    field: IMAP(s) › Certificate
    warn_days: 60
"""

RETURN = r"""
certificate:
  description: What the web UI showed about the certificate (Common Name, From, Until, Status), and more.
  returned: success
  type: dict
  contains:
    common_name:
      description: The common name (CN) of the subject, or an empty string when it has none.
      type: str
      sample: mail.mydomain.local
    subject_alt_names:
      description: The DNS names, then the IP addresses, of the subject alternative name extension.
      type: list
      elements: str
      sample: [mail.mydomain.local, autodiscover.mydomain.local]
    not_before:
      description: Start of the validity period (the web UI's C(From)), ISO 8601 in UTC.
      type: str
      sample: "2026-01-01T00:00:00Z"
    not_after:
      description: End of the validity period (the web UI's C(Until)), ISO 8601 in UTC.
      type: str
      sample: "2027-01-01T00:00:00Z"
    issuer:
      description: The issuer's distinguished name (RFC 4514).
      type: str
      sample: CN=MyDomain Issuing CA,DC=mydomain,DC=local
    subject:
      description: The subject's distinguished name (RFC 4514).
      type: str
      sample: CN=mail.mydomain.local,O=MyDomain
    self_signed:
      description: Whether the certificate is its own issuer.
      type: bool
      sample: false
    days_left:
      description: Whole days until the certificate expires.
      type: int
      sample: 364
    key_type:
      description: The type of the certificate's key.
      type: str
      sample: RSA
      choices: [RSA, EC]
    key_size:
      description: The size of the key in bits (for EC keys, the size of the curve).
      type: int
      sample: 2048
    fingerprint_sha256:
      description: SHA-256 fingerprint of the certificate, lower case hexadecimal pairs separated by colons.
      type: str
      sample: "3b:5f:9e:...:c1"
    serial:
      description: The serial number, lower case hexadecimal pairs separated by colons.
      type: str
      sample: "1a:2b:3c:4d"
    status:
      description:
        - The web UI's status text.
        - V(expires soon) when fewer than O(warn_days) days are left, else V(self signed) for a self-signed
          certificate, else V(valid).
      type: str
      sample: valid
      choices: [valid, self signed, expires soon]
    chain_length:
      description: How many chain certificates come with the certificate (the certificate itself not counted).
      type: int
      sample: 1
dest:
  description: The path of the combined PEM file, when O(dest) is set.
  returned: when O(dest) is set
  type: str
  sample: /etc/haproxy/certs/https.pem
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.exchange_lb.appliance.plugins.module_utils._certificate import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
    MIN_CRYPTOGRAPHY_VERSION,
    CertificateError,
    check_certificate,
    combined_pem,
    cryptography_too_old,
    identity_of_pem,
    read_file,
)

DEFAULT_MODE = 0o600


def _read_existing(path, field):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CertificateError(field, f"cannot read the combined PEM file {path}: {exc.strerror or exc}") from None


def _write_atomically(module, dest, content, file_args, existing):
    """Write ``content`` next to ``dest`` with its final attributes, then rename it over ``dest``."""
    directory = os.path.dirname(dest) or "."
    fd, tmp_path = tempfile.mkstemp(prefix=".ansible_tmp", suffix=os.path.basename(dest), dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), DEFAULT_MODE)
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if existing is not None:
            # Keep the owner and group of the file being replaced unless new ones are asked for.
            current = os.stat(dest)
            try:
                os.chown(tmp_path, current.st_uid, current.st_gid)
            except PermissionError:
                pass
        tmp_args = dict(file_args, path=tmp_path)
        module.set_fs_attributes_if_different(tmp_args, True)
        os.replace(tmp_path, dest)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise
    if module.selinux_enabled() and not any(file_args.get(key) for key in ("seuser", "serole", "setype", "selevel")):
        module.set_context_if_different(dest, module.selinux_default_context(dest), False)


def install(module, dest, content, info, field):
    """Write ``content`` to ``dest`` when it differs; returns (changed, diff)."""
    existing = _read_existing(dest, field)
    diff = {
        "before": identity_of_pem(existing) if existing is not None else {},
        "after": info.identity(),
    }
    if existing is not None and diff["before"] is None:
        diff["before"] = {"content": "not a certificate"}
    file_args = module.load_file_common_arguments(module.params, path=dest)
    if file_args.get("mode") is None:
        file_args["mode"] = DEFAULT_MODE
    changed = existing != content
    if changed:
        if not module.check_mode:
            try:
                _write_atomically(module, dest, content, file_args, existing)
            except OSError as exc:
                raise CertificateError(field, f"cannot write the combined PEM file {dest}: {exc.strerror or exc}") from None
        elif existing is None:
            return True, diff
    changed = module.set_fs_attributes_if_different(file_args, changed, diff=diff)
    return changed, diff


def main():
    module = AnsibleModule(
        argument_spec={
            "src": {"type": "path", "required": True},
            "remote_src": {"type": "bool", "default": False},
            "password": {"type": "str", "no_log": True},
            "host_name": {"type": "str"},
            "field": {"type": "str", "default": "Certificate"},
            "warn_days": {"type": "int", "default": 30},
            "dest": {"type": "path"},
        },
        supports_check_mode=True,
        add_file_common_args=True,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    if cryptography_too_old():
        module.fail_json(msg=missing_required_lib(f"cryptography >= {MIN_CRYPTOGRAPHY_VERSION}"))

    field = module.params["field"]
    dest = module.params["dest"]
    try:
        data = read_file(module.params["src"], field=field)
        bundle, info, warnings = check_certificate(
            data,
            module.params["password"],
            field=field,
            host_name=module.params["host_name"],
            warn_days=module.params["warn_days"],
        )
        result = {"changed": False, "certificate": info.as_dict()}
        for warning in warnings:
            module.warn(warning)
        if dest:
            changed, diff = install(module, dest, combined_pem(bundle), info, field)
            result.update(changed=changed, dest=dest)
            if module._diff:
                result["diff"] = diff
    except CertificateError as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
