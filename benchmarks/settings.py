"""What a benchmark run measures and where it finds its models: built once, from the environment.

    BENCH_ARTIFACTS   our artifacts (default build/bench-artifacts, made by `make bench-export`)
    BENCH_PEERS       the peers' converted models (default build/bench-peers, built on first use)
    BENCH_RESULTS     where the run's JSON goes (default benchmarks/results/latest.json)
    BENCH_ROUNDS      interleaved rounds per measurement (default 3; 2 for summaries and end to end)
    BENCH_QUICK=1     a smoke run: one round, few tickets; written to quick.json (numbers not comparable)
    TICKET_ENRICH_CHECKPOINTS   the stand-in checkpoint cache (default build/checkpoints)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TICKETS = REPO / "benchmarks" / "tickets.jsonl"


@dataclass(frozen=True)
class BenchSettings:
    artifacts: Path
    peers: Path
    checkpoints: Path
    results: Path
    threads: int = 2  # every engine, every stage
    rounds: int = 3  # interleaved passes over the inputs per engine
    slow_rounds: int = 2  # the same for the summary and end-to-end measurements (minutes a pass)
    latency_tickets: int = 16  # single-ticket latency for the slow stages (summary, end to end)
    stage_tickets: int = 64  # tickets timed in batches per stage (all of them)
    stage_batch: int = 8  # tickets/s per stage at this batch size
    e2e_batch: int = 10  # what SQS delivers
    e2e_tickets: int = 60  # six batches of ten
    default_tickets: int = 20  # end to end at the runtime's default settings: two batches of ten
    worker_tickets: int = 200  # through the worker and the emulator
    beam_tickets: int = 8
    summary_new_tokens: int = 30
    beams: int = 4  # the checkpoint's own num_beams
    process_repeats: int = 3  # cold-start subprocesses per engine
    quick: bool = False

    def __post_init__(self):
        if self.threads < 1 or self.rounds < 1 or self.slow_rounds < 1:
            raise ValueError("threads and rounds must be at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BenchSettings:
        env = os.environ if environ is None else environ

        def path(name: str, default: Path) -> Path:
            value = env.get(name)
            return Path(value).resolve() if value else default

        quick = env.get("BENCH_QUICK", "") not in ("", "0")
        results = REPO / "benchmarks" / "results" / ("quick.json" if quick else "latest.json")
        common = {
            "artifacts": path("BENCH_ARTIFACTS", REPO / "build" / "bench-artifacts"),
            "peers": path("BENCH_PEERS", REPO / "build" / "bench-peers"),
            "checkpoints": path("TICKET_ENRICH_CHECKPOINTS", REPO / "build" / "checkpoints"),
            "results": path("BENCH_RESULTS", results),
        }
        if quick:
            rounds = int(env.get("BENCH_ROUNDS", 1))
            return cls(**common, rounds=rounds, slow_rounds=rounds, latency_tickets=4, stage_tickets=16,
                       e2e_tickets=20, default_tickets=10, worker_tickets=30,
                       beam_tickets=2, process_repeats=1, quick=True)
        if env.get("BENCH_ROUNDS"):
            return cls(**common, rounds=int(env["BENCH_ROUNDS"]), slow_rounds=int(env["BENCH_ROUNDS"]))
        return cls(**common)
