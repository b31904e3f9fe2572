# The two commands: `make run` and `make test`. Both create or refresh .venv from pyproject.toml.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed-stamp
# The browser tests drive Debian's chromium (Playwright never downloads a browser here).
CHROMIUM := /usr/bin/chromium
# The store tests start a real PostgreSQL server from Debian's package (never a service).
POSTGRES := /usr/lib/postgresql
# The single sign-on tests run a real OpenID provider (npm's oidc-provider, tests/oidc) on
# Debian's Node; the fixture runs `npm ci` there once.
NPM := /usr/bin/npm
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test lint validate

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(CHROMIUM):
	@echo "kickoff: installing Debian's chromium for the browser tests (once)"
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

$(POSTGRES):
	@echo "kickoff: installing Debian's postgresql for the store tests (once)"
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null

$(NPM):
	@echo "kickoff: installing Debian's nodejs and npm for the single sign-on tests (once)"
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null

run: $(STAMP)
	$(VENV)/bin/python -m kickoff.devstack

test: $(STAMP) $(CHROMIUM) $(POSTGRES) $(NPM)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

validate: $(STAMP)
	$(VENV)/bin/kickoff-validate pipelines.yaml
