"""The AWX credential types (awx/credential_types.yml, generated from the settings table) and the
playbook that creates them (awx/setup.yml).

A credential type is what AWX accepts (the rules of awx/main/fields.py, CredentialTypeInputField and
CredentialTypeInjectorField: field keys and ids, a kind custom types may have, file templates named
template.<name>, every template rendering with only the type's fields and tower.filename.<name>);
every extra var it injects is a variable of the exchange role, a password into an option the spec
marks no_log, a file into a path option; every secret and file of the role has a credential type;
the job templates get them. Every awx.awx task of awx/setup.yml uses only options its module
documents, with a value of one of its choices."""

from __future__ import annotations

import os
import re
import subprocess
import typing as t
from pathlib import Path

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = Path(__file__).resolve().parents[2]
AWX = ROOT / "awx"
AWX_COLLECTION = next((ROOT / ".venv" / "lib").glob("python3*/site-packages/ansible_collections/awx/awx"))
TYPES = yaml.safe_load((AWX / "credential_types.yml").read_text(encoding="utf-8"))["credential_types"]
JOBS = yaml.safe_load((AWX / "job_templates.yml").read_text(encoding="utf-8"))["exlb_awx_job_templates"]
SPECS = yaml.safe_load((ROOT / "roles" / "exchange" / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]
OPTIONS = {**SPECS["main"]["options"], **SPECS["passwords"]["options"]}
FIELD_KEYS = {"id", "label", "type", "format", "choices", "help_text", "multiline", "secret", "ask_at_runtime", "default"}
NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
FILE_LABEL = re.compile(r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$")


class _Namespace:
    pass


@pytest.mark.parametrize("kind", TYPES, ids=[kind["name"] for kind in TYPES])
def test_the_credential_type_is_one_awx_accepts(kind: dict[str, t.Any]) -> None:
    assert set(kind) == {"name", "description", "kind", "inputs", "injectors"}
    assert kind["kind"] in ("cloud", "net"), "custom credential types are cloud or net"
    fields = kind["inputs"]["fields"]
    ids = [field["id"] for field in fields]
    assert len(ids) == len(set(ids)) and "tower" not in ids
    for field in fields:
        assert set(field) <= FIELD_KEYS and {"id", "label"} <= set(field), field
        assert NAME.match(field["id"]) and field["type"] == "string", field
    assert set(kind["inputs"]["required"]) <= set(ids)
    assert set(kind["injectors"]) <= {"file", "env", "extra_vars"}
    labels = list(kind["injectors"].get("file", {}))
    assert all(FILE_LABEL.match(label) for label in labels) and "template" not in labels
    namespace: dict[str, t.Any] = dict.fromkeys(ids, "EXAMPLE")
    namespace["tower"] = _Namespace()
    namespace["tower"].filename = _Namespace()
    for label in labels:
        setattr(namespace["tower"].filename, label.split(".", 1)[1], "EXAMPLE_FILENAME")
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for template in [*kind["injectors"].get("file", {}).values(), *kind["injectors"]["extra_vars"].values()]:
        env.from_string(template).render(namespace)  # an undefined name raises
    assert all(NAME.match(name) for name in kind["injectors"]["extra_vars"])


@pytest.mark.parametrize("kind", TYPES, ids=[kind["name"] for kind in TYPES])
def test_every_injected_variable_is_the_roles_and_every_secret_is_no_log(kind: dict[str, t.Any]) -> None:
    fields = {field["id"]: field for field in kind["inputs"]["fields"]}
    for variable, template in kind["injectors"]["extra_vars"].items():
        assert variable in OPTIONS, f"{kind['name']}: {variable} is no variable of the exchange role"
        option = OPTIONS[variable]
        if file := re.fullmatch(r"\{\{ tower\.filename\.(\w+) \}\}", template):
            assert option["type"] == "path", f"{variable}: a file goes into a path option"
            assert kind["injectors"]["file"][f"template.{file.group(1)}"] == f"{{{{ {file.group(1)} }}}}"
            field = fields[file.group(1)]
            assert field.get("multiline") and field.get("secret"), f"{variable}: a certificate file holds its private key"
        else:
            source = re.fullmatch(r"\{\{ (\w+) \}\}", template)
            assert source, template
            field = fields[source.group(1)]
            assert field.get("secret") and option.get("no_log"), f"{variable}: a password is secret in AWX and no_log in the spec"
    for field in fields.values():
        assert field.get("secret"), f"{kind['name']}: {field['id']} is not secret"


def test_every_secret_and_file_of_the_role_comes_from_a_credential() -> None:
    injected = {name for kind in TYPES for name in kind["injectors"]["extra_vars"]}
    wanted = {name for name, option in OPTIONS.items() if option.get("no_log") or option.get("type") == "path"}
    assert wanted == injected
    assert {"exchange_http_certificate", "exchange_smtp_certificate_password", "exchange_admin_password"} <= injected


def test_apply_configuration_gets_every_credential_type_and_others_none() -> None:
    names = {kind["name"] for kind in TYPES}
    for job in JOBS:
        wanted = set(job.get("credential_types", []))
        assert wanted <= names, job["name"]
        assert wanted == (names if job["name"] == "Apply configuration" else set()), job["name"]


# --- awx/setup.yml ----------------------------------------------------------------------------------


def module_options(module: str) -> dict[str, t.Any]:
    """The options of an awx.awx module, from its DOCUMENTATION and the doc fragment it extends."""
    source = (AWX_COLLECTION / "plugins" / "modules" / f"{module}.py").read_text(encoding="utf-8")
    namespace: dict[str, t.Any] = {}
    exec(compile(re.search(r"^DOCUMENTATION = .*?^'''$|^DOCUMENTATION = .*?^\"\"\"$", source, re.S | re.M).group(0),  # noqa: S102
                 module, "exec"), namespace)  # pylint: disable=exec-used
    doc = yaml.safe_load(namespace["DOCUMENTATION"])
    options = dict(doc["options"])
    fragments = (AWX_COLLECTION / "plugins" / "doc_fragments" / "auth.py").read_text(encoding="utf-8")
    auth = yaml.safe_load(re.search(r"DOCUMENTATION = r?'''(.*?)'''", fragments, re.S).group(1))
    options.update(auth["options"])
    return options


def awx_tasks() -> list[dict[str, t.Any]]:
    plays = yaml.safe_load((AWX / "setup.yml").read_text(encoding="utf-8"))
    return [task for play in plays for task in play["tasks"] if any(key.startswith("awx.awx.") for key in task)]


@pytest.mark.parametrize("task", awx_tasks(), ids=lambda task: task["name"])
def test_every_awx_task_uses_options_its_module_documents(task: dict[str, t.Any]) -> None:
    module = next(key for key in task if key.startswith("awx.awx."))
    options = module_options(module.removeprefix("awx.awx."))
    for name, value in task[module].items():
        assert name in options, f"{task['name']}: {module} has no option {name}"
        choices = options[name].get("choices")
        if choices and "{{" not in str(value):
            assert value in choices, f"{task['name']}: {name}={value!r} is not one of {choices}"
    required = {name for name, option in options.items() if option.get("required")}
    assert required <= set(task[module]), f"{task['name']}: {module} needs {required - set(task[module])}"


def test_the_credential_types_fields_are_module_choices() -> None:
    options = module_options("credential_type")
    assert all(kind["kind"] in options["kind"]["choices"] for kind in TYPES)


def test_setup_passes_the_syntax_check() -> None:
    run = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "--syntax-check", str(AWX / "setup.yml")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def run_setup(tmp_path: Path, extra: dict[str, t.Any]) -> subprocess.CompletedProcess[str]:
    """awx/setup.yml against a controller address where nothing listens: it runs up to its first
    awx.awx task, which fails to connect."""
    variables = {"exlb_awx_scm_url": "https://git.example.com/exchange-lb-site.git",
                 "exlb_awx_execution_environment_image": "registry.example.com/exchange-lb-ee:1.0.0",
                 "ansible_python_interpreter": str(ROOT / ".venv" / "bin" / "python"), **extra}
    (tmp_path / "vars.yml").write_text(yaml.safe_dump(variables), encoding="utf-8")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
           "CONTROLLER_HOST": "https://127.0.0.1:9", "CONTROLLER_USERNAME": "admin", "CONTROLLER_PASSWORD": "x"}
    return subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", str(AWX / "setup.yml"), f"-e@{tmp_path / 'vars.yml'}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_setup_gives_each_job_template_its_credentials(tmp_path: Path) -> None:
    run = run_setup(tmp_path, {
        "exlb_awx_secret_credentials": [{"type": "Exchange LB HTTP(s) certificate", "name": "mail.example.com"},
                                        {"type": "Exchange LB admin", "name": "admin"}],
        "exlb_awx_vault_credential": "site vault",
    })
    assert "Apply configuration: Exchange LB appliance nodes (SSH), mail.example.com, admin, site vault" in run.stdout
    assert "Services: Exchange LB appliance nodes (SSH), site vault" in run.stdout
    assert "Exchange static ports: Exchange CAS servers (WinRM), site vault" in run.stdout
    assert "TASK [Organization]" in run.stdout and "Connection refused" in run.stdout + run.stderr and run.returncode != 0
    without = run_setup(tmp_path, {})
    assert "Apply configuration: Exchange LB appliance nodes (SSH)\"" in without.stdout


def test_setup_refuses_a_credential_of_no_known_type(tmp_path: Path) -> None:
    run = run_setup(tmp_path, {"exlb_awx_secret_credentials": [{"type": "HTTPS certificate", "name": "mail"}]})
    assert run.returncode != 0
    assert "exlb_awx_secret_credentials: mail has the type HTTPS certificate; the types are Exchange LB HTTP(s) certificate," in run.stdout
    assert "TASK [Organization]" not in run.stdout
