# Two commands work on a fresh machine with only python3 and make:
#   make demo   -- set up .venv and run the offline main job
#   make test   -- set up .venv and run ruff, mypy and every offline test
# Everything else is optional (see `make help`).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv demo test lint type pytest test-live record record-live bench clean

help:
	@echo "make demo         run the offline demo (replays recorded cassettes)"
	@echo "make test         ruff + mypy + pytest (offline: cassettes and the local reference server)"
	@echo "make test-live    start a real vLLM server on 127.0.0.1 and run the tests marked 'live'"
	@echo "make record       re-record the cassettes served by the local reference server"
	@echo "                  (TARGET=reference|featherless|arli-proxy|aiart for one set, TARGET=vllm: real vLLM)"
	@echo "make record-live  re-record the live-service cassettes against api.arliai.com (needs ARLIAI_API_KEY)"
	@echo "make bench        run the benchmarks and write bench/results.md"

$(PY):
	$(PYTHON) -m venv $(VENV)

# pip >= 25.1 understands PEP 735 dependency groups (--group).
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e ".[all]" --group test
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/arli demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

type: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest -q

test: lint type pytest

test-live: $(STAMP)
	scripts/live/run_live.sh

record: $(STAMP)
	scripts/record.sh $(or $(TARGET),local)

record-live: $(STAMP)
	scripts/record.sh live-service

BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --group bench
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache
