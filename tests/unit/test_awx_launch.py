"""A job launched in AWX: what it hands the roles.

The rule (docs/awx.md): a blank survey answer never overrides the inventory. AWX puts into a job's
extra vars, which beat every inventory value, (1) the default of every survey question, on every
launch, schedules and API calls too, and (2) an empty string for a blank optional text question
whose minimum length is 0. So no question has a default and every text question needs one
character; an API call that sends an empty text answer anyway is refused by AWX, never applied.

``awx_launch`` models how AWX 24 builds a job's extra vars, from its source and documentation:
awx/main/models/mixins.py (SurveyJobTemplateMixin._update_unified_job_kwargs: the survey defaults,
then the answers; _survey_element_validation: a text answer shorter than the question's min is an
error) and docs/docsite/rst/userguide/job_templates.rst, "Optional Survey Questions" (what the form
sends for a blank answer). ``inject`` models how a custom credential type reaches the job
(awx/main/models/credential.py, CredentialType.inject_credential: each file template rendered
into a file of its own, the extra vars rendered with the inputs and tower.filename.<name>, written
as a YAML file whose strings are tagged !unsafe). The job's variables then come from a real
ansible-playbook run: the inventory's values stay, a survey answer given wins, the certificate
files and passwords the credentials inject are what the certificate module and the secret lookup
accept, as the exchange role uses them.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
import typing as t
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = Path(__file__).resolve().parents[2]
AWX = ROOT / "awx"
JOBS = yaml.safe_load((AWX / "job_templates.yml").read_text(encoding="utf-8"))["exlb_awx_job_templates"]
CREDENTIAL_TYPES = {
    kind["name"]: kind for kind in yaml.safe_load((AWX / "credential_types.yml").read_text(encoding="utf-8"))["credential_types"]
}
TEXT = ("text", "textarea", "password")


def survey_of(job: dict[str, t.Any]) -> dict[str, t.Any]:
    return yaml.safe_load((AWX / "surveys" / job["survey"]).read_text(encoding="utf-8"))


def _errors(question: dict[str, t.Any], value: t.Any) -> list[str]:
    """AWX's check of one answer (_survey_element_validation, for the types the surveys use)."""
    name = question["variable"]
    if question["type"] in TEXT:
        if not isinstance(value, str):
            return [f"{name}: expected a string"]
        if question.get("min") not in ("", None) and len(value) < int(question["min"]):
            return [f"{name}: value {value!r} is too small"]
    elif question["type"] == "integer":
        # AWX compares the type exactly: a bool is no integer answer
        if not isinstance(value, int) or isinstance(value, bool) or not question.get("min", value) <= value <= question.get("max", value):
            return [f"{name}: {value!r} is not an integer within bounds"]
    elif question["type"] == "multiplechoice" and value not in question["choices"]:
        return [f"{name}: {value!r} is not a choice"]
    elif question["type"] == "multiselect" and not (isinstance(value, list) and set(value) <= set(question["choices"])):
        return [f"{name}: {value!r} are not choices"]
    return []


def form_answers(survey: dict[str, t.Any], answers: dict[str, t.Any]) -> dict[str, t.Any]:
    """What the launch form sends: a question not answered keeps the default the form shows; a blank
    non-text question sends nothing, a blank text question with min 0 (or none) an empty string, a blank
    text question with min > 0 nothing."""
    sent = {}
    for question in survey["spec"]:
        value = answers.get(question["variable"], question.get("default"))
        if value in (None, "", []):
            if question["type"] in TEXT and not question.get("min"):
                sent[question["variable"]] = ""
            continue
        sent[question["variable"]] = value
    return sent


def awx_launch(survey: dict[str, t.Any], sent: dict[str, t.Any]) -> tuple[dict[str, t.Any], list[str]]:
    """The job's extra vars for the answers ``sent`` (by the form, an API call, a schedule), and the
    errors for which AWX refuses the launch."""
    errors: list[str] = []
    extra_vars: dict[str, t.Any] = {}
    for question in survey["spec"]:
        default = question.get("default")
        if default is not None and not _errors(question, default):
            extra_vars[question["variable"]] = default
        if question["variable"] in sent:
            errors += _errors(question, sent[question["variable"]])
        elif question["required"]:
            errors.append(f"{question['variable']} value missing")
    extra_vars.update(sent)
    return extra_vars, errors


