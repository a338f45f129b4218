# exchange_lb.appliance — the two commands of the README, and their parts.
#   make demo   set up everything, start the lab, apply site.yml to the demo appliance
#   make test   lint, unit tests, sanity, the lab's stand-in tests and the molecule scenarios
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
COLLECTIONS := .build/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/exchange_lb/appliance
# make test runs the scenarios in lanes side by side: ansible mostly waits on SSH, so one lane
# leaves a core idle. Each lane owns what its scenarios disturb. Lane 2's scenarios disturb a CAS
# (freeze it, cut it off, make it sick): they use the lab's second set of stand-ins (lab/env.sh
# LAB_STANDINS_B), one after the other, Debian 13 after Debian 12 (the same nodes). Lane 3: the
# network scenario (its own addresses and DHCP server, mostly waiting for address changes and
# rollbacks), then skeleton, which stops a CAS of the third set (LAB_STANDINS_C). Lane 1's
# scenarios only send traffic through the first set, which they share.
# operations first: the scenario that exercises the most roles (and fails soonest when one broke)
SCENARIOS_LANE1 ?= operations ha_pair bad_input data_forward
SCENARIOS_LANE2 ?= data_offload data_bridge
SCENARIOS_LANE3 ?= network skeleton
SCENARIOS ?= $(SCENARIOS_LANE1) $(SCENARIOS_LANE2) $(SCENARIOS_LANE3)
# The same appliance on Debian 13 (trixie) nodes: haproxy 3.0, stunnel 5.7x (both TLS engines,
# ssl-bridge, SNI). skeleton and ha_pair pass there too (SCENARIOS_DEBIAN13="..." to run them);
# they are left out of make test to keep CI within its time. In lane 2 of make test, after Debian 12
# (the same nodes and stand-ins: data_offload and data_bridge disturb a CAS).
SCENARIOS_DEBIAN13 ?= data_offload data_bridge
# haproxy, keepalived, nftables: the unit tests give every rendered file to its daemon's own check
# (haproxy -c, keepalived --config-test, nft -c). make deps installs them without starting them here.
# qemu-utils: the OVA packer's unit tests read VMDKs that qemu-img writes.
HOST_PACKAGES := git make curl openssl ca-certificates python3-venv podman runc crun netavark \
	aardvark-dns fuse-overlayfs slirp4netns uidmap iptables mmdebstrap shellcheck socat tmux \
	wrk haproxy keepalived nftables qemu-utils graphviz fonts-dejavu-core
# make image: sfdisk (fdisk), qemu-img; make image-test: KVM's qemu and pexpect/pytest for the system
# python (not in make test yet: make deps does not install them)
IMAGE_PACKAGES := fdisk qemu-utils qemu-system-x86 python3-pexpect python3-pytest

export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: docs docs-lint docs-site help demo test deps venv lab-image lab-up lab-up-standins lab-down lab-status lint unit sanity sanity-newest ee-image ee-test \
	lab-test molecule molecule-debian13 build clean image image-deps image-test \
	bench bench-smoke drills drills-smoke sslyze

help:
	@echo "make demo   - install what is needed, start the lab, configure the demo appliance"
	@echo "make test   - lint, unit tests, sanity, lab stand-in tests, molecule scenarios"
	@echo "make lab-down - remove every container and network the lab made"
	@echo "make bench  - performance figures (bench/results/, docs/performance.md); bench-smoke: the short CI run (same code, tiny counts)"
	@echo "make drills - reliability drills; drills-smoke: the short CI run"
	@echo "make image  - the appliance VM image (.build/image: qcow2, OVA, VHDX; docs/image.md); image-test boots it under KVM"

# --- setup ------------------------------------------------------------------
# A Debian policy-rc.d that refuses every start (exit 101) while apt-get runs: the packages' daemons
# (haproxy, keepalived, nftables) are installed for their checks, not started on this machine.
# Removed afterwards only when make deps wrote it (a container's own policy-rc.d stays).
POLICY_RC_D := /usr/sbin/policy-rc.d
deps:
	@missing=""; for p in $(HOST_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "==> apt-get install$$missing"; \
	  if [ ! -e $(POLICY_RC_D) ]; then \
	    trap 'rm -f $(POLICY_RC_D)' EXIT; printf '#!/bin/sh\nexit 101\n' > $(POLICY_RC_D); chmod 755 $(POLICY_RC_D); fi; \
	  apt-get update -q; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BIN)/.stamp: requirements-dev.txt
	@echo "==> Python venv $(VENV) with the pinned tools"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../../.. $@

venv: $(BIN)/.stamp $(COLLECTION_LINK)

lab-image: deps
	lab/lab.sh image

lab-up: deps venv
	lab/lab.sh up

