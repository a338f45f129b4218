# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Password hashes the nodes' daemons read, made with the `bcrypt` library itself.

The node exporter reads only bcrypt. Ansible's ``password_hash('bcrypt')`` goes through passlib, whose
last release (1.7.4) cannot drive bcrypt >= 5 (its self-test hashes a 255-byte secret, which bcrypt 5
refuses): an execution environment with today's bcrypt failed there. Hashing with bcrypt directly
needs no upper bound on either library, and gives the same string passlib gave for the same salt.
"""

from __future__ import annotations

import hashlib

# bcrypt's own base-64 alphabet; the salt is 22 characters of it
_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class HashError(ValueError):
    """A hash that cannot be made (bad input or no bcrypt library); never carries the password."""


def stable_salt(seed: str) -> str:
    """22 salt characters derived from ``seed``, the same for the same seed (a second run renders the same file).

    The first 21 are the seed's SHA-256 in hex (a subset of bcrypt's alphabet); the 22nd carries padding
    bits in bcrypt's encoding, and "." has none, so the salt is used as written.
    """
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:21] + "."


def bcrypt_hash(password: str, salt: str, rounds: int = 10) -> str:
    """The ``$2b$`` bcrypt hash of ``password`` with the 22-character ``salt`` and 2**``rounds`` rounds."""
    if not isinstance(password, str) or not password:
        raise HashError("the password must be a non-empty text")
    if len(salt) != 22 or any(char not in _ALPHABET for char in salt):
        raise HashError("the salt must be 22 characters of bcrypt's alphabet")
    if not 4 <= rounds <= 31:
        raise HashError("rounds must be between 4 and 31")
    secret = password.encode("utf-8")
    if len(secret) > 72:
        # bcrypt reads 72 bytes; bcrypt >= 5 refuses more instead of cutting silently
        raise HashError("the password is longer than 72 bytes, more than bcrypt reads")
    try:
        import bcrypt  # the controller's library (meta/ee-requirements.txt)
    except ImportError as exc:
        raise HashError("the Python library bcrypt is missing on the controller (pip install bcrypt)") from exc
    setting = f"$2b${rounds:02d}${salt}".encode("ascii")
    return bcrypt.hashpw(secret, setting).decode("ascii")
