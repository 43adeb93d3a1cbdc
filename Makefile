# Two commands on a fresh machine:  make run  |  make test
# Both bootstrap what they need (virtualenv, packages, front-end assets, database) and are idempotent.

VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app wsgi
PORT   ?= 5000
PYTHON ?= python3

.PHONY: run test bootstrap assets translations browser lint format clean-db

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

# The project itself is installed editable (pyproject.toml) so bench/ and tests/ import it as is;
# --no-build-isolation: it builds with the setuptools pinned in requirements.txt, no second download.
$(VENV)/.run-installed: requirements.txt pyproject.toml | $(VENV)/bin/activate
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-build-isolation --no-deps -e .
	touch $@

$(VENV)/.test-installed: requirements.txt requirements-dev.txt pyproject.toml | $(VENV)/bin/activate
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-build-isolation --no-deps -e .
	touch $@ $(VENV)/.run-installed

assets:
	@scripts/assets.sh

browser:
	@scripts/browser.sh

# Compile translations/*/LC_MESSAGES/messages.po into .mo (not committed); when strings change,
# `scripts/translations.sh update` re-extracts them (README, "Translations").
translations: $(VENV)/.run-installed
	@scripts/translations.sh

bootstrap: $(VENV)/.run-installed assets translations

run: bootstrap
	@THRIVING_ENV=development $(FLASK) db upgrade
	@THRIVING_ENV=development $(FLASK) users encrypt-secrets
	@THRIVING_ENV=development $(FLASK) demo load
	@# What production's cron does: freeze the statements of closed months (the demo closes a
	@# year of them; about two minutes the first time, in the background; nothing afterwards).
	@(THRIVING_ENV=development $(FLASK) statements freeze-pending > instance/freeze-pending.log 2>&1 &)
	@echo
	@THRIVING_ENV=development $(FLASK) users demo-list
	@echo
	@echo "Thriving Communities is at http://127.0.0.1:$(PORT)  (Ctrl-C to stop)"
	@THRIVING_ENV=development exec $(VENV)/bin/gunicorn --workers 4 --threads 4 --timeout 120 \
	  --bind 127.0.0.1:$(PORT) --access-logfile - 'wsgi:create_app()'

test: $(VENV)/.test-installed assets translations browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -n auto

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .
