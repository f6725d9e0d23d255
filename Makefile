# Kindwave — the two commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export KINDWAVE_DATA_DIR ?= $(CURDIR)/var
DEMO_ENV := KINDWAVE_DEBUG=true
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup demo serve test lint types unit bench messages clean

## setup: create the virtualenv, install pinned dependencies, compile translations
setup: $(VENV)/.installed messages

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Kindwave needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## messages: compile the French translations with Babel (no GNU gettext needed)
messages: $(VENV)/.installed
	$(BIN)/pybabel compile -d src/kindwave/locale -D django --statistics

## demo: set up, load the demo operator (catalogues, causes, ~1,000 simulated subscribers) and serve it
demo: setup
	$(DEMO_ENV) $(BIN)/kindwave demo
	$(DEMO_ENV) $(BIN)/kindwave serve --host $(HOST) --port $(PORT)

serve: setup
	$(DEMO_ENV) $(BIN)/kindwave serve --host $(HOST) --port $(PORT)

## test: lint, types and the whole test suite (CI=true adds PostgreSQL and browser tests)
test: setup lint types unit

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(VENV)/.installed
	$(DEMO_ENV) $(BIN)/mypy

## unit: pytest on SQLite (browser tests with KINDWAVE_BROWSER_TESTS=1, Spark tests with
## KINDWAVE_SPARK_TESTS=1); with CI=true, both of those too (PySpark and Java are installed),
## then the suite again on the PostgreSQL 15 that scripts/ci-services.sh starts
unit: PYTEST = $(BIN)/python -m pytest -n 2 --dist loadfile
# pytest's exit code 5 means it ran nothing: say so (and, being non-zero, it fails the target).
unit: NO_TESTS = [ $$status -ne 5 ] || echo "make unit: pytest collected no tests (exit 5)" >&2
unit: $(VENV)/.installed
ifeq ($(CI),true)
	@set -e; \
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'; \
	database_url=$$(scripts/ci-services.sh); \
	echo "== unit 1/2: SQLite, with the browser and Spark tests"; \
	status=0; KINDWAVE_BROWSER_TESTS=1 KINDWAVE_SPARK_TESTS=1 $(PYTEST) || status=$$?; $(NO_TESTS); sqlite=$$status; \
	echo "== unit 2/2: PostgreSQL ($$database_url), browser and Spark tests left out"; \
	status=0; DATABASE_URL=$$database_url $(PYTEST) -m "not browser and not spark" || status=$$?; $(NO_TESTS); \
	[ $$sqlite -eq 0 ] || { echo "make unit: the SQLite pass failed (exit $$sqlite)" >&2; exit $$sqlite; }; \
	[ $$status -eq 0 ] || echo "make unit: the PostgreSQL pass failed (exit $$status)" >&2; \
	exit $$status
else
	@status=0; $(PYTEST) || status=$$?; $(NO_TESTS); exit $$status
endif

## bench: the simulator, ingest, rating, ledger and bill-run benchmarks (a simulated month of 20,000 subscribers, a bill run of 100,000 lines; ~20 min; SQLite — pass --database postgres to billing.py with DATABASE_URL for PostgreSQL)
bench: setup
	$(BIN)/python benchmarks/simulate.py
	$(BIN)/python benchmarks/ingest.py --repeat 3
	$(BIN)/python benchmarks/rating.py --sample 0.001
	$(BIN)/python benchmarks/ledger.py
	$(BIN)/python benchmarks/billing.py
	$(BIN)/python benchmarks/timeline.py --accounts 10000 --follows 200000 --posts 500000

clean:
	rm -rf $(VENV) var artifacts .mypy_cache .ruff_cache .pytest_cache
