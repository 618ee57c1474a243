# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export GOVERNANCE_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
# The browser tests drive Debian's Chromium: Playwright's own browser download is unreachable here.
export CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint browser credential-check test-sqlite test-postgres bench fuzz messages clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "governance needs Python 3.11 or newer; set PYTHON=python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,browser]'
	touch $(STAMP)

# What the browser tests need besides Python packages (the install stamp brings those):
# Debian's Chromium, installed when missing. Without it they skip, or fail with CI=true.
browser: $(STAMP)
	@[ -x $(CHROMIUM) ] || { \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			echo "installing Debian's chromium for the browser tests"; \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
				echo "could not install chromium: the browser tests will skip (and fail with CI=true)" >&2; \
		else \
			echo "the browser tests need Chromium at $(CHROMIUM): install it as root ('apt-get install chromium' on" \
				"Debian or Ubuntu) or set CHROMIUM=/path/to/chromium; until then they skip (and fail with CI=true)" >&2; \
		fi; \
	}

# The independent credential verifier (tools/credential-check, Node.js): its pinned packages,
# installed again only when the lock file changes. Without node and npm, or when the install
# fails, its tests skip (and fail with CI=true); the stamp is written only on success.
CREDENTIAL_CHECK := tools/credential-check
CREDENTIAL_CHECK_STAMP := $(CREDENTIAL_CHECK)/node_modules/.installed
credential-check: $(CREDENTIAL_CHECK_STAMP)

$(CREDENTIAL_CHECK_STAMP): $(CREDENTIAL_CHECK)/package-lock.json
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		echo "installing the independent credential verifier's node packages in $(CREDENTIAL_CHECK)"; \
		if npm ci --prefix $(CREDENTIAL_CHECK) --no-audit --no-fund --loglevel=error; then touch $@; else \
			echo "could not install them: the independent-verifier tests will skip (and fail with CI=true)" >&2; fi; \
	else \
		echo "the independent credential verifier needs Node.js 18 or newer and npm ('apt-get install nodejs npm'" \
			"on Debian or Ubuntu); until then its tests skip (and fail with CI=true)" >&2; \
	fi

run: $(STAMP)
	$(BIN)/governance migrate
	$(BIN)/governance serve --no-migrate

lint: $(STAMP)
	$(BIN)/ruff check governance tests bench tools
	$(BIN)/ruff format --check governance tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports

test-sqlite: $(STAMP)
	GOVERNANCE_TEST_BACKEND=sqlite $(BIN)/pytest

test-postgres: $(STAMP)
	GOVERNANCE_TEST_BACKEND=postgres $(BIN)/pytest

# Bytecode is written during the test runs even where the environment says not to
# (PYTHONDONTWRITEBYTECODE): each run starts dozens of `governance` processes (served instances,
# CLI commands, workers), and each would otherwise compile the package again (about 0.2 s of CPU).
test-sqlite test-postgres: export PYTHONDONTWRITEBYTECODE :=

# The test runs need the browser (kept apart from their own rules above).
test-sqlite test-postgres: browser
# ... and the independent credential verifier.
test-sqlite test-postgres: credential-check

# The two backends' suites run at once (one core each; each run has its own data directory,
# database and ports). Each one's output is printed whole when it ends; either failing fails
# `make test`, and --keep-going lets the other finish and report.
test: lint
	@$(MAKE) --no-print-directory --jobs=2 --keep-going --output-sync=target test-sqlite test-postgres

bench: $(STAMP)
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/complaints.py
	$(BIN)/python bench/vetting.py
	$(BIN)/python bench/privacy.py
	$(BIN)/python bench/evidence.py
	$(BIN)/python bench/web.py

# Schemathesis against the service's own OpenAPI document, once per role (minutes; not part of
# `make test`). FUZZ_DATABASE_URL=postgresql://... fuzzes on PostgreSQL; see tools/fuzz.py.
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	$(BIN)/python tools/fuzz.py

# The pages' translation catalogs: extract every string the pages show, update each
# language's catalog under governance/web/locale (a new language: pybabel init -l <code>).
# The service reads the .po files as they are: nothing to compile.
LOCALE := governance/web/locale
messages: $(STAMP)
	$(BIN)/pybabel extract --mapping-file babel.cfg --keywords N_ --keywords gettext --keywords ngettext:1,2 \
		--project governance --no-location --sort-output --omit-header --output-file $(LOCALE)/messages.pot governance
	$(BIN)/pybabel update --input-file $(LOCALE)/messages.pot --output-dir $(LOCALE) --domain messages \
		--no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
