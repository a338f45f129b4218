"""No setting value can add a line or a directive to a rendered file (issue 15, config injection).

For every free-text field that reaches a daemon's configuration (or might: paths and reasons that today
reach none are fuzzed too), hypothesis generates values - any text, valid names, and valid names with a
newline, a comment sign, a space, a look-alike letter or another script's digit spliced in. Each value is
either refused by the plan with the field's name, or renders, with the roles' own templates as
``test_render`` renders them (haproxy, stunnel, keepalived, nftables) and with exlb-netcfg's renderers (the
network files, the host name), files whose every line holds the same words as the files rendered with a
placeholder value, the value (as the plan wrote it) standing where the placeholder stood, and nothing else.

The settings are templated by Ansible once per scenario with the placeholder; each generated value then
replaces the placeholder in them (``exchange_settings`` hands these fields to the plan as they are).
"""

from __future__ import annotations

import dataclasses
import functools
import typing as t

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import test_render as render_test  # the render tests' inventory, include_role vars and templates
from ansible_templating import LOADER, magic_variables, role_variables  # noqa: F401  (installs Ansible's collection loader)
from ansible import constants as C
from ansible.template import Templar
from ansible_collections.exchange_lb.appliance.plugins.module_utils._netcfg import render_ifupdown, render_networkd
from ansible_collections.exchange_lb.appliance.plugins.module_utils._pairs import plan_in_inventory
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError

#: A configuration word may hold none of these: they end a word, a line or a directive, start a comment
#: or a block, or quote, in one of the daemons' syntaxes.
SPECIAL = set(" \t\r\n\v\f#;{}\"'\\,=[]")
#: The admin password's crypt hash depends on the user name (its salt): a fixed stand-in, so that the only
#: word that changes with the user is the user.
HASH = "$6$stand-in$hash"


@dataclasses.dataclass(frozen=True)
class Field:
    """A free-text field: its placeholder (a valid value, found nowhere else in the files), where the
    generated value goes in the settings, which errors name it."""

    name: str
    placeholder: str  #: the value of the baseline rendering, as the field takes it
    scenario: str  #: a key of SCENARIOS
    paths: tuple[tuple[t.Any, ...], ...]  #: where the value goes in the settings (keys and list indexes)
    fields: tuple[str, ...]  #: a refusal must name a field starting with one of these
    reaches_a_file: bool = True
    blank_is_a_choice: bool = False  #: empty means another configuration (no CA certificate: no verification)


SCENARIOS: dict[str, dict[str, t.Any]] = {
    # a pair whose node's host name is a placeholder, its network managed (the network files), stats on
    "pair": {
        **render_test.PAIR, "admin_password": "render-test-only", "network_manage": True, "network_interface": "zqif0",
        "network_dns_servers": ["10.0.0.2"], "lb1": {"ha_role": "master", "network_hostname": "zqhost"},
        "peers": [{"name": "zqhost", "address": "10.0.0.11"}, {"name": "lb2", "address": "10.0.0.12"}],
        "cas_servers": [{"name": "zqcas", "address": "10.0.0.15"}, {"name": "cas2", "address": "10.0.0.16"}],
        "hub_servers": [{"name": "zqhub", "address": "10.0.0.21"}, {"name": "hub2", "address": "10.0.0.22"}],
        "admin_user": "zquser", "http_mode": "ssl-bridge", "smtp_mode": "clear", "http_host_name": "zqweb.example.com",
        "timezone": "Zq/Zone", "rpc_ports_outside_range_reason": "zq reason",
        "http_cas_ca_certificate": "/etc/ssl/zqca.pem", "http_certificate": "/etc/ssl/zqcert.pfx",
    },
    # the other peer's name, the node's host name fixed
    "peers": {
        **render_test.PAIR, "lb1": {"ha_role": "master", "network_hostname": "lb1"},
        "peers": [{"name": "lb1", "address": "10.0.0.11"}, {"name": "zqpeer", "address": "10.0.0.12"}],
    },
    # stunnel ends TLS, with an additional certificate chosen by SNI
    "sni": {
        "tls_engine": "stunnel", "rpc_mode": "disabled",
        "http_additional_certificates": [{"certificate": "/etc/ssl/legacy.pfx", "host_name": "zqsni.example.com", "password": ""}],
    },
}

