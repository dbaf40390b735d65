# kyso — developer entry points. On a fresh Debian machine:
#   make run    install what is missing, provision a SoftHSM token, serve the demo
#   make test   the whole test suite on a real SoftHSM token
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
KYSO := $(VENV)/bin/kyso
HSM_DIR ?= var/hsm
APT_PACKAGES := softhsm2 p11-kit p11-kit-modules opensc poppler-utils xmlsec1 libnss3-tools openssl curl postgresql fonts-liberation
PYTEST_ARGS ?=

.PHONY: run test test-sqlite test-postgres deps apt venv proto lint clean

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

# The whole suite twice: on SQLite (the embedded default) and on a throwaway
# PostgreSQL cluster (the multi-node store).
test: test-sqlite test-postgres

test-sqlite: deps
	$(PY) -m pytest $(PYTEST_ARGS)

test-postgres: deps
	@d=$$(mktemp -d /tmp/kyso-pg.XXXXXX); \
	url=$$(scripts/pg-throwaway.sh start $$d) || exit 1; \
	echo "== the suite on PostgreSQL ($$url)"; \
	KYSO_TEST_POSTGRES_URL="$$url" $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
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

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

proto: venv
	$(PY) scripts/gen_proto.py

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf var build *.egg-info .pytest_cache .mypy_cache .ruff_cache