class _Filenames:
    pass


def inject(kind: dict[str, t.Any], inputs: dict[str, str], private_dir: Path) -> dict[str, t.Any]:
    """The extra vars a credential of ``kind`` with ``inputs`` adds to a job, its files written under
    ``private_dir``."""
    env = ImmutableSandboxedEnvironment()
    namespace: dict[str, t.Any] = {name: value for name, value in inputs.items() if value}
    tower = _Filenames()
    tower.filename = _Filenames()  # type: ignore[attr-defined]
    namespace["tower"] = tower
    for label, template in kind["injectors"].get("file", {}).items():
        path = private_dir / f"{kind['name'].replace(' ', '_')}.{label}"
        path.write_text(env.from_string(template).render(**namespace), encoding="utf-8")
        setattr(tower.filename, label.split(".", 1)[1], str(path))  # type: ignore[attr-defined]
    return {name: env.from_string(template).render(**namespace) for name, template in kind["injectors"]["extra_vars"].items()}


class _Unsafe(yaml.SafeDumper):
    """AWX's extra-vars file: every string tagged !unsafe (awx/main/utils/safe_yaml.py)."""

    def represent_str(self, data: str) -> yaml.ScalarNode:  # type: ignore[override]
        return self.represent_scalar("!unsafe", data)


_Unsafe.add_representer(str, _Unsafe.represent_str)


# --- the surveys -----------------------------------------------------------------------------------


@pytest.mark.parametrize("job", JOBS, ids=[job["name"] for job in JOBS])
def test_a_launch_with_every_optional_answer_blank_sends_no_variable(job: dict[str, t.Any]) -> None:
    survey = survey_of(job)
    required = {q["variable"]: (q.get("choices") or ["cas1"])[0] for q in survey["spec"] if q["required"]}
    extra_vars, errors = awx_launch(survey, form_answers(survey, required))
    assert not errors
    assert extra_vars == required, "only the required answers reach the job"


@pytest.mark.parametrize("job", JOBS, ids=[job["name"] for job in JOBS])
def test_an_empty_text_answer_sent_anyway_is_refused_not_applied(job: dict[str, t.Any]) -> None:
    survey = survey_of(job)
    for question in survey["spec"]:
        if question["type"] in TEXT:
            _extra_vars, errors = awx_launch(survey, {question["variable"]: ""})
            assert any(question["variable"] in error for error in errors), question["variable"]


def test_the_model_shows_what_a_default_or_an_empty_answer_would_do() -> None:
    """The surveys as they were: a default is sent on every launch, a blank text with min 0 as ""."""
    survey = {"spec": [
        {"variable": "exchange_http_host_name", "type": "text", "required": False, "default": "mail.mydomain.local"},
        {"variable": "exchange_network_gateway", "type": "text", "required": False, "min": 0},
        {"variable": "exchange_http_mode", "type": "multiplechoice", "required": False, "choices": ["ssl-offload", "clear"]},
    ]}
    extra_vars, errors = awx_launch(survey, form_answers(survey, {}))
    assert not errors
    assert extra_vars == {"exchange_http_host_name": "mail.mydomain.local", "exchange_network_gateway": ""}


# --- a job, run ------------------------------------------------------------------------------------

HOST = "mail.example.com"
NOW = datetime.datetime.now(datetime.timezone.utc)


