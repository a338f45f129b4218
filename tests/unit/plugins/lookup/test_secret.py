"""The appliance's passwords through lookup('exchange_lb.appliance.secret'), templated as Ansible does:
any characters work ('{{' and '{%' too), a vaulted password referenced by a template still renders,
and no error or warning shows the value."""

from __future__ import annotations

import re
import sys
import typing as t
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from ansible_templating import LOADER, role_variables  # noqa: E402  (installs Ansible's collection loader)
from ansible.errors import AnsibleError  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402
from ansible_collections.exchange_lb.appliance.plugins.lookup import secret  # noqa: E402

LOOKUP = "{{ lookup('exchange_lb.appliance.secret', 'password') }}"
PASSWORDS = ["", "plain", "ab{{cd", "x{% y", "{{ nope }}", "lab-{{admin}}-Secret{%", "{# c", "}}{{", "{%}", "p'\"\\ {{"]


def read(value: t.Any, **more: t.Any) -> t.Any:
    variables = {"password": trust_as_template(value) if isinstance(value, str) else value, **more}
    return Templar(loader=LOADER, variables=variables).template(trust_as_template(LOOKUP))


@pytest.mark.parametrize("password", PASSWORDS)
def test_a_password_that_is_no_template_is_taken_as_written(password: str, monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(secret.display, "warning", warnings.append)
    assert read(password) == password
    if any(mark in password for mark in ("{{", "{%", "{#")):
        assert warnings == ["password: taken as written (it holds '{{', '{%' or '{#' but is no template that renders)"]
    else:
        assert warnings == []


def test_a_password_referenced_by_a_template_renders() -> None:
    # the vault's way: exchange_admin_password: "{{ vault_admin_password }}"
    # a vaulted value is no template: what it holds is the password, '{{' or not
    assert read("{{ vault_password }}", vault_password="s3cret{{") == "s3cret{{"
    assert read("{{ vault_password }}", vault_password="s3cret") == "s3cret"


def test_what_it_returns_is_not_rendered_again() -> None:
    variables = {"password": trust_as_template("{{ 'a' ~ '{{ 1 }}' }}")}
    templar = Templar(loader=LOADER, variables=variables)
    assert templar.template(trust_as_template(LOOKUP + "|" + LOOKUP)) == "a{{ 1 }}|a{{ 1 }}"


@pytest.mark.parametrize("value", [["a"], {"a": 1}, True])
def test_a_password_that_is_no_text_is_refused_without_its_value(value: t.Any) -> None:
    with pytest.raises(AnsibleError, match=r"password: a password is text") as error:
        read(value)
    assert repr(value) not in str(error.value)


def test_a_number_is_its_digits() -> None:
    assert read(12345) == "12345"


def test_an_unset_password_is_empty() -> None:
    assert Templar(loader=LOADER, variables={}).template(trust_as_template(LOOKUP)) == ""


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("{}%#'\" ab-_1\\|~()[].")), max_size=24))
def test_any_password_is_either_rendered_or_taken_as_written(password: str) -> None:
    templar = Templar(loader=LOADER, variables={})
    try:
        rendered: t.Any = templar.template(trust_as_template(password))
    except AnsibleError:
        rendered = password
    if isinstance(rendered, (int, float)) and not isinstance(rendered, bool):
        rendered = str(rendered)
    try:
        got = read(password)
    except AnsibleError as error:  # a template rendering to something that is no text: refused, without the value
        assert password not in str(error) or not password.strip()
        return
    assert got in (password, "" if rendered is None else rendered)


@pytest.mark.parametrize("password", PASSWORDS)
def test_the_exchange_role_reads_every_password_through_it(password: str) -> None:
    inventory = {name: trust_as_template(password) for name in (
        "exchange_admin_password", "exchange_http_certificate_password", "exchange_imap_certificate_password",
        "exchange_pop3_certificate_password", "exchange_smtp_certificate_password")}
    variables = role_variables(["exchange"], inventory)
    templar = Templar(loader=LOADER, variables=variables)
    passwords = templar.template(variables["exchange_certificate_passwords"])
    assert passwords == {"http": password, "imap": password, "pop3": password, "smtp": password}
    assert templar.template(trust_as_template("{{ exchange_settings.stats_enabled }}")) is bool(password)


# --- the passwords of the additional certificates: items of a list ----------------------------------

SNI_VARIABLE = "exchange_http_additional_certificates"


def sni_items(*passwords: t.Any) -> list[dict[str, t.Any]]:
    """The list as an inventory gives it: every string trusted as a template, as Ansible loads YAML."""
    return [{"certificate": trust_as_template(f"/etc/ssl/sni{index}.pfx"),
             "host_name": trust_as_template(f"sni{index}.mydomain.local"),
             "password": trust_as_template(password) if isinstance(password, str) else password}
            for index, password in enumerate(passwords, start=1)]


def read_path(path: str, **variables: t.Any) -> t.Any:
    lookup = trust_as_template("{{ lookup('exchange_lb.appliance.secret', '" + path + "') }}")
    return Templar(loader=LOADER, variables=variables).template(lookup)


