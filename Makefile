# Precedent: two commands set everything up on a fresh machine with Python 3.11:
#   make run    create .venv, install, migrate the embedded database, load the taxonomy, serve
#   make test   lint, type-check and test (SQLite; then PostgreSQL when PRECEDENT_TEST_DATABASE_URL is set)
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# `make run` installs what the service needs; the test, lint and benchmark tools come with `make test`.
RUNTIME := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Tests run in parallel (pytest-xdist): every test has its own migrated database, on SQLite and on PostgreSQL.
PYTEST_WORKERS ?= 2

.PHONY: run test lint typecheck pytest pytest-sqlite pytest-postgres fuzz stress bench clean venv messages verifier

venv: $(STAMP)

$(RUNTIME): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(RUNTIME)
	$(BIN)/precedent db upgrade
	$(BIN)/precedent taxonomy load
	$(BIN)/precedent serve

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy api schemas evidence_store

pytest: pytest-sqlite pytest-postgres

pytest-sqlite: $(STAMP)
	PRECEDENT_TEST_DATABASE_URL= $(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

pytest-postgres: $(STAMP)
	@if [ -n "$$PRECEDENT_TEST_DATABASE_URL" ]; then \
		echo "== the same suite on PostgreSQL ($$PRECEDENT_TEST_DATABASE_URL)"; \
		$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS); \
	else \
		echo "PRECEDENT_TEST_DATABASE_URL is not set: skipping the PostgreSQL run"; \
	fi

# A much larger fuzzing budget than CI: every phase, 200 examples per operation and role, random seeds.
fuzz: $(STAMP)
	PRECEDENT_FUZZ_DEEP=1 PRECEDENT_FUZZ_EXAMPLES=200 PRECEDENT_FUZZ_RANDOM=1 $(BIN)/pytest tests/fuzz $(PYTEST_ARGS)

# Extract the web interface's strings and merge them into the be/ru/en catalogs (then translate the new ones).
messages: $(STAMP)
	mkdir -p var
	$(BIN)/pybabel extract -F api/web/babel.cfg --no-location --sort-output -o var/messages.pot .
	$(BIN)/pybabel update -i var/messages.pot -d api/web/locale -D messages --no-fuzzy-matching --ignore-obsolete -w 110

# Longer runs of the hardening tests: many more flipped bytes (every byte of a bundle), crashes and fuzz cases.
stress: $(STAMP)
	PRECEDENT_TAMPER_FLIPS=200 PRECEDENT_TAMPER_EXHAUSTIVE=1 PRECEDENT_CRASH_ROUNDS=40 \
		$(BIN)/pytest tests/hardening -s $(PYTEST_ARGS)

# The stand-alone offline verifier (evidence_store alone, Python 3.10+): dist/precedent_evidence-<version>-py3-none-any.whl
# and its sdist, installed by a recipient with pip and run as `precedent-verify verify BUNDLE --public-key KEY`.
verifier: $(STAMP)
	$(BIN)/python packaging/precedent-evidence/build.py --outdir dist

# The quick benchmarks, each printing its ratio against a baseline measured in the same run (the long ones,
# bench_search.py at a million cases and bench_export.py, are run by hand: see their docstrings).
bench: $(STAMP)
	$(BIN)/python bench/bench_verify.py
	$(BIN)/python bench/bench_custody_verify.py
	$(BIN)/python bench/bench_ledger.py
	$(BIN)/python bench/measure_clearing.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