lab-up-standins: deps venv
	lab/lab.sh up --standins-only

lab-down:
	lab/lab.sh down

lab-status:
	lab/lab.sh status

# --- the demo -----------------------------------------------------------------
demo:
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lab-up; \
	echo "==> ansible-playbook lab/vm-emulation.yml site.yml -i inventories/lab"; \
	$(BIN)/ansible-playbook -i inventories/lab lab/vm-emulation.yml; \
	$(BIN)/ansible-playbook -i inventories/lab site.yml; \
	echo; echo "The demo appliance is up: lb1 (master) and lb2 (backup) share 10.89.60.10. Try, from this machine:"; \
	echo "  curl -si --cacert .lab/pki/ca.crt --resolve mail.mydomain.local:443:10.89.60.10 https://mail.mydomain.local/owa/ | grep -i x-served-by"; \
	echo "  curl -si http://10.89.60.10/owa/                      # redirected to https://mail.mydomain.local/owa/"; \
	echo "  openssl s_client -connect 10.89.60.10:993 -servername mail.mydomain.local -CAfile .lab/pki/ca.crt -quiet   # IMAPs, user lab / labpass"; \
	echo "  $(BIN)/python -c \"import smtplib; print(smtplib.SMTP('10.89.60.10', 25).ehlo())\"   # answered by hub1 or hub2"; \
	echo "  lab/lab.sh stop lb1; curl -si http://10.89.60.10/owa/ | head -1; lab/lab.sh start lb1   # lb2 takes over, then gives it back"; \
	echo "  lab/lab.sh vip                                              # which node holds 10.89.60.10"; \
	echo "  ansible-playbook site.yml -i inventories/lab --check --diff   # changes nothing"; \
	echo "  make lab-down                                               # removes the lab"; \
	echo "Done in $$(( $$(date +%s) - start )) s."

# --- the tests ----------------------------------------------------------------
# Each stage timed and its tests counted (tools/stages.py); the table at the end, also when a stage
# failed. Fail fast: the seconds-long checks first (beside the lab's image builds), the lab after them.
# lab-reset: whatever an earlier, killed run left (its containers, network, stale address allocations).
# bench-smoke and drills-smoke: the benchmark and drill harnesses on tiny counts, so they don't rot
# (their own containers and stand-ins, exlb-bench-*: lane 1 runs them before its scenarios; one
# bring-up for both: the bench keeps its appliance, the drills reuse it and remove it).
STAGE := $(PYTHON) tools/stages.py
# A lane's command runs under tools/stages.py, not under make: PATH says the venv first again
# (a python3 found through pyenv's shims puts its own bin first: its pytest has no testinfra)
IN_VENV := export PATH=$(CURDIR)/$(BIN):\$$PATH &&
MOLECULE_RUN = $(IN_VENV) source lab/env.sh && $(BIN)/molecule test -s
MOLECULE_RUN_DEBIAN13 = export LAB_DEBIAN_TAG=debian13 && $(MOLECULE_RUN)
SUBMAKE := $(MAKE) --no-print-directory
test:
	@$(STAGE) reset; trap '$(STAGE) report' EXIT; \
	$(STAGE) run deps -- $(SUBMAKE) deps; \
	$(STAGE) run venv -- $(SUBMAKE) venv sslyze; \
	$(STAGE) lanes "lint=$(SUBMAKE) lint" "unit=$(SUBMAKE) unit" "sanity=$(SUBMAKE) sanity" "build=$(SUBMAKE) build" "docs-site=$(SUBMAKE) docs-site" \
	  :: "lab-reset=lab/lab.sh down" "lab-images=lab/lab.sh image" "lab-test=$(SUBMAKE) lab-test" \
	     "lab-images-debian13=env LAB_DEBIAN=13 lab/lab.sh image"; \
	$(STAGE) run lab-up-standins -- $(SUBMAKE) lab-up-standins; \
	$(STAGE) lanes "bench-smoke=$(IN_VENV) $(BIN)/python bench/bench.py --smoke --keep" \
	  "drills-smoke=$(IN_VENV) $(BIN)/python bench/drills.py --smoke --strict --reuse --remove" \
	  $(foreach s,$(SCENARIOS_LANE1),"molecule $(s)=$(MOLECULE_RUN) $(s)") \
	  :: $(foreach s,$(SCENARIOS_LANE2),"molecule $(s)=$(MOLECULE_RUN) $(s)") \
	     $(foreach s,$(SCENARIOS_DEBIAN13),"molecule $(s) (Debian 13)=$(MOLECULE_RUN_DEBIAN13) $(s)") \
	  :: $(foreach s,$(SCENARIOS_LANE3),"molecule $(s)=$(MOLECULE_RUN) $(s)") "sanity-newest=$(SUBMAKE) sanity-newest"; \
	echo "==> make test: all green"