FIELDS: tuple[Field, ...] = (
    Field("network_hostname", "zqhost", "pair", (("network_hostname",), ("peers", 0, "name")),
          ("Network › Hostname", "High Availability › peer 1")),
    Field("peer name", "zqpeer", "peers", (("peers", 1, "name"),), ("High Availability › peer",)),
    Field("CAS name", "zqcas", "pair", (("cas_servers", 0, "name"),), ("CAS Servers › CAS",)),
    Field("Hub name", "zqhub", "pair", (("hub_servers", 0, "name"),), ("SMTP(s) Service › HUB Servers › HUB",)),
    Field("http_host_name", "zqweb.example.com", "pair", (("http_host_name",),), ("HTTP(s) Service › Host Name",)),
    Field("SNI host name", "zqsni.example.com", "sni", (("http_additional_certificates", 0, "host_name"),),
          ("HTTP(s) Service › additional certificates (exchange_http_additional_certificates) › certificate 1",)),
    Field("admin_user", "zquser", "pair", (("admin_user",),), ("Setup tab › System › admin user (exchange_admin_user)",)),
    Field("network_interface", "zqif0", "pair", (("network_interface",),), ("Network › interface (exchange_network_interface)",)),
    Field("timezone", "Zq/Zone", "pair", (("timezone",),), ("Setup tab › System › Timezone",), reaches_a_file=False),
    Field("rpc_ports_outside_range_reason", "zq reason", "pair", (("rpc_ports_outside_range_reason",),), ("RPC",), reaches_a_file=False),
    Field("http_certificate", "/etc/ssl/zqcert.pfx", "pair", (("http_certificate",),), ("HTTP(s) Service",), reaches_a_file=False),
    Field("http_cas_ca_certificate", "/etc/ssl/zqca.pem", "pair", (("http_cas_ca_certificate",),), ("HTTP(s) Service",),
          reaches_a_file=False, blank_is_a_choice=True),
)


@functools.cache
def scenario(name: str) -> tuple[Templar, dict[str, t.Any], dict[str, t.Any]]:
    """The scenario's Templar (lb1's variables, as test_render sets them up) and its settings, templated once."""
    render_test.CASES[f"injection-{name}"] = SCENARIOS[name]
    try:
        case = f"injection-{name}"
        variables = role_variables(("exchange", *render_test.TEMPLATES), render_test.inventory(case, "lb1"))
        variables.update(magic_variables({host: render_test.inventory(case, host) for host in render_test.NODES}))
        variables.update(ansible_check_mode=False, ansible_managed=C.config.get_config_value("DEFAULT_MANAGED_STR"))
        templar = Templar(loader=LOADER, variables=variables)
        return templar, variables, t.cast(dict[str, t.Any], templar.template(variables["exchange_settings"]))
    finally:
        del render_test.CASES[f"injection-{name}"]


def _put(settings: dict[str, t.Any], path: tuple[t.Any, ...], value: str) -> None:
    target: t.Any = settings
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def render(field: Field, value: str) -> dict[str, str]:
    """The files of ``field``'s scenario with ``value`` in the field (PlanError when the plan refuses it)."""
    templar, base, settings = scenario(field.scenario)
    settings = _copy(settings)
    for path in field.paths:
        _put(settings, path, value)
    plan = plan_in_inventory(settings, render_test.CONTROLLER, base["hostvars"]).as_dict()
    variables = {**base, "exchange_plan": {"plan": plan, "settings": settings}, "exchange_admin_user": settings["admin_user"]}
    for role in render_test.TEMPLATES:
        variables.update(render_test.include_task(role).get("vars", {}))
    variables["haproxy_stats_password_hash"] = HASH
    templar.available_variables = variables
    files = {}
    for role in render_test.TEMPLATES:
        when = render_test.include_task(role).get("when", [])
        if all(templar.evaluate_conditional(condition) for condition in (when if isinstance(when, list) else [when])):
            files[render_test.FILES[role]] = str(templar.template(
                render_test.template_source(role), escape_backslashes=False,
                overrides={"trim_blocks": True, "lstrip_blocks": False, "newline_sequence": "\n"},
            ))
    network = plan["network"]
    if network:
        files["interfaces.d/exchange-lb"] = render_ifupdown(network)
        files.update(render_networkd(network))
        files["hostname"] = f"{network['exchange_network_hostname']}\n"
    return files


