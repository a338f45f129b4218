"""The node metrics' bcrypt hash, made by the bcrypt library: the string passlib gave for the same salt (no
changed file on upgrade), verified by bcrypt for any password, the same on a second run, refusals that never
carry the password, and the filter as a template uses it."""

from __future__ import annotations

import sys
from pathlib import Path

import bcrypt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from ansible_templating import LOADER  # noqa: E402  (installs Ansible's collection loader)
from ansible.errors import AnsibleError  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402
from ansible_collections.exchange_lb.appliance.plugins.module_utils import _hashes  # noqa: E402

# bcrypt reads 72 bytes; within that, any text (the hash is checked by bcrypt itself below)
PASSWORDS = st.text(min_size=1, max_size=72).filter(lambda text: len(text.encode("utf-8")) <= 72)


def template(expression: str, **variables: object) -> object:
    # the values as a vault or an extra var gives them: data, not templates
    return Templar(loader=LOADER, variables=dict(variables)).template(trust_as_template(expression))


def test_same_string_as_passlib_gave_for_the_same_salt() -> None:
    """Nodes converged with the earlier password_hash('bcrypt', ...) keep their file unchanged."""
    passlib_hash = pytest.importorskip("passlib.hash")
    salt = _hashes.stable_salt("lb1" + "admin")
    expected = passlib_hash.bcrypt.using(salt=salt, ident="2b", rounds=10).hash("S3cret-{{ pw }}")
    assert _hashes.bcrypt_hash("S3cret-{{ pw }}", salt) == expected


@settings(max_examples=25, deadline=None)
@given(password=PASSWORDS, seed=st.text(max_size=40))
def test_any_password_verifies_and_is_stable(password: str, seed: str) -> None:
    salt = _hashes.stable_salt(seed)
    first = _hashes.bcrypt_hash(password, salt, rounds=4)
    assert first.startswith("$2b$04$" + salt[:21])
    assert bcrypt.checkpw(password.encode("utf-8"), first.encode("ascii"))
    assert _hashes.bcrypt_hash(password, salt, rounds=4) == first


def test_different_seeds_give_different_hashes() -> None:
    one = _hashes.bcrypt_hash("same", _hashes.stable_salt("lb1admin"), rounds=4)
    two = _hashes.bcrypt_hash("same", _hashes.stable_salt("lb2admin"), rounds=4)
    assert one != two


@pytest.mark.parametrize(
    ("password", "salt", "rounds", "reason"),
    [
        ("x" * 73, "a" * 22, 10, "longer than 72 bytes"),
        ("é" * 37, "a" * 22, 10, "longer than 72 bytes"),  # 74 bytes in 37 characters
        ("", "a" * 22, 10, "non-empty"),
        ("pw", "a" * 21, 10, "22 characters"),
        ("pw", "a" * 21 + "!", 10, "22 characters"),
        ("pw", "a" * 22, 3, "between 4 and 31"),
    ],
)
def test_refusals_say_why_without_the_password(password: str, salt: str, rounds: int, reason: str) -> None:
    with pytest.raises(_hashes.HashError, match=reason) as refused:
        _hashes.bcrypt_hash(password, salt, rounds)
    if password:
        assert password not in str(refused.value)


def test_filter_in_a_template() -> None:
    rendered = template("{{ pw | exchange_lb.appliance.bcrypt_hash('lb1' ~ 'admin') }}", pw="a{{b")
    assert isinstance(rendered, str)
    assert bcrypt.checkpw(b"a{{b", rendered.encode("ascii"))
    assert rendered.startswith("$2b$10$")


def test_filter_refusal_names_no_password() -> None:
    secret = "z" * 80
    with pytest.raises(AnsibleError) as refused:
        template("{{ pw | exchange_lb.appliance.bcrypt_hash('lb1admin') }}", pw=secret)
    assert "longer than 72 bytes" in str(refused.value)
    assert secret not in str(refused.value)
