# segtrail: the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR ?= demo-workspace
PYTEST_ARGS ?=

.PHONY: install browser postgresql demo test bench lint format clean

install: $(STAMP)

# Re-install only when the package's metadata changes (idempotent).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: install
	rm -rf $(DEMO_DIR)
	$(BIN)/segtrail demo $(DEMO_DIR)

# The report tests render the HTML in a real headless Chromium (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; browser tests will be skipped"; }

# Half of the service and CLI tests run against a real PostgreSQL server that the test
# session starts itself (tests/pgserver.py); it needs Debian's server binaries, which live in
# /usr/lib/postgresql/<version>/bin (not on PATH). Without them the PostgreSQL half is
# skipped locally and fails on CI.
postgresql:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  echo "installing PostgreSQL for the database tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	  || echo "warning: could not install postgresql; PostgreSQL tests will be skipped (fail on CI)"; }

test: install browser postgresql
	$(BIN)/python -m pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/run.py

# Mutation score of engine/ and store/ modules against their own tests (slow; not in `test`).
# One module: make mutate MODULES=engine/carry.py
# After new tests: make mutate MODULES=engine/carry.py MUTATE_ARGS=--resume (re-tests the
# survivors and what an interrupted run did not reach; keeps the other results)
.PHONY: mutate
MODULES ?=
MUTATE_ARGS ?=
mutate: install
	$(BIN)/python bench/mutate.py $(MUTATE_ARGS) $(MODULES)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) $(DEMO_DIR) build *.egg-info src/*.egg-info .pytest_cache