lint: venv
	@echo "==> the files generated from the settings table are what it says"
	$(BIN)/python tools/gen_settings.py --check
	@echo "==> yamllint"
	$(BIN)/yamllint -s .
	@echo "==> ansible-lint (production profile, offline)"
	@# ANSIBLE_HOME: not the user's ~/.ansible, where molecule leaves a copy of whatever checkout it ran last
	mkdir -p .build/ansible-home
	ANSIBLE_HOME=$(CURDIR)/.build/ansible-home $(BIN)/ansible-lint --offline --profile production -q
	@echo "==> shellcheck"
	shellcheck lab/*.sh lab/image/*.sh tools/*.sh .ci/run roles/keepalived/files/exlb-* lab/rootfs/vm/usr/local/libexec/exchange-lb/*
	@echo "==> antsibull-docs lint (module and role documentation)"
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs .
	@echo "==> antsibull-changelog lint (the pending fragments and the released changelog)"
	$(BIN)/antsibull-changelog lint
	$(BIN)/antsibull-changelog lint-changelog-yaml --strict changelogs/changelog.yaml
	@echo "==> mypy (module_utils)"
	$(BIN)/mypy --strict --ignore-missing-imports --follow-imports=silent plugins/module_utils

unit: venv
	@echo "==> unit tests"
	$(BIN)/python -m pytest -q tests/unit

sanity: venv
	@echo "==> ansible-test sanity"
	tools/ansible-test.sh sanity --python 3.11 --venv

# An execution environment image built here (ansible-builder + podman on the lab's Debian 13 node
# image: lab/ee/execution-environment.yml), and the skeleton's job run inside it (not in make test:
# the build downloads ansible-core and the collection's Python needs from PyPI each time)
ee-image: deps venv
	LAB_DEBIAN=13 lab/lab.sh image
	source lab/env.sh && $(BIN)/python tools/ee_image.py

ee-test: ee-image lab-up-standins
	source lab/env.sh && $(BIN)/molecule test -s ee_image

# the newest ansible-core on PyPI, on Python >= 3.12 (make test runs it beside the molecule lanes)
sanity-newest: venv
	tools/ansible-test-newest.sh

lab-test: lab-up
	@echo "==> stand-in Exchange servers answer every protocol"
	$(BIN)/python -m pytest -q tests/lab

# every scenario one after the other (make test runs them in two lanes); one stage each: timed, its tests counted
molecule: lab-up-standins
	@for s in $(SCENARIOS); do $(STAGE) run "molecule $$s" -- bash -c "$(MOLECULE_RUN) $$s"; done

molecule-debian13: lab-up-standins
	@$(STAGE) run lab-images-debian13 -- env LAB_DEBIAN=13 lab/lab.sh image
	@for s in $(SCENARIOS_DEBIAN13); do \
	  $(STAGE) run "molecule $$s (Debian 13)" -- bash -c "$(MOLECULE_RUN_DEBIAN13) $$s"; done

build: venv
	rm -rf .build/install exchange_lb-appliance-*.tar.gz
	$(BIN)/ansible-galaxy collection build --force .
	@shipped=$$(tar tzf exchange_lb-appliance-*.tar.gz); for f in COPYING README.md CONTRIBUTING.md SECURITY.md; do \
	  grep -qx "$$f" <<< "$$shipped" || { echo "the tarball does not ship $$f"; exit 1; }; done
	printf '[defaults]\ncollections_path = install\n' > .build/installed.cfg
	cd .build && export ANSIBLE_CONFIG=installed.cfg && \
	  $(CURDIR)/$(BIN)/ansible-galaxy collection install --offline --force -p install $(CURDIR)/exchange_lb-appliance-*.tar.gz && \
	  for r in $(notdir $(wildcard roles/*)); do $(CURDIR)/$(BIN)/ansible-doc -t role exchange_lb.appliance.$$r 2>&1 | grep -q '> ROLE' \
	    || { echo "no docs for role $$r"; exit 1; }; done && \
	  for m in $(basename $(notdir $(wildcard plugins/modules/*.py))); do $(CURDIR)/$(BIN)/ansible-doc exchange_lb.appliance.$$m 2>&1 | grep -q '> MODULE' \
	    || { echo "no docs for module $$m"; exit 1; }; done && \
	  $(CURDIR)/$(BIN)/ansible-playbook --syntax-check -i $(CURDIR)/inventories/lab exchange_lb.appliance.site
	@echo "==> the built collection ships its licence, installs; its playbook, roles and modules resolve by FQCN"


# --- the appliance VM image (docs/image.md) ------------------------------------------------------
# A bootable Debian disk from the lab node's recipe (lab/image), as qcow2 under .build/image; its
# packages cached in .build/image/debcache. image-test boots it under KVM and drives the first-boot
# wizard on the serial console (not part of make test yet).
IMAGE_DIR := .build/image
IMAGE_QCOW2 := $(IMAGE_DIR)/exchange-lb-appliance-debian12.qcow2
image-deps:
	@$(MAKE) --no-print-directory deps HOST_PACKAGES="$(IMAGE_PACKAGES)"

image: deps image-deps venv
	nice -n 10 lab/image/build-vm.sh $(IMAGE_DIR)

image-test: deps image-deps
	@test -s $(IMAGE_QCOW2) || $(MAKE) --no-print-directory image
	/usr/bin/python3 -m pytest -q -s tests/image
	@cat $(IMAGE_DIR)/boot-report.txt

# --- benchmarks and drills (bench/README.md) -----------------------------------
# Containers exlb-bench-* in 10.89.60.80-91, converged with site.yml, removed afterwards.
# The full TLS benchmark compares Debian 13's OpenSSL with Debian 12's: it needs both node images.
bench: deps venv lab-up-standins
	LAB_DEBIAN=13 lab/lab.sh image
	$(BIN)/python bench/bench.py

bench-smoke: deps venv lab-up-standins
	$(BIN)/python bench/bench.py --smoke

drills: deps venv sslyze lab-up-standins
	$(BIN)/python bench/drills.py

# --strict: a broken invariant (split brain left after healing, a bad certificate taken, the old
# configuration not kept, a failed security check) fails the run; the timings stay reports
drills-smoke: deps venv sslyze lab-up-standins
	$(BIN)/python bench/drills.py --smoke --strict

# sslyze pins an older cryptography than the collection's venv: a venv of its own
SSLYZE_VENV := .build/sslyze
sslyze: $(SSLYZE_VENV)/bin/.stamp
$(SSLYZE_VENV)/bin/.stamp: bench/requirements-sslyze.txt
	@echo "==> sslyze in $(SSLYZE_VENV)"
	$(PYTHON) -m venv $(SSLYZE_VENV)
	$(SSLYZE_VENV)/bin/pip install -q -r bench/requirements-sslyze.txt
	touch $@

# The files the settings table (plugins/module_utils/_settings.py) restates: the exchange role's
# defaults, argument spec and settings mapping, the AWX survey, docs/variables.md.
docs: venv
	$(BIN)/python tools/gen_settings.py
	$(BIN)/python tools/gen_grafana_dashboard.py
	tools/render_architecture.sh > docs/architecture.svg.tmp && mv docs/architecture.svg.tmp docs/architecture.svg
	$(BIN)/python tools/gen_playbook_docs.py

# antsibull-docs: every module and role spec's markup and references (O(), M(), P()).
docs-lint: venv
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs .

# The docs site: HTML that antsibull-docs writes from the module docs and the role argument specs
# (every option, entry point and example), built by Sphinx offline (no intersphinx, no fetched theme):
# .build/docsite/build/html/index.html. Sphinx's own alabaster theme needs nothing beyond the venv;
# DOCS_SITE_THEME=sphinx_ansible_theme looks like docs.ansible.com (pip install sphinx-ansible-theme).
DOCSITE := .build/docsite
DOCS_SITE_THEME ?= alabaster
docs-site: venv
	rm -rf $(DOCSITE) && mkdir -p $(dir $(DOCSITE)) && mkdir -m 700 $(DOCSITE)
	export ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS) && \
	  $(BIN)/antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir $(DOCSITE) \
	    --sphinx-theme $(DOCS_SITE_THEME) --project exchange_lb.appliance --title exchange_lb.appliance \
	    --html-short-title exchange_lb.appliance --copyright "exchange_lb developers" exchange_lb.appliance && \
	  printf "\n# offline: no inventories fetched from docs.python.org or docs.ansible.com\nintersphinx_mapping = {}\nsuppress_warnings = ['ref.ref']\n" \
	    >> $(DOCSITE)/conf.py && \
	  $(DOCSITE)/build.sh
	@html=$(DOCSITE)/build/html/collections/exchange_lb/appliance; \
	for r in $(notdir $(wildcard roles/*)); do test -s $$html/$${r}_role.html || { echo "no page for role $$r"; exit 1; }; done; \
	for m in $(basename $(notdir $(wildcard plugins/modules/*.py))); do test -s $$html/$${m}_module.html || { echo "no page for module $$m"; exit 1; }; done; \
	! grep -rlE '<(script|link)[^>]+(src|href)="https?://' $(DOCSITE)/build/html || { echo "the site loads something from the network"; exit 1; }
	@echo "==> the docs site: $(DOCSITE)/build/html/index.html"

clean: lab-down
	rm -rf .build exchange_lb-appliance-*.tar.gz
