# ticket-enrichment: `make run` (the whole job, end to end, locally) and `make test`.
# Both create .venv and install what they need on a fresh machine.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ARTIFACTS ?= artifacts
TEST_ARTIFACTS ?= build/test-artifacts
# Exported from checkpoint folders shaped like the Hub's (export/hub_layout.py), from the same tiny weights
TEST_HUB_ARTIFACTS ?= build/test-artifacts-hub
STANDINS ?=
PROFILE ?=
EXPORT_FLAGS ?=
PYTEST_FLAGS ?=

# AWS: honour an endpoint already in the environment; otherwise use the local emulator (moto server
# on 127.0.0.1). Its pid, port and log files in $(AWS_LOCAL_DIR) say which emulator is ours: `make
# aws-down` stops that one whatever AWS_ENDPOINT_URL says, and `make status` or `make show` after
# `make run AWS_LOCAL_PORT=…` find the port it used.
AWS_LOCAL_DIR ?= .aws-local
ifndef AWS_LOCAL_PORT
AWS_LOCAL_PORT := $(or $(shell cat $(AWS_LOCAL_DIR)/moto.port 2>/dev/null),4566)
endif
AWS_LOCAL_URL = http://127.0.0.1:$(AWS_LOCAL_PORT)
ifeq ($(origin AWS_ENDPOINT_URL),undefined)
export AWS_ENDPOINT_URL := $(AWS_LOCAL_URL)
endif
ifeq ($(AWS_ENDPOINT_URL),$(AWS_LOCAL_URL))
LOCAL_EMULATOR := 1
export AWS_ACCESS_KEY_ID ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
endif
export AWS_DEFAULT_REGION ?= us-east-1
# What `make run` seeds
SAMPLES ?= samples/tickets
# The Hugging Face Hub is often unreachable (always, on the project's build machines): fail fast.
export HF_HUB_ETAG_TIMEOUT ?= 3
export HF_HUB_DOWNLOAD_TIMEOUT ?= 10

.PHONY: help venv export test-artifacts test lint accuracy run worker aws-up aws-down setup seed status reset show \
        redrive bench bench-export perf-chart perf-check chaos load scale crashloop throughput capacity clean

help:
	@echo "make run     export the models, start the local AWS emulator, enrich the sample tickets, show them"
	@echo "             (the emulator keeps the results: make status, make show ID=TKT-250121; make aws-down stops it)"
	@echo "make test    build the tiny test artifacts and run the test suite"
	@echo "make export [STANDINS=full|tiny] [PROFILE=full|offline] [FORCE=1]   build artifacts/ (FORCE=1 replaces a different export)"
	@echo "make accuracy [PROFILE=full|offline] [ARTIFACTS=dir]   score the labelled tickets"
	@echo "make aws-up | setup | seed | worker | status | show ID=… | redrive | reset | aws-down   (reset deletes all data)"
	@echo "make bench-export | bench | perf-chart | perf-check   the performance suite (docs/PERFORMANCE.md)"
	@echo "make chaos | load | scale | crashloop   reliability runs (docs/RELIABILITY.md)"
	@echo "make throughput | capacity   throughput against worker count, the capacity plan (docs/CAPACITY.md)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[export,dev]'
	@touch $(STAMP)

venv: $(STAMP)

export: venv
	$(BIN)/ticket-enrich export --out $(ARTIFACTS) $(if $(STANDINS),--stand-ins $(STANDINS)) \
		$(if $(PROFILE),--profile $(PROFILE)) $(if $(FORCE),--force) $(EXPORT_FLAGS)

test-artifacts: venv
	$(BIN)/ticket-enrich export --out $(TEST_ARTIFACTS) --stand-ins tiny --profile full --force
	$(BIN)/python -m export.hub_layout --size tiny
	$(BIN)/ticket-enrich export --out $(TEST_HUB_ARTIFACTS) --profile full --force \
		$$($(BIN)/python -m export.hub_layout --size tiny --flags)

# Score tests/data/labelled_tickets.jsonl with $(ARTIFACTS) (PROFILE=full|offline; default: the artifacts'
# profile). Figures from stand-in weights are meaningless, and the report says so.
accuracy: venv
	$(BIN)/ticket-enrich accuracy --artifacts $(ARTIFACTS) $(if $(PROFILE),--profile $(PROFILE)) --out build/accuracy-$(or $(PROFILE),default).json

# ruff everywhere; mypy --strict on runtime/, worker/, ticket_schema/ and export/ (settings in pyproject.toml,
# cache in .mypy_cache: a few seconds cold, about one warm).
lint: venv
	$(BIN)/ruff check export runtime worker ticket_schema ticket_enrich tests benchmarks tools
	$(BIN)/mypy

test: venv lint test-artifacts
	TEST_ARTIFACTS=$(abspath $(TEST_ARTIFACTS)) TEST_HUB_ARTIFACTS=$(abspath $(TEST_HUB_ARTIFACTS)) \
		$(BIN)/python -m pytest tests $(PYTEST_FLAGS)

# ---- local AWS (moto server over HTTP) -------------------------------------------------
aws-up: venv
ifdef LOCAL_EMULATOR
	$(BIN)/python -m worker.emulator up --port $(AWS_LOCAL_PORT) --dir $(AWS_LOCAL_DIR)
else
	@echo "AWS_ENDPOINT_URL is $(AWS_ENDPOINT_URL), not the local emulator's $(AWS_LOCAL_URL): not starting one"
endif

# Stops the emulator aws-up started (its pid file in $(AWS_LOCAL_DIR)), whatever AWS_ENDPOINT_URL says.
aws-down: venv
	$(BIN)/python -m worker.emulator down --dir $(AWS_LOCAL_DIR)

setup: venv
	$(BIN)/ticket-enrich aws setup

seed: venv
	$(BIN)/ticket-enrich aws seed $(SAMPLES)

status: venv
	$(BIN)/ticket-enrich aws status

reset: venv
	$(BIN)/ticket-enrich aws reset

redrive: venv
	$(BIN)/ticket-enrich aws redrive

# One ticket's record and document, readable: make show ID=TKT-250121 (or a rejected file's name)
show: venv
	@test -n "$(ID)" || { echo "usage: make show ID=<ticket id, or a rejected file's name>, e.g. make show ID=TKT-250121"; exit 2; }
	@$(BIN)/ticket-enrich aws show '$(ID)'

worker: venv
	$(BIN)/ticket-enrich worker --artifacts $(ARTIFACTS)

# The README's main command: everything, end to end. The local emulator starts empty (a previous
# run's results are forgotten) and keeps running afterwards with this run's results, to look at.
RUN_HINT = Look at the results: make status; make show ID=TKT-250121; make show ID=malformed-invalid-json.json
ifdef LOCAL_EMULATOR
RUN_KEPT = The AWS emulator keeps running at $(AWS_LOCAL_URL) with them: make aws-down stops it (and forgets them).
endif
run: venv export
	@$(MAKE) --no-print-directory aws-up
ifdef LOCAL_EMULATOR
	@$(BIN)/python -m worker.emulator reset --dir $(AWS_LOCAL_DIR)
endif
	@trap 'echo; echo "$(RUN_HINT)"; $(if $(RUN_KEPT),echo "$(RUN_KEPT)")' EXIT; set -e; \
	$(BIN)/ticket-enrich aws setup; \
	$(BIN)/ticket-enrich aws seed $(SAMPLES); \
	$(BIN)/ticket-enrich worker --artifacts $(ARTIFACTS) --until-empty --report --http-port 0

# ---- performance and reliability (not part of make test) ---------------------------------
BENCH_ARTIFACTS ?= build/bench-artifacts

# Full-size stand-ins + real MiniLM, every variant; then the peers' models (Optimum, CTranslate2,
# fastembed) from the same checkpoints, into build/bench-peers.
bench-export: venv
	$(BIN)/python -m pip install -q -e '.[export,dev,benchmarks]'
	$(MAKE) --no-print-directory export STANDINS=full PROFILE=full ARTIFACTS=$(BENCH_ARTIFACTS)
	BENCH_ARTIFACTS=$(abspath $(BENCH_ARTIFACTS)) $(BIN)/python -m benchmarks.peers

# The whole suite takes ~20 min on 2 cores; select with PYTEST_FLAGS="-k embed" (sentiment,
# summary_greedy, summary_beam, end_to_end, cold_start, artifact_bytes, limits); BENCH_QUICK=1 smoke-runs.
bench: venv
	$(BIN)/python -m pip install -q -e '.[export,dev,benchmarks]'
	BENCH_ARTIFACTS=$(abspath $(BENCH_ARTIFACTS)) $(BIN)/python -m pytest benchmarks $(PYTEST_FLAGS)

perf-chart: venv
	$(BIN)/python -m benchmarks.chart

perf-check: venv
	$(BIN)/python -m benchmarks.check

# Reliability (docs/RELIABILITY.md). Each run starts its own moto server on a free 127.0.0.1 port and
# writes its summary to build/reliability/{chaos,load}.json; pass options with CHAOS_FLAGS / LOAD_FLAGS
# (e.g. CHAOS_FLAGS="--tickets 1000 --kills 20"). About 3-6 minutes each on 2 cores.
chaos: venv test-artifacts
	$(BIN)/python -m tools.chaos --artifacts $(TEST_ARTIFACTS) $(CHAOS_FLAGS)

load: venv test-artifacts
	$(BIN)/python -m tools.load --artifacts $(TEST_ARTIFACTS) $(LOAD_FLAGS)

# Scale-out (docs/RELIABILITY.md, "Many workers on one queue"): workers started and stopped by a
# simulation of the KEDA ScaledObject, kills, an outage, a redrive; build/reliability/scale.json.
# About 6-10 minutes on 2 cores. SCALE_FLAGS="--tickets 5000 --max-pods 6" and so on.
scale: venv test-artifacts
	$(BIN)/python -m tools.scale --artifacts $(TEST_ARTIFACTS) $(SCALE_FLAGS)

# A crash-looping pod among healthy ones, with and without the crash-loop guards; ~10 minutes.
crashloop: venv test-artifacts
	$(BIN)/python -m tools.crashloop --artifacts $(TEST_ARTIFACTS) $(CRASHLOOP_FLAGS)

# Throughput against worker count, full and offline profiles on full-size artifacts; the per-pod
# figure behind queueLength (docs/CAPACITY.md). Exports build/full-artifacts first if missing.
FULL_ARTIFACTS ?= build/full-artifacts
throughput: venv
	@test -f $(FULL_ARTIFACTS)/manifest.json || $(MAKE) --no-print-directory export STANDINS=full PROFILE=full \
		ARTIFACTS=$(FULL_ARTIFACTS)
	$(BIN)/python -m tools.throughput --artifacts $(FULL_ARTIFACTS) $(THROUGHPUT_FLAGS)

# The capacity plan's figures and docs/capacity.png, from build/reliability/throughput.json (or
# the figures quoted in docs/CAPACITY.md); matplotlib comes with the benchmarks extra.
capacity: venv
	$(BIN)/python -m pip install -q -e '.[export,dev,benchmarks]'
	$(BIN)/python -m tools.capacity $(CAPACITY_FLAGS)

clean:
	rm -rf build .pytest_cache .ruff_cache .mypy_cache
