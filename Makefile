# The two commands of the README: `make run` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# `embedded`: the PostgreSQL every target below uses when DATABASE_URL is unset (and test-slow's
# restart scenario always); the image leaves it out
EXTRAS := test,embedded

.PHONY: run test test-slow lint bench bench-memory bench-soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

run: $(STAMP)  ## embedded PostgreSQL (unless DATABASE_URL), migrate, demo data, serve on :8000
	exec $(PY) -m app demo

test: $(STAMP)  ## the whole suite on a fresh database (DATABASE_URL's server, else embedded)
	$(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP)  ## long scenarios (concurrency at scale, database restarts)
	$(PY) -m pytest -q -m slow

$(VENV)/.lint-installed: $(STAMP)
	$(PY) -m pip install --quiet -e '.[$(EXTRAS),lint]'
	touch $@

lint: $(VENV)/.lint-installed  ## ruff (style, imports, bug patterns) and mypy (types) on app/ and containers.py
	$(VENV)/bin/ruff check app containers.py
	$(VENV)/bin/mypy

$(VENV)/.bench-installed: $(STAMP)
	$(PY) -m pip install --quiet -e '.[$(EXTRAS),bench]'
	touch $@

bench: $(VENV)/.bench-installed  ## the service against the one-round-trip ceiling (bench/README.md)
	$(PY) -m bench.run $(BENCH_ARGS)

bench-memory: $(VENV)/.bench-installed  ## RSS after 1,000,000 heartbeats, 10,000 cached configs (slow)
	$(PY) -m bench.run --scenarios memory $(BENCH_ARGS)

bench-soak: $(VENV)/.bench-installed  ## 30 minutes of heartbeats: req/s a minute, table bloat, RSS (BENCH_ARGS=--soak-minutes N)
	$(PY) -m bench.run --scenarios soak $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pgdata
