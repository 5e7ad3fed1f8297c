# Two commands work on a fresh machine with only python3 and make:
#   make demo   -- set up .venv from uv.lock and run the offline main job
#   make test   -- set up .venv from uv.lock and run ruff, mypy and every offline test
# Everything else is optional (see `make help`).
#
# Dependencies are locked in uv.lock (every package, with hashes, for the whole tested set:
# runtime, extras, test and lint tools, bench anchors). `uv` itself is pinned below and
# installed from the package registry into .tools/, so nothing but python3 is needed first.

PYTHON     ?= python3
UV_VERSION := 0.13.9
TOOLS      := .tools
UV         := $(TOOLS)/bin/uv
VENV       := .venv
STAMP      := $(VENV)/.installed
LATEST     := .venv-latest
OLDEST     := .venv-oldest

# uv must use the machine's python3, never download an interpreter of its own.
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS      := 1

.DEFAULT_GOAL := help
.PHONY: help venv demo test lint type pytest checks test-latest test-oldest test-live \
        lock record record-live bench bench-text soak soak-ci clean

help:
	@echo "make demo         run the offline demo (replays recorded cassettes)"
	@echo "make test         ruff + mypy + pytest on the locked dependencies (uv.lock)"
	@echo "make test-latest  the same in $(LATEST): the newest versions pyproject.toml allows"
	@echo "make test-oldest  the same in $(OLDEST): our direct dependencies at their lower bounds"
	@echo "make test-live    start a real vLLM server on 127.0.0.1 and run the tests marked 'live'"
	@echo "make lock         re-resolve uv.lock to the newest allowed versions (then run make test)"
	@echo "make record       re-record the cassettes served by the local reference server"
	@echo "                  (TARGET=reference|featherless|arli-proxy|aiart for one set, TARGET=vllm: real vLLM)"
	@echo "make record-live  re-record the live-service cassettes against api.arliai.com (needs ARLIAI_API_KEY)"
	@echo "make bench        run the benchmarks and write bench/results.md"
	@echo "make bench-text   re-measure only the paired text table in bench/results.md"
	@echo "make soak         1,000 concurrent async chats and streams per skin with random faults"
	@echo "                  for about 3 minutes against the reference server on 127.0.0.1"
	@echo "                  (SOAK_DURATION=seconds; figures: bench/results.md, section Soak)"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# `--locked` fails if uv.lock does not match pyproject.toml instead of silently re-resolving.
$(STAMP): pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --quiet --locked --all-extras --group test \
		--python $(PYTHON)
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/arli demo

# ruff, mypy and pytest from the environment in ENV (default: the locked .venv).
ENV ?= $(VENV)
checks:
	$(ENV)/bin/ruff check .
	$(ENV)/bin/ruff format --check .
	$(ENV)/bin/mypy --cache-dir $(ENV)/.mypy_cache
	$(ENV)/bin/pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

type: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest -q

test: $(STAMP)
	@$(MAKE) --no-print-directory checks ENV=$(VENV)

# A fresh venv each time: the newest releases pyproject.toml's ranges allow, tools included
# (a new mypy or ruff release is exactly what broke a fresh clone once). Every extra, ray too:
# `all` leaves ray out as too heavy for most users; the tests do not.
test-latest: | $(UV)
	rm -rf $(LATEST)
	$(UV) venv --quiet --python $(PYTHON) $(LATEST)
	VIRTUAL_ENV=$(LATEST) $(UV) pip install --quiet --refresh --resolution highest \
		-e ".[all,ray]" --group test
	$(PYTHON) scripts/deps.py show $(LATEST)
	@$(MAKE) --no-print-directory checks ENV=$(LATEST)

# Our direct dependencies at the lowest versions the ranges allow; test and lint tools as
# locked. scripts/deps.py check-lowest fails if anything forced a direct dependency above its
# declared lower bound (the bound would then be an untested promise).
test-oldest: | $(UV)
	rm -rf $(OLDEST)
	$(UV) venv --quiet --python $(PYTHON) $(OLDEST)
	$(PYTHON) scripts/deps.py tool-pins > $(OLDEST)/tool-pins.txt
	VIRTUAL_ENV=$(OLDEST) $(UV) pip install --quiet --resolution lowest-direct \
		-c $(OLDEST)/tool-pins.txt -e ".[all,ray]" --group test
	$(PYTHON) scripts/deps.py check-lowest $(OLDEST)
	@$(MAKE) --no-print-directory checks ENV=$(OLDEST)

lock: | $(UV)
	$(UV) lock --upgrade --python $(PYTHON)

test-live: $(STAMP)
	scripts/live/run_live.sh

record: $(STAMP)
	scripts/record.sh $(or $(TARGET),local)

record-live: $(STAMP)
	scripts/record.sh live-service

BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --quiet --locked --inexact --all-extras \
		--group test --group bench --python $(PYTHON)
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(VENV)/bin/python -m bench

bench-text: $(BENCH_STAMP)
	$(VENV)/bin/python -m bench text llama_index

# The soak test (tests/soak): fails unless every call answered validly or raised an
# ArliError, none hung, sockets and threads came back to their baseline and RSS stayed
# bounded. CI runs the short form (soak-ci).
SOAK_DURATION ?= 150
soak: $(STAMP)
	$(VENV)/bin/python -m tests.soak --duration $(SOAK_DURATION) --results bench/results.md

soak-ci: $(STAMP)
	$(VENV)/bin/python -m tests.soak --duration 0 --min-rounds 2 --concurrency 200

clean:
	rm -rf $(VENV) $(LATEST) $(OLDEST) $(TOOLS) build .mypy_cache .ruff_cache .pytest_cache