def _certificate() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def run_job(tmp_path: Path, inventory: dict[str, t.Any], test: dict[str, t.Any], *args: str) -> subprocess.CompletedProcess[str]:
    """A run of the play of tests/unit/files/awx_job_variables.yml on one node, whose group has the
    variables ``inventory``."""
    node = {"ansible_connection": "local", "ansible_python_interpreter": str(ROOT / ".venv" / "bin" / "python")}
    group = {"hosts": {"lb1": node}, "vars": inventory}
    hosts = {"all": {"children": {"exchange_lb": group}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    (tmp_path / "test.json").write_text(json.dumps(test), encoding="utf-8")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(tmp_path / "hosts.yml"), f"-e@{tmp_path / 'test.json'}", *args,
         str(ROOT / "tests" / "unit" / "files" / "awx_job_variables.yml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def site_value(question: dict[str, t.Any]) -> t.Any:
    """A site's value for a question, in its inventory."""
    if question["type"] == "integer":
        return question["max"] - 1
    if question["type"] == "multiplechoice":
        return question["choices"][-1]
    if question["type"] == "multiselect":
        return question["choices"][:1]
    return "site-" + question["variable"].replace("_", "-")


def test_a_job_sees_the_inventory_a_given_answer_and_the_credentials(tmp_path: Path) -> None:
    job = next(job for job in JOBS if job["name"] == "Apply configuration")
    survey = survey_of(job)
    questions = [q for j in JOBS for q in survey_of(j)["spec"]]
    inventory = {q["variable"]: site_value(q) for q in questions}

    # the form: every optional question blank but one
    extra_vars, errors = awx_launch(survey, form_answers(survey, {"exchange_http_timeout": 99}))
    assert not errors and extra_vars == {"exchange_http_timeout": 99}
    # the credentials of Apply configuration: a .pfx as base64 with a password, a PEM without, the admin password
    key, cert = _certificate()
    password = "p{{ass}}'wörd"
    pfx = pkcs12.serialize_key_and_certificates(b"mail", key, cert, None, serialization.BestAvailableEncryption(password.encode()))
    pem = (cert.public_bytes(serialization.Encoding.PEM)
           + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())).decode()
    private = tmp_path / "env"
    private.mkdir()
    injected: dict[str, t.Any] = {}
    injected |= inject(CREDENTIAL_TYPES["Exchange LB HTTP(s) certificate"],
                       {"http_certificate": base64.b64encode(pfx).decode(), "http_certificate_password": password}, private)
    injected |= inject(CREDENTIAL_TYPES["Exchange LB IMAP(s) certificate"], {"imap_certificate": pem}, private)
    injected |= inject(CREDENTIAL_TYPES["Exchange LB admin"], {"admin_password": "{{ admin }}"}, private)
    assert set(CREDENTIAL_TYPES) - set(job["credential_types"]) == set()

    names = [q["variable"] for q in questions]
    out = tmp_path / "out.json"
    (tmp_path / "credentials.yml").write_text(yaml.dump(injected, Dumper=_Unsafe), encoding="utf-8")
    (tmp_path / "launch.json").write_text(json.dumps(extra_vars), encoding="utf-8")
    run = run_job(tmp_path, inventory, {"names": names, "out": str(out), "certificates": ["http", "imap"]},
                  f"-e@{tmp_path / 'launch.json'}", f"-e@{tmp_path / 'credentials.yml'}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert password not in run.stdout + run.stderr
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert seen["variables"] == {**inventory, "exchange_http_timeout": 99}
    assert seen["common_names"] == [HOST, HOST]
    assert seen["admin_password_set"] is True


def test_a_certificate_file_of_the_site_repository_may_be_vault_encrypted(tmp_path: Path) -> None:
    """A certificate kept in the site repository, encrypted with ansible-vault: the Vault credential's
    password decrypts it; without it, the run names the field and the file."""
    from ansible.parsing.vault import VaultLib, VaultSecret  # pylint: disable=import-outside-toplevel

    key, cert = _certificate()
    pem = (cert.public_bytes(serialization.Encoding.PEM)
           + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    certificate_file = tmp_path / "smtp.pem.vault"
    certificate_file.write_bytes(VaultLib([("default", VaultSecret(b"site vault"))]).encrypt(pem))
    (tmp_path / "vault-password").write_text("site vault\n", encoding="utf-8")
    inventory = {"exchange_smtp_certificate": str(certificate_file), "exchange_smtp_certificate_password": "",
                 "exchange_admin_password": ""}
    out = tmp_path / "out.json"
    test = {"names": [], "out": str(out), "certificates": ["smtp"]}
    run = run_job(tmp_path, inventory, test, f"--vault-password-file={tmp_path / 'vault-password'}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["common_names"] == [HOST]
    run = run_job(tmp_path, inventory, test)
    assert run.returncode != 0
    assert f"smtp certificate: the file '{certificate_file}' cannot be decrypted" in run.stdout