@pytest.mark.parametrize("password", PASSWORDS)
def test_a_password_in_a_list_is_read_by_its_path_as_a_top_level_one(password: str, monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(secret.display, "warning", warnings.append)
    # the other item's password is a broken template: reading this one does not render it
    variables = {"certs": sni_items("p{{", password)}
    assert read_path("certs[1].password", **variables) == password
    if any(mark in password for mark in ("{{", "{%", "{#")):
        assert warnings == ["certs[1].password: taken as written (it holds '{{', '{%' or '{#' but is no template that renders)"]
    else:
        assert warnings == []


def test_a_list_referenced_by_a_template_is_rendered_on_the_way() -> None:
    # exchange_http_additional_certificates: "{{ vault_certificates }}" - the vault's values are no templates
    variables = {"certs": trust_as_template("{{ vault_certs }}"), "vault_certs": [{"password": "v{{ault"}]}
    assert read_path("certs[0].password", **variables) == "v{{ault"
    assert read_path("certs[0].password", certs=[{"password": trust_as_template("{{ vault_p }}")}], vault_p="s3") == "s3"


@pytest.mark.parametrize("path", ["certs[5].password", "certs[0].nothing", "nothing[0].password", "certs[1].password"])
def test_a_missing_item_or_key_reads_as_unset(path: str) -> None:
    assert read_path(path, certs=[{"password": "a"}, {"certificate": "/b.pem"}]) == ""


@pytest.mark.parametrize(("path", "words"), [
    ("certs[0]", "a password is text, not dict"),
    ("certs.password", "list has no .password"),
    ("certs[0].password[0]", "str has no [0]"),
    ("certs[0].password;x", "not a variable name or a path"),
])
def test_a_path_that_does_not_lead_to_text_is_refused_without_the_value(path: str, words: str) -> None:
    with pytest.raises(AnsibleError) as error:
        read_path(path, certs=[{"password": "Zq7-SECRET"}])
    assert words in str(error.value) and "Zq7-SECRET" not in str(error.value)


def test_a_list_whose_template_fails_is_refused_without_its_value() -> None:
    with pytest.raises(AnsibleError, match=r"certs\[0\]\.password: could not be read") as error:
        read_path("certs[0].password", certs=trust_as_template("{{ [{'password': 'Zq7-SECRET'}] | nosuchfilter }}"))
    assert "Zq7-SECRET" not in str(error.value)


def sni_role(*passwords: t.Any, **more: t.Any) -> tuple[Templar, dict[str, t.Any]]:
    variables = role_variables(["exchange"], {SNI_VARIABLE: sni_items(*passwords), **more})
    return Templar(loader=LOADER, variables=variables), variables


@pytest.mark.parametrize("password", PASSWORDS)
def test_the_exchange_role_reads_the_additional_certificates_passwords_through_it(password: str) -> None:
    templar, variables = sni_role(password, "plain", "x{{")
    assert templar.template(variables["exchange_certificate_passwords"]) == {
        "http": "", "imap": "", "pop3": "", "smtp": "", "http_sni1": password, "http_sni2": "plain", "http_sni3": "x{{"}
    # the plan gets the certificates and host names, never a password
    assert templar.template(trust_as_template("{{ exchange_settings.http_additional_certificates }}")) == [
        {"certificate": f"/etc/ssl/sni{index}.pfx", "host_name": f"sni{index}.mydomain.local"} for index in (1, 2, 3)]


@pytest.mark.parametrize(("value", "plan_gets"), [
    (None, []), ("a.pem", "not a list"), ({"certificate": "/a.pem", "password": "p{{"}, "not a list"),
    (["a.pem"], ["not a mapping"]), ([{"certificate": "/a.pem", "pasword": "x"}], [{"certificate": "/a.pem", "pasword": "x"}]),
])
def test_what_is_no_list_of_certificates_reaches_the_plan_as_something_it_refuses(value: t.Any, plan_gets: t.Any) -> None:
    variables = role_variables(["exchange"], {SNI_VARIABLE: value})
    templar = Templar(loader=LOADER, variables=variables)
    assert templar.template(trust_as_template("{{ exchange_settings.http_additional_certificates }}")) == plan_gets
    passwords = templar.template(variables["exchange_certificate_passwords"])
    assert not any(key.startswith("http_sni") for key in passwords) or isinstance(value, list)


def test_the_list_holding_passwords_is_out_of_the_argument_specs_templating_check() -> None:
    # ansible-core's check of an entry point's options renders each value as a template (a password with
    # '{{' fails there and the error quotes it): every option holding a password is documentation only
    import yaml  # noqa: PLC0415

    specs = yaml.safe_load((Path(__file__).resolve().parents[4] / "roles/exchange/meta/argument_specs.yml").read_text())
    main, passwords = specs["argument_specs"]["main"]["options"], specs["argument_specs"]["passwords"]["options"]
    assert SNI_VARIABLE in passwords and SNI_VARIABLE not in main
    for name, spec in main.items():
        assert not spec.get("no_log"), name
        assert not any(sub.get("no_log") for sub in (spec.get("options") or {}).values()), name


@settings(max_examples=120, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("{}%#'\" ab-_1\\|~()[].")), max_size=20), min_size=1, max_size=3))
def test_any_password_of_an_additional_certificate_is_read_and_never_shown(passwords: list[str]) -> None:
    shown: list[str] = []
    original = secret.display.warning
    secret.display.warning = shown.append  # type: ignore[method-assign]
    try:
        templar, variables = sni_role(*passwords)
        got = templar.template(variables["exchange_certificate_passwords"])
        settings_seen = templar.template(trust_as_template("{{ exchange_settings.http_additional_certificates }}"))
    finally:
        secret.display.warning = original  # type: ignore[method-assign]
    plain = Templar(loader=LOADER, variables={})
    for index, password in enumerate(passwords, start=1):
        try:
            rendered: t.Any = plain.template(trust_as_template(password))
        except AnsibleError:
            rendered = password
        assert got[f"http_sni{index}"] in (password, "" if rendered is None else str(rendered))
    assert all("password" not in entry for entry in settings_seen)
    for warning in shown:  # a warning names the item, never its text
        assert re.fullmatch(r"exchange_http_additional_certificates\[\d\]\.password: taken as written .*", warning), warning
