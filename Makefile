# webauth: `make run` serves the app, `make test` runs every test. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
THREADS ?= 4
# Connections one worker holds at once (gthread): see docs/configuration.md.
CONNECTIONS ?= 8
MUTATION_JOBS ?= 2
export FLASK_APP := wsgi
# Access log without query strings or referrers: Casdoor's return carries a one-time code there.
ACCESS_LOG_FORMAT := %(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss "%(a)s"

.PHONY: run test test-python test-js a11y setup vendor static translations migrate system-test-deps lint messages interop-samples screenshots clean mutation

run: setup migrate
	$(VENV)/bin/gunicorn --workers $(WORKERS) --worker-class gthread --threads $(THREADS) \
		--worker-connections $(CONNECTIONS) \
		--bind $(HOST):$(PORT) --access-logfile - --access-logformat '$(ACCESS_LOG_FORMAT)' wsgi:app

test: setup system-test-deps lint test-js test-python

test-python:
	$(PY) -m pytest $(PYTEST_ARGS)

test-js:
	node --test tests/js/

# Lighthouse's accessibility audit (100 is the goal) on the list, add, import and settings pages, in English and Arabic.
a11y: setup system-test-deps
	$(PY) -m bench.lighthouse --a11y

# Mutation testing of the code that decides codes, secrets and imports ([tool.mutmut] in pyproject.toml).
# Slow (tens of minutes on two cores) and not part of `make test`; see tests/mutation/EQUIVALENT.md.
mutation: $(VENV)/.mutation-installed
	rm -rf mutants
	HYPOTHESIS_PROFILE=mutation WEBAUTH_FUZZ_EXAMPLES=25 $(VENV)/bin/mutmut run --max-children $(MUTATION_JOBS)
	$(PY) tests/mutation/report.py

$(VENV)/.mutation-installed: $(VENV)/.installed requirements-mutation.txt
	$(PY) -m pip install --quiet -r requirements-mutation.txt
	touch $@

# ruff for Python, ESLint (eslint.config.js) for the project's own JavaScript.
lint: $(VENV)/.installed node_modules/.package-lock.json
	$(VENV)/bin/ruff check .
	node_modules/.bin/eslint .

setup: $(VENV)/.installed vendor static translations

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

vendor: node_modules/.package-lock.json
	scripts/vendor.sh

# The static files under content-hashed names, with gzip and brotli copies (static/dist).
static: vendor $(VENV)/.installed
	$(PY) -m scripts.build_static

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d translations

migrate: $(VENV)/.installed
	$(VENV)/bin/flask db upgrade heads

system-test-deps:
	scripts/ensure-test-deps.sh

# Maintainers: re-extract the strings after changing templates or code, then translate.
messages: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot .
	$(VENV)/bin/pybabel update --no-fuzzy-matching --ignore-obsolete -i translations/messages.pot -d translations

# Maintainers: write the import tests' samples of other apps' formats again (tests/fixtures/interop/SOURCES.md).
interop-samples: $(VENV)/.installed
	$(PY) -m tests.support.interop_samples

# Maintainers: photograph today's pages again (docs/screenshots, and the manifest's in static/screenshots).
screenshots: setup system-test-deps
	$(PY) -m scripts.make_screenshots

clean:
	rm -rf $(VENV) node_modules static/vendor static/dist
