# The commands the README promises: `make run`, `make test` and the fast loop `make unit`.
# Everything else serves them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run demo test lint typecheck importlint browser unit integration bench bench-quick clean

setup: $(STAMP)

# setuptools warns on every editable install that a folder named like a package may shadow it;
# here the folders are the packages, so that one warning is silenced.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: setup
	$(BIN)/okr demo
	@token="$$($(BIN)/okr token create --email demo-admin@acme.example --role admin --label 'make run')" && \
	  echo "Admin token: $$token" && \
	  echo "Open http://$${OKR_HOST:-127.0.0.1}:$${OKR_PORT:-8000}/ and sign in with it, or try:  curl -H 'Authorization: Bearer $$token' http://$${OKR_HOST:-127.0.0.1}:$${OKR_PORT:-8000}/api/v1/me"
	$(BIN)/okr serve

# Load the demo organisation into the configured store (embedded PostgreSQL unless
# OKR_DATABASE_URL); `make run` does this too before it serves.
demo: setup
	$(BIN)/okr demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

importlint: setup
	$(BIN)/lint-imports

# Debian's Chromium for the browser tests (tests/browser); Playwright never downloads its own browser.
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: lint typecheck importlint browser
	$(BIN)/pytest

# The fast loop: the tests that need no PostgreSQL, Kafka broker or browser (markers in
# pyproject.toml). OKR_TEST_NO_POSTGRES makes an unmarked test that asks for the database fail.
unit: setup
	OKR_TEST_NO_POSTGRES=1 $(BIN)/pytest -q -m "not postgres and not kafka and not browser"

# The rest: the tests on a real PostgreSQL, Kafka-protocol broker and Chromium.
integration: setup browser
	$(BIN)/pytest -m "postgres or kafka or browser"

# Benchmarks (not part of `make test`): every hot path beside its raw limit, measured in the
# same run; the table goes to docs/performance.md. See bench/__main__.py.
bench: setup
	$(BIN)/python -m bench

bench-quick: setup
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
