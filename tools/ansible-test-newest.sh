#!/usr/bin/env bash
# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# ansible-test sanity with the newest ansible-core that PyPI offers (the collection has no upper
# bound on ansible-core, meta/runtime.yml), on the newest CPython >= 3.12 on this machine (Debian
# 12's own python3 is 3.11, which ansible-core 2.20 and newer do not run on): on PATH, or one of
# pyenv's versions. The venv is .build/ansible-test-newest, upgraded to the newest core each run.
#   tools/ansible-test-newest.sh [sanity arguments...]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

python=
for candidate in $(command -v python3.14 python3.13 python3.12 2>/dev/null) \
    $(find "$HOME/.pyenv/versions" -maxdepth 3 -path "*/3.1[2-9]*/bin/python3" 2>/dev/null | sort -rV); do
  if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [[ -z $python ]]; then
  echo "no Python >= 3.12 on this machine: the newest ansible-core needs one" >&2
  exit 1
fi
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

venv=$root/.build/ansible-test-newest
if [[ ! -x $venv/bin/python ]] || [[ $("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])') != "$version" ]]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check --upgrade ansible-core 2>&1 | grep -v "^WARNING: Location" || true
core=$("$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')
major_minor=${core%.*}
echo "==> ansible-test sanity with ansible-core $core on Python $version ($python)"
if [[ ! -f tests/sanity/ignore-$major_minor.txt ]]; then
  echo "tests/sanity/ignore-$major_minor.txt is missing: ansible-core $major_minor is new; copy the newest ignore file after checking its entries still apply" >&2
  exit 1
fi
# the pip version this ansible-test bootstraps into its venvs (tools/ansible-test.sh installs the shim for it)
pip_version=$("$venv/bin/python" - <<'PY'
import re, pathlib, ansible_test
text = (pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
print(re.search(r"pip='([\d.]+)'", text).group(1))
PY
)
export ANSIBLE_TEST=$venv/bin/ansible-test ANSIBLE_TEST_PIP_VERSION=$pip_version ANSIBLE_TEST_WORK=.build/ansible-test-newest/work
PATH=$(dirname "$python"):$PATH exec tools/ansible-test.sh sanity --python "$version" --venv "$@"
