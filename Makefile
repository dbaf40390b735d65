# kyso — developer entry points. On a fresh Debian machine:
#   make run    install what is missing, provision a SoftHSM token, serve the demo
#   make test   the whole test suite on a real SoftHSM token
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
KYSO := $(VENV)/bin/kyso
HSM_DIR ?= var/hsm
# fonts-liberation2: Liberation Serif 2.x (SIL OFL 1.1), metric-compatible with Times New Roman
# and with every Vietnamese letter, for the PDF attachment/copy blocks (signer/formats/pdf/font.py);
# poppler-utils: pdftoppm, which checks page 1 has room for them (signer/formats/pdf/room.py).
APT_PACKAGES := softhsm2 p11-kit p11-kit-modules opensc poppler-utils xmlsec1 libnss3-tools openssl curl postgresql fonts-liberation2
PYTEST_ARGS ?=
# Test processes (pytest-xdist): most tests wait on real servers, tokens and databases,
# so three share this machine's two cores well (each module stays on one worker, so a
# module's server is started once); TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= 3
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope
# Every distribution of the development environment ('.[dev]'), pinned with its
# sha256 hashes; `make lock` regenerates it (LOCK_ARGS=--upgrade, or
# LOCK_ARGS="--upgrade-package NAME", to move pins), `make audit` checks it.
LOCK := requirements-dev.lock
LOCK_ARGS ?=
UV_VERSION := 0.13.9
LOCK_TOOLS := build/lock-tools

.PHONY: run test test-sqlite test-postgres deps apt venv lock audit proto lint check-extras clean

run: deps
	@eval "$$(hsm-sim/provision.sh $(HSM_DIR))" && \
	echo "kyso: demo agency 000.00.00.H13; in another terminal try:" && \
	echo "  export KYSO_TOKEN=\$$(cat var/demo-admin.token)   # the demo administrator (every role)" && \
	echo "  $(KYSO) admin ca export -o ca.pem" && \
	echo "  $(KYSO) sign cms README.md --agency 000.00.00.H13 -o README.md.p7s" && \
	echo "  openssl cms -verify -binary -inform DER -in README.md.p7s -content README.md -CAfile ca.pem -purpose any" && \
	echo "  $(KYSO) timestamp README.md -o README.md.tsr && $(KYSO) timestamp verify README.md README.md.tsr --ca ca.pem" && \
	echo "kyso: demo TSA clock check is '$${KYSO_TSA_CLOCK_CHECK:-off}' (set KYSO_TSA_CLOCK_CHECK=kernel to refuse timestamps while the clock is unsynchronised)" && \
	KYSO_TSA_CLOCK_CHECK=$${KYSO_TSA_CLOCK_CHECK:-off} KYSO_SERVER_METRICS_LISTEN=$${KYSO_SERVER_METRICS_LISTEN-127.0.0.1:9464} exec $(KYSO) serve --demo

# The suite on SQLite (the embedded default), then again, but for the modules marked
# database_free (they touch no database), on a throwaway
# PostgreSQL cluster (the multi-node store).
test: test-sqlite test-postgres

test-sqlite: deps
	$(PYTEST) $(PYTEST_ARGS)

test-postgres: deps
	@d=$$(mktemp -d /tmp/kyso-pg.XXXXXX); \
	url=$$(scripts/pg-throwaway.sh start $$d) || exit 1; \
	echo "== the suite on PostgreSQL ($$url)"; \
	KYSO_TEST_POSTGRES_URL="$$url" $(PYTEST) $(PYTEST_ARGS); rc=$$?; \
	scripts/pg-throwaway.sh stop $$d; rm -rf $$d; exit $$rc

deps: apt venv

# Installs Debian packages only when one is missing (needs root or sudo).
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

# Only what the lock names, each artifact checked against its hash (pip, setuptools
# and wheel included); then the project itself, without resolving anything more and
# without an unchecked build environment. A changed lock rebuilds the venv from
# scratch, so nothing the lock dropped stays installed.
$(VENV)/.installed: $(LOCK) pyproject.toml
	@if [ -x $(PY) ] && ! cmp -s $(LOCK) $(VENV)/.lock; then \
		echo "$(LOCK) changed: rebuilding $(VENV)"; rm -rf $(VENV); fi
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@cp $(LOCK) $(VENV)/.lock
	@touch $@

# Resolved for CPython 3.11 on x86-64 Linux (the project's machines), whoever runs it.
lock:
	@$(LOCK_TOOLS)/bin/uv --version 2>/dev/null | grep -qF "uv $(UV_VERSION) " || { \
		python3 -m venv $(LOCK_TOOLS) && $(LOCK_TOOLS)/bin/pip install -q "uv==$(UV_VERSION)"; }
	printf 'pip\nsetuptools>=77\nwheel\n' | $(LOCK_TOOLS)/bin/uv pip compile pyproject.toml - \
		--quiet --extra dev --generate-hashes --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" \
		$(LOCK_ARGS) -o $(LOCK)

# Known vulnerabilities (PyPI's advisory data) in the locked versions: pip-audit, and
# where it cannot reach PyPI's per-release data, PyPI's project JSON (.ci/audit.py
# says why). An accepted finding goes in .ci/pip-audit-ignore with its date and why;
# otherwise move the pin.
audit: venv
	$(PY) .ci/audit.py $(LOCK) .ci/pip-audit-ignore

proto: venv
	$(PY) scripts/gen_proto.py

# ruff, mypy, then the import contracts of pyproject.toml [tool.importlinter]
# (which package may import which: the client never the server, and so on).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# `pip install kyso` and `pip install 'kyso[server]'` each suffice: the built wheel in a
# clean venv with only the locked distributions it declares, then its imports.
check-extras: venv
	scripts/check_extras.sh $(VENV)

clean:
	rm -rf var build *.egg-info .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
