"""The lab's bad certificates (lab/pki.py, bad/...) are refused by the certificate check for the reason
their index entry names, and its good ones are accepted: the bad_input corpus's certificate cases
(tests/bad_input/cases, refused_by: certificate) then fail on a node for that reason, not another.

The PKI is generated here, into a temporary directory, as lab/lab.sh does into .lab/pki."""

from __future__ import annotations

import importlib.util
import json
import re
import typing as t
from pathlib import Path

import pytest
import yaml

from ansible_templating import load
from test_bad_input_cases import CONTROLLER, settings_for  # the corpus's own settings

from ansible_collections.exchange_lb.appliance.plugins.module_utils._certificate import (
    CertificateError,
    check_certificate,
    read_file,
)
from ansible_collections.exchange_lb.appliance.plugins.module_utils._plan import build_plan

ROOT = Path(__file__).resolve().parents[2]
FIELD = "HTTP(s) Service › Certificate .pfx or .pem"
HOST = "mail.mydomain.local"

# problem (index.json) -> what the refusal says, after the field
REFUSAL = {
    "expired": r"^the certificate expired on ",
    "not_yet_valid": r"^the certificate is not valid before ",
    "wrong_hostname": r"^the certificate does not cover the host name mail\.mydomain\.local; it covers: www\.wrong-name\.invalid",
    "weak_key": r"^the certificate's RSA key has 1024 bits, which is too weak",
    "cn_only": r"^the certificate has no DNS name among its subject alternative names \(SAN\), only the common name "
    r"CN=mail\.mydomain\.local: browsers and phones ignore the common name and refuse it",
    "ca_leaf": r"^the certificate is a CA certificate \(basicConstraints CA:TRUE\), not a server certificate",
    "no_digital_signature": r"^the certificate's key usage \(keyEncipherment\) lacks digitalSignature",
    "sha1_signature": r"^the certificate is signed with SHA-1, a hash browsers and phones no longer trust",
    "sha1_intermediate": r"^the chain certificate is signed with SHA-1, .*\(CN=exlb Lab SHA-1 Issuing CA\)$",
}


@pytest.fixture(scope="module", name="pki")
def fixture_pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, t.Any]]:
    spec = importlib.util.spec_from_file_location("lab_pki", ROOT / "lab" / "pki.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("pki")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAB_STANDINS", "exlb-cas1:cas1:10.89.60.21:cas:standin exlb-hub1:hub1:10.89.60.31:hub:standin")
        patch.delenv("LAB_STANDINS_B", raising=False)
        patch.delenv("LAB_STANDINS_C", raising=False)
        index = module.generate(str(out))
    return out, index


def _check(out: Path, entry: dict[str, t.Any], kind: str) -> None:
    password = entry.get("password") if kind == "pfx" else None
    check_certificate(read_file(str(out / entry["files"][kind]), field=FIELD), password, field=FIELD, host_name=HOST)


@pytest.mark.parametrize("problem", sorted(REFUSAL))
def test_each_bad_certificate_is_refused_for_its_own_reason(pki: tuple[Path, dict[str, t.Any]], problem: str) -> None:
    out, index = pki
    entries = [entry for entry in index["entries"].values() if entry.get("problem") == problem]
    assert entries, f"lab/pki.py makes no certificate with the problem {problem}"
    for entry in entries:
        for kind in ("pem", "pfx"):
            with pytest.raises(CertificateError) as refused:
                _check(out, entry, kind)
            assert refused.value.field == FIELD
            assert re.search(REFUSAL[problem], refused.value.message), f"{problem} ({kind}): {refused.value.message}"


def test_the_good_certificates_pass(pki: tuple[Path, dict[str, t.Any]]) -> None:
    out, index = pki
    for key in ("mail", "mail_ecdsa"):
        for kind in ("pem", "pfx"):
            _check(out, index["entries"][key], kind)
    assert json.loads((out / "index.json").read_text(encoding="utf-8"))["format"] == index["format"]


CERTIFICATE_CASES = [
    case
    for case in sorted((ROOT / "tests" / "bad_input" / "cases").glob("*.yml"))
    if yaml.safe_load(case.read_text(encoding="utf-8"))["refused_by"] == "certificate"
]


@pytest.mark.parametrize("case", CERTIFICATE_CASES, ids=[case.stem for case in CERTIFICATE_CASES])
def test_each_certificate_case_of_the_corpus_is_refused_naming_its_field(
    pki: tuple[Path, dict[str, t.Any]], case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the exchange role does: the plan's certificates, each checked with its service's password;
    the first refusal must contain the case's ``field`` (which, for the newer cases, says why)."""
    out, _index = pki
    monkeypatch.setenv("LAB_PKI_DIR", str(out))
    data = yaml.safe_load(case.read_text(encoding="utf-8"))
    plan = build_plan(settings_for(case), CONTROLLER)
    assert plan.certificates, case.name
    # the passwords are no settings: the scenario's and the case's variables, as the role's vars/main.yml takes them
    variables = {**load("molecule/bad_input/molecule.yml")["provisioner"]["inventory"]["group_vars"]["exchange_lb"], **data["vars"]}
    if not all(Path(certificate.src).is_file() for certificate in plan.certificates):
        pytest.skip("a file missing on the controller is the action plugin's refusal (tests/unit/plugins)")
    with pytest.raises(CertificateError) as refused:
        for certificate in plan.certificates:
            password = variables.get(f"exchange_{certificate.service}_certificate_password")
            check_certificate(
                read_file(certificate.src, field=certificate.field),
                password or None,
                field=certificate.field,
                host_name=certificate.host_name,
            )
    assert data["field"] in str(refused.value), f"{case.name}: {refused.value}"