def _copy(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _rank(name: str, expected: dict[str, str], mark: str) -> int:
    """Where ``name`` sorts among the baseline's file names, a changed part of it read as the placeholder."""
    names = sorted(expected)
    if name in names:
        return names.index(name)
    candidates = [index for index, base in enumerate(names) if mark in base and _matches(name, base, mark)]
    assert len(candidates) == 1, f"a file of no baseline file: {name}"
    return candidates[0]


def _matches(name: str, base: str, mark: str) -> bool:
    before, _mark, after = base.partition(mark)
    return name.startswith(before) and name.endswith(after)


@functools.cache
def baseline(field: Field) -> dict[str, str]:
    return render(field, field.placeholder)


def check(field: Field, value: str) -> None:
    """``value`` is refused naming ``field``, or the files differ from the baseline only where the placeholder stood."""
    if field.blank_is_a_choice and not value.strip():
        return
    try:
        files = render(field, value)
    except PlanError as error:
        assert error.field.startswith(field.fields), f"{field.name}: {value!r} refused naming another field: {error}"
        return
    expected = baseline(field)
    mark = field.placeholder
    assert len(files) == len(expected), f"{field.name}: {value!r} renders other files: {sorted(files)}"
    written: set[str] = set()
    # a file named after the value (a networkd file of the interface) sorts where the placeholder's did
    for (name, text), (_base_name, base_text) in zip(sorted(files.items(), key=lambda item: _rank(item[0], expected, mark)), sorted(expected.items())):
        lines, base_lines = text.splitlines(), base_text.splitlines()
        assert len(lines) == len(base_lines), f"{field.name}: {value!r} changes the number of lines of {name}"
        for line, base_line in zip(lines, base_lines):
            words, base_words = line.split(), base_line.split()
            assert len(words) == len(base_words), f"{field.name}: {value!r} adds or removes a word in {name}: {line!r}"
            for word, base_word in zip(words, base_words):
                if mark not in base_word:
                    assert word == base_word, f"{field.name}: {value!r} changes {base_word!r} into {word!r} in {name}"
                    continue
                before, _placeholder, after = base_word.partition(mark)
                assert word.startswith(before) and word.endswith(after) and len(word) >= len(before) + len(after), (name, line)
                value_written = word[len(before):len(word) - len(after)]
                assert base_word.replace(mark, value_written) == word, (name, line)
                written.add(value_written)
    for name in set(files) - set(expected):  # a file named after the value
        base = sorted(expected)[_rank(name, expected, mark)]
        before, _mark, after = base.partition(mark)
        written.add(name[len(before):len(name) - len(after)])
    assert len(written) <= 1, f"{field.name}: {value!r} written differently in different places: {written}"
    for text in written:
        assert text.isascii() and not set(text) & SPECIAL, f"{field.name}: {value!r} written as {text!r}"


# -- the generated values -------------------------------------------------------------------------
NAME = st.from_regex(r"[a-z][a-z0-9-]{0,12}[a-z0-9]", fullmatch=True)
#: What ends a word or a line, starts a comment, quotes, or looks like ASCII without being it.
DANGER = st.sampled_from(
    ["\n", "\r", "\r\n", " ", "\t", "#", ";", "{", "}", '"', "'", "\\", ",", "=", "\x00", "\x0b", "\x85", "\u2028",
     "\u017f", "\u212a", "\u0131", "\u0130", "\u00b2", "\u0663", "\uff11", "\u00a0", ".", "-", "/", ":", "$", "%", "{{ x }}"]
)
SPLICED = st.builds(lambda head, danger, tail: head + danger + tail, NAME, DANGER, st.sampled_from(["", "x", " listen relay", "\n    bind :2222"]))
VALUES = st.one_of(NAME, SPLICED, st.text(max_size=24), NAME.map(str.upper))


def wrapped(field: Field) -> st.SearchStrategy[str]:
    """Values, and values in the field's form: its placeholder with the value for the placeholder's first word."""
    head = field.placeholder.split(".")[0].split("/")[-1]
    return st.one_of(VALUES.map(lambda value: field.placeholder.replace(head, value, 1)), VALUES)


@pytest.mark.parametrize("field", FIELDS, ids=[field.name for field in FIELDS])
def test_the_placeholder_is_accepted_and_written_where_the_field_goes(field: Field) -> None:
    files = baseline(field)
    assert files
    assert any(field.placeholder in text for text in files.values()) == field.reaches_a_file


WRITTEN = [field for field in FIELDS if field.reaches_a_file]
NOT_WRITTEN = [field for field in FIELDS if not field.reaches_a_file]


@pytest.mark.parametrize("field", WRITTEN, ids=[field.name for field in WRITTEN])
@example(value="lb2\nlisten relay")
@example(value="lb2 #x")
@example(value="admin insecure-password letmein #")
@example(value="lb1\n")
@example(value="a\n.b")
@example(value="\u017fmtp")
@example(value="\u212aelvin")
@example(value="\u00b2")
@example(value="LB1")
@given(value=st.data())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_a_value_is_refused_by_its_field_or_written_as_one_word(field: Field, value: t.Any) -> None:
    check(field, value if isinstance(value, str) else value.draw(wrapped(field)))


@pytest.mark.parametrize("field", NOT_WRITTEN, ids=[field.name for field in NOT_WRITTEN])
@example(value="x\nlisten relay")
@example(value="{{ x }} #")
@given(value=st.data())
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_a_value_of_a_field_no_file_holds_changes_no_file(field: Field, value: t.Any) -> None:
    """Paths on the controller, the time zone (a module's argument), a reason (a note of the run)."""
    check(field, value if isinstance(value, str) else value.draw(wrapped(field)))
