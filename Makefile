# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := survey
# `make run PORT=8080`: the server and every URL it prints use that port.
PORT ?= 5000

.PHONY: run test test-analysis-only system-deps browser-deps translations messages lint typecheck bench clean mutation

$(STAMP): setup.cfg pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[web,test,dev]'
	touch $(STAMP)

# System packages the app and its tests need (WeasyPrint's Pango, pdftoppm, fonts, Chromium).
system-deps:
	bash scripts/system-deps.sh

# axe-core for the browser tests, pinned in tests/survey/browser/package-lock.json (npm registry).
BROWSER_DIR := tests/survey/browser
browser-deps: $(BROWSER_DIR)/node_modules/axe-core/axe.min.js
$(BROWSER_DIR)/node_modules/axe-core/axe.min.js: $(BROWSER_DIR)/package-lock.json
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# A fresh machine gets its own random secrets, kept in the (untracked) instance folder.
instance/config.py:
	mkdir -p instance
	printf "SECRET_KEY = '%s'\nQR_SECRET_KEY = '%s'\n" \
	  "$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(32))')" \
	  "$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(32))')" > $@

run: $(STAMP) system-deps translations instance/config.py
	$(BIN)/flask db upgrade
	$(BIN)/flask seed demo --responses --base-url http://127.0.0.1:$(PORT)
	$(BIN)/flask alerts refresh >/dev/null  # as the nightly job would (docs/deploy.md); quiet: the URLs above stay in view
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

# Lint and strict typing run first: CI (.ci/run → make test) fails on either.
test: $(STAMP) system-deps translations browser-deps lint typecheck test-analysis-only
	$(BIN)/python -m pytest

# `analysis` and `instruments` must work in a notebook without the web stack: prove it in a venv
# that has only the core dependencies.
test-analysis-only:
	test -d .venv-core || $(PYTHON) -m venv .venv-core
	.venv-core/bin/pip install --quiet -e '.[test]'
	.venv-core/bin/python -m pytest -p no:cacheprovider tests/instruments tests/analysis

# Compiled catalogs are build products (.mo files are not committed).
translations: $(STAMP)
	$(BIN)/pybabel compile -d survey/translations >/dev/null

# After changing UI text: refresh the template and both catalogs, then translate the new entries.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location -o survey/translations/messages.pot .
	$(BIN)/pybabel update -i survey/translations/messages.pot -d survey/translations --no-fuzzy-matching --ignore-obsolete

# deptry's job (every import declared in the right extra; it cannot read setup.cfg) and no reference
# outside the repository: both are quick tests, also part of `make test`.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_dependencies.py tests/test_self_contained.py

typecheck: $(STAMP)
	$(BIN)/mypy analysis instruments survey

bench: $(STAMP)
	$(BIN)/python bench/indices.py

# Mutation testing of analysis/ with mutmut (configured in setup.cfg [mutmut]); slow, so not part of
# `make test`. Incremental: delete mutants/ for a fresh run. Scores and how to read them: docs/testing.md.
mutation: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut export-cicd-stats
	cat mutants/mutmut-cicd-stats.json

clean:
	rm -rf $(VENV) .venv-core instance *.egg-info build dist
