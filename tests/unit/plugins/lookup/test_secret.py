"""The appliance's passwords through lookup('exchange_lb.appliance.secret'), templated as Ansible does:
any characters work ('{{' and '{%' too), a vaulted password referenced by a template still renders,
and no error or warning shows the value."""

from __future__ import annotations

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
    assert got in (password, rendered)


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
