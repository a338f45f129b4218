#!/usr/bin/env bash
# Copyright (c) exchange_lb developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run ansible-test on this checkout, offline.
#   tools/ansible-test.sh sanity --python 3.11 --venv [targets...]
#   tools/ansible-test.sh units --python 3.11 --venv
#
# ansible-test needs the collection under .../ansible_collections/<namespace>/<name>
# and downloads get-pip.py for every venv it makes. This script installs the
# project's offline shim (tools/get_pip_shim.py) where ansible-test looks for a
# cached get-pip, copies the files git knows about (tracked, or untracked and not
# ignored) into .build/ansible-test/ansible_collections/exchange_lb/appliance and
# runs ansible-test there with the given arguments.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

ansible_test=${ANSIBLE_TEST:-}
if [[ -z $ansible_test ]]; then
  if [[ -x $root/.venv/bin/ansible-test ]]; then
    ansible_test=$root/.venv/bin/ansible-test
  else
    ansible_test=$(command -v ansible-test)
  fi
fi

# The pip version ansible-test bootstraps: 24.2 with ansible-core 2.19
# (ansible_test/_internal/python_requirements.py, get_venv_packages).
pip_version=${ANSIBLE_TEST_PIP_VERSION:-24.2}
cache_dir=${HOME}/.ansible/test/cache
mkdir -p "$cache_dir"
install -m 0644 tools/get_pip_shim.py "$cache_dir/get_pip_${pip_version//./_}.py"

# ANSIBLE_TEST_WORK: another copy (tools/ansible-test-newest.sh), so that two runs never share one
dest=$root/${ANSIBLE_TEST_WORK:-.build/ansible-test}/ansible_collections/exchange_lb/appliance
mkdir -p "$dest"
# A fresh copy each time, but keep tests/output (results, caches) between runs.
find "$dest" -mindepth 1 -maxdepth 1 ! -name tests -exec rm -rf {} +
if [[ -d $dest/tests ]]; then
  find "$dest/tests" -mindepth 1 -maxdepth 1 ! -name output -exec rm -rf {} +
fi
# The collection's own content only: what `ansible-galaxy collection build` ships,
# plus its unit tests (the lab, molecule and tools are not part of the collection).
git ls-files -z -co --exclude-standard -- .gitignore galaxy.yml meta plugins roles playbooks changelogs docs \
    README.md tests/unit tests/sanity tests/integration | while IFS= read -r -d '' file; do
  [[ -e $file || -L $file ]] || continue   # deleted but not yet staged
  mkdir -p "$dest/$(dirname "$file")"
  cp -P "$file" "$dest/$file"
done

cd "$dest"
# ansible-test lists files through git: give the copy its own repository.
if [[ ! -d .git ]]; then
  git init -q .
fi
exec "$ansible_test" "$@"
