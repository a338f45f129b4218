# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for get-pip.py, for ansible-test.

ansible-test creates every virtual environment without pip, then runs
``~/.ansible/test/cache/get_pip_<version>.py`` (downloading it from
ci-files.testing.ansible.com when absent, which fails here).
tools/ansible-test.sh installs this file under that name.  It takes the same
command line as get-pip.py (pip options, packages such as ``pip==24.2``,
``--no-setuptools``, ``--no-wheel``) and:

1. bootstraps pip from CPython's own ``ensurepip`` (no network);
2. restores ``os.environ``: ensurepip drops every ``PIP_*`` variable and sets
   ``PIP_CONFIG_FILE=/dev/null``, which would hide ``/etc/pip.conf``
   (its ``cert=`` among others) from the next step;
3. installs the requested packages (pip 24.2) from the configured index;
4. removes setuptools / wheel when asked not to keep them.

Standard library only.
"""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY_FLAGS = ("--no-setuptools", "--no-wheel")


def main(argv: list[str]) -> int:
    """Bootstrap pip, then install what the command line asks for."""
    keep_setuptools = "--no-setuptools" not in argv
    keep_wheel = "--no-wheel" not in argv
    install_args = [arg for arg in argv if arg not in GET_PIP_ONLY_FLAGS]

    saved_environment = dict(os.environ)
    try:
        ensurepip.bootstrap(upgrade=True, default_pip=True)
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)

    pip = [sys.executable, "-m", "pip"]
    if any(not arg.startswith("-") for arg in install_args):
        command = pip + ["install", "--upgrade", "--force-reinstall"] + install_args
        completed = subprocess.run(command, check=False)
        if completed.returncode:
            return completed.returncode

    unwanted = [name for name, keep in (("setuptools", keep_setuptools), ("wheel", keep_wheel)) if not keep]
    if unwanted:
        command = pip + ["uninstall", "--yes", "--disable-pip-version-check"] + unwanted
        # pip says "not installed" and returns 0 when a package is absent
        completed = subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
        if completed.returncode:
            return completed.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
