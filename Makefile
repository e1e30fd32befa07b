# Two commands: `make run` (set up and serve) and `make test` (set up and run every test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test test-postgres setup bench screenshots clean

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	@$(PY) -m pip install --quiet -r requirements-test.txt
	@touch $@

# Quiet on success (errors still reach stderr); ensureadmin --banner prints the one block that
# says where to go: admin URL, account (and a generated password, once), MCP URL, discovery URL.
setup: $(VENV)/.installed
	@$(PY) manage.py check --fail-level ERROR >/dev/null
	@$(PY) manage.py migrate --noinput --verbosity 0
	@$(PY) manage.py collectstatic --noinput --verbosity 0
	@$(PY) manage.py createsigningkey --activate --if-missing >/dev/null
	@$(PY) manage.py ensureadmin --banner

# A legacy-era tool call keeps running after its client drops the stream (it resumes with
# Last-Event-ID); give it Claude's 300 s tool timeout instead of daphne's default 10 s.
run: setup
	@$(VENV)/bin/daphne -b $(HOST) -p $(PORT) --application-close-timeout 300 project.asgi:application

test: $(VENV)/.installed-test
	$(PY) -m pytest $(PYTEST_ARGS)

# The same suite on PostgreSQL (POSTGRES_URL: a server and a role that may create databases).
# pytest-django creates and drops test_mcp_<random>: a new name per run, so parallel runs never meet.
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432
test-postgres: $(VENV)/.installed-test
	DATABASE_URL="$(POSTGRES_URL)/mcp_$$($(PY) -c 'import uuid; print(uuid.uuid4().hex[:12])')" $(PY) -m pytest $(PYTEST_ARGS)

# One line per benchmark script; BENCH_TOKENS_ARGS (BENCH_MCP_ARGS, BENCH_PROFILE_ARGS) pass options,
# e.g. "--seconds 2 --algorithm ES256".
bench: $(VENV)/.installed-test
	$(PY) bench/bench_tokens.py $(BENCH_TOKENS_ARGS)
	$(PY) bench/bench_mcp.py $(BENCH_MCP_ARGS)
	$(PY) bench/bench_activity.py $(BENCH_ACTIVITY_ARGS)
	$(PY) bench/profile_mcp.py $(BENCH_PROFILE_ARGS)

# Refresh docs/screenshots/ from the console browser test (make test writes them to a temp folder).
screenshots: $(VENV)/.installed-test
	SCREENSHOTS_DIR="$(CURDIR)/docs/screenshots" $(PY) -m pytest -q tests/e2e/test_console.py

clean:
	rm -rf $(VENV) staticfiles
