# ticket-enrichment: `make run` (the whole job, end to end, locally) and `make test`.
# Both create .venv and install what they need on a fresh machine.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ARTIFACTS ?= artifacts
TEST_ARTIFACTS ?= build/test-artifacts
STANDINS ?=
PROFILE ?=
EXPORT_FLAGS ?=
PYTEST_FLAGS ?=

# AWS: honour an endpoint already in the environment; otherwise use the local emulator.
AWS_LOCAL_PORT ?= 4566
ifeq ($(origin AWS_ENDPOINT_URL),undefined)
export AWS_ENDPOINT_URL := http://127.0.0.1:$(AWS_LOCAL_PORT)
export AWS_ACCESS_KEY_ID ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
# Exported so that the sub-makes of `make run` (aws-up, aws-down) know the endpoint is ours.
export LOCAL_EMULATOR := 1
endif
export AWS_DEFAULT_REGION ?= us-east-1
# The Hugging Face Hub is often unreachable (always, on the project's build machines): fail fast.
export HF_HUB_ETAG_TIMEOUT ?= 3
export HF_HUB_DOWNLOAD_TIMEOUT ?= 10

.PHONY: help venv export test-artifacts test lint run worker aws-up aws-down setup seed status reset redrive \
        bench bench-export perf-chart perf-check chaos load scale crashloop throughput capacity clean

help:
	@echo "make run     export the models, start the local AWS emulator, enrich the sample tickets, show them"
	@echo "make test    build the tiny test artifacts and run the test suite"
	@echo "make export [STANDINS=full|tiny] [PROFILE=full|offline]   build artifacts/"
	@echo "make aws-up | setup | seed | worker | status | redrive | reset | aws-down"
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
		$(if $(PROFILE),--profile $(PROFILE)) $(EXPORT_FLAGS)

test-artifacts: venv
	$(BIN)/ticket-enrich export --out $(TEST_ARTIFACTS) --stand-ins tiny --profile full --force

# ruff everywhere; mypy --strict on runtime/, worker/ and ticket_schema/ (settings in pyproject.toml,
# cache in .mypy_cache: a few seconds cold, about one warm).
lint: venv
	$(BIN)/ruff check export runtime worker ticket_schema ticket_enrich tests benchmarks tools
	$(BIN)/mypy

test: venv lint test-artifacts
	TEST_ARTIFACTS=$(abspath $(TEST_ARTIFACTS)) $(BIN)/python -m pytest tests $(PYTEST_FLAGS)

# ---- local AWS (moto server over HTTP) -------------------------------------------------
aws-up: venv
ifdef LOCAL_EMULATOR
	$(BIN)/python -m worker.emulator up --port $(AWS_LOCAL_PORT) --dir .aws-local
else
	@echo "AWS_ENDPOINT_URL is set ($(AWS_ENDPOINT_URL)): not starting a local emulator"
endif

aws-down: venv
ifdef LOCAL_EMULATOR
	$(BIN)/python -m worker.emulator down --dir .aws-local
endif

setup: venv
	$(BIN)/ticket-enrich aws setup

seed: venv
	$(BIN)/ticket-enrich aws seed samples/tickets

status: venv
	$(BIN)/ticket-enrich aws status

reset: venv
	$(BIN)/ticket-enrich aws reset

redrive: venv
	$(BIN)/ticket-enrich aws redrive

worker: venv
	$(BIN)/ticket-enrich worker --artifacts $(ARTIFACTS)

# The README's main command: everything, end to end, then the emulator is stopped again.
run: venv export
	@$(MAKE) --no-print-directory aws-up
	@set -e; trap '$(MAKE) --no-print-directory aws-down' EXIT; \
	$(BIN)/ticket-enrich aws setup; \
	$(BIN)/ticket-enrich aws seed samples/tickets; \
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
