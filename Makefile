# The two commands of the README: `make run` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-slow bench bench-memory clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## embedded PostgreSQL (unless DATABASE_URL), migrate, demo data, serve on :8000
	exec $(PY) -m app demo

test: $(STAMP)  ## the whole suite on a fresh database (DATABASE_URL's server, else embedded)
	$(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP)  ## long scenarios (concurrency at scale, database restarts)
	$(PY) -m pytest -q -m slow

$(VENV)/.bench-installed: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench-installed  ## the service against the one-round-trip ceiling (bench/README.md)
	$(PY) -m bench.run $(BENCH_ARGS)

bench-memory: $(VENV)/.bench-installed  ## RSS after 1,000,000 heartbeats, 10,000 cached configs (slow)
	$(PY) -m bench.run --scenarios memory $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pgdata
