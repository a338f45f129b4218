"""The haproxy and node_metrics roles used on their own, without the exchange role's plan: their user
names (haproxy_stats_user, node_metrics_user) are checked as the plan checks exchange_admin_user, by a
task before the role's first template, and no value that passes can add a line or a word to haproxy's
userlist or to the node exporter's web configuration (issue 15, config injection).

The roles' own check task is evaluated as Ansible evaluates it (its ``vars``, its ``that`` and its
``fail_msg``), and the roles' own templates are rendered as ``ansible.builtin.template`` renders them."""

from __future__ import annotations

import functools
import re
import sys
import typing as t
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import test_render as render_test  # noqa: E402  (the render tests' inventory and templates)
from ansible_templating import LOADER, load, magic_variables, role_variables  # noqa: E402
from ansible import constants as C  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402
from ansible_collections.exchange_lb.appliance.plugins.module_utils._pairs import plan_in_inventory  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
HASH = "$6$stand-in$hash"
#: A user's name in a configuration: one word that no daemon's syntax reads as more than a name.
SPECIAL = set(" \t\r\n\v\f#;{}\"'\\,=[]:")

ROLES = {
    # role: (tasks file, variable, template)
    "haproxy": ("stage.yml", "haproxy_stats_user", "haproxy.cfg.j2"),
    "node_metrics": ("main.yml", "node_metrics_user", "node-exporter-web.yml.j2"),
}

INJECTIONS = [
    "admin insecure-password letmein #", "admin\nlisten relay\n    bind :2222", "a b", "a#b", "admin #", 'a"b', "a'b",
    "admin\n", "\nadmin", " admin", "ſtats", "admın", "K\u212a", "adm²", "", "a" * 33, "-admin", "a:b", "a;b", "a{b}",
]


def check_task(role: str) -> tuple[int, int, dict[str, t.Any]]:
    """The role's task that checks its user name, its index, and the index of the file's first template."""
    tasks_file, variable, _template = ROLES[role]
    tasks = load(f"roles/{role}/tasks/{tasks_file}")
    checks = [index for index, task in enumerate(tasks)
              if "ansible.builtin.assert" in task and f"'{variable}': {variable}" in str(task.get("vars"))]
    templates = [index for index, task in enumerate(tasks) if "ansible.builtin.template" in task]
    assert len(checks) == 1, f"{role}: one task checking {variable} expected in tasks/{tasks_file}"
    return checks[0], templates[0], tasks[checks[0]]


@functools.cache
def haproxy_variables() -> dict[str, t.Any]:
    """A node serving the statistics page (the render tests' case stats-only), the role's variables as the
    role sees them; the user name alone comes from the test."""
    case = "stats-only"
    variables = role_variables(("exchange", "haproxy"), render_test.inventory(case, "lb1"))
    variables.update(magic_variables({host: render_test.inventory(case, host) for host in render_test.NODES}))
    variables.update(ansible_check_mode=False, ansible_managed=C.config.get_config_value("DEFAULT_MANAGED_STR"))
    templar = Templar(loader=LOADER, variables=variables)
    plan_settings = templar.template(variables["exchange_settings"])
    plan = plan_in_inventory(plan_settings, render_test.CONTROLLER, variables["hostvars"], own="lb1").as_dict()
    assert plan["haproxy"]["stats"], "the case serves the statistics page"
    return {**variables, "haproxy_plan": plan["haproxy"], "haproxy_stats_password_hash": HASH}


def role_variables_with(role: str, user: str) -> dict[str, t.Any]:
    if role == "haproxy":
        return {**haproxy_variables(), "haproxy_stats_user": trust_as_template(user)}
    variables = role_variables(("node_metrics",), {"node_metrics_user": trust_as_template(user), "node_metrics_password": "x"})
    return {**variables, "node_metrics_password_hash": HASH,
            "ansible_managed": C.config.get_config_value("DEFAULT_MANAGED_STR")}


def run_check(role: str, user: str) -> str | None:
    """What the role's check task does with ``user``: None when it passes, else its failure message."""
    _index, _template, task = check_task(role)
    variables = {**role_variables_with(role, user), **task.get("vars", {})}
    templar = Templar(loader=LOADER, variables=variables)
    assertion = task["ansible.builtin.assert"]
    if templar.evaluate_conditional(assertion["that"]):
        return None
    return str(templar.template(assertion["fail_msg"]))


def rendered(role: str, user: str) -> str:
    _tasks, _variable, template = ROLES[role]
    source = trust_as_template((ROOT / "roles" / role / "templates" / template).read_text(encoding="utf-8"))
    templar = Templar(loader=LOADER, variables=role_variables_with(role, user))
    return str(templar.template(source, escape_backslashes=False,
                                overrides={"trim_blocks": True, "lstrip_blocks": False, "newline_sequence": "\n"}))


def assert_one_word(role: str, user: str) -> None:
    """The file rendered with ``user`` is the file rendered with a plain name, ``user`` in its place."""
    text, base = rendered(role, user), rendered(role, "zquser")
    assert len(text.splitlines()) == len(base.splitlines()), f"{role}: {user!r} changes the number of lines"
    if role == "haproxy":
        users = [line.split() for line in text.splitlines() if line.strip().startswith("user ") and "password" in line]
        assert users == [["user", user, "password", HASH]], users
    else:
        assert yaml.safe_load(text)["basic_auth_users"] == {user: HASH}
    for line, base_line in zip(text.splitlines(), base.splitlines()):
        words, base_words = line.split(), base_line.split()
        assert len(words) == len(base_words), f"{role}: {user!r} adds or removes a word: {line!r}"
        assert words == [word.replace("zquser", user) for word in base_words], line


@pytest.mark.parametrize("role", ROLES)
def test_the_user_name_is_checked_before_anything_is_rendered(role: str) -> None:
    index, first_template, _task = check_task(role)
    assert index < first_template


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("user", INJECTIONS)
def test_a_user_name_that_is_no_single_word_is_refused_naming_the_variable(role: str, user: str) -> None:
    message = run_check(role, user)
    variable = ROLES[role][1]
    assert message is not None and message.startswith(f"{variable}: "), message
    assert "is not a user name" in message and "; " not in message.partition(": ")[2].replace("'; '", "")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("user", ["admin", "stats_reader", "ops-team.1", "_svc", "A" * 32])
def test_a_plain_user_name_is_taken_and_is_one_word(role: str, user: str) -> None:
    assert run_check(role, user) is None
    assert_one_word(role, user)


def _valid() -> st.SearchStrategy[str]:
    return st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,20}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(role=st.sampled_from(list(ROLES)), user=st.one_of(
    st.text(max_size=20),
    st.tuples(_valid(), st.sampled_from(sorted(SPECIAL) + ["\u017f", "\u0131", "\u212a", "\u00b2", "\u0661"]), _valid())
    .map(lambda parts: parts[0] + parts[1] + parts[2]),
    _valid(),
))
@example(role="haproxy", user="admin insecure-password letmein #")
@example(role="node_metrics", user="admin\nother: x")
def test_any_user_name_is_refused_naming_the_variable_or_renders_as_one_word(role: str, user: str) -> None:
    message = run_check(role, user)
    if message is not None:
        assert re.match(rf"{ROLES[role][1]}: ", message), message
        return
    assert not SPECIAL & set(user) and user.isascii()
    assert_one_word(role, user)
