"""A crash-looping pod among healthy ones: does it take valid tickets to the dead-letter queue?

Three workers on one queue (1 thread each, visibility timeout 10 s), 360 tickets uploaded at
once; one worker is SIGKILLed and started again every 4 s, ten times; then the three drain the
queue. Every message the doomed worker held comes back after the visibility timeout with one more
receive, and after 5 receives SQS dead-letters it. The run counts the valid tickets that reached
the DLQ and how close the others came (records by receive count), with the crash-loop guards
(`TICKET_ENRICH_FIRST_BATCH`, `TICKET_ENRICH_ISOLATE_AFTER`) set as each variant says, the
variants interleaved, `--rounds` times each.

    python -m tools.crashloop [--rounds 3] [--variants before,after]   (make crashloop)

Variants: before (first batch 10, no isolation: the worker as it was), slow-start (first batch
1, doubling), isolate (messages received 3+ times processed alone), after (both: the defaults).
Writes build/reliability/crashloop.json.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tools.chaos import phase_at_kill
from tools.journaled_worker import read_journal
from tools.rig import (
    REPO,
    Rig,
    account,
    machine_load,
    make_uploads,
    open_rig,
    put,
    records,
    start_worker,
    wait_logged_ready,
    worker_env,
)
from worker.resources import queue_depth

VARIANTS = {
    "before": {"TICKET_ENRICH_FIRST_BATCH": "10", "TICKET_ENRICH_ISOLATE_AFTER": "0"},
    "slow-start": {"TICKET_ENRICH_FIRST_BATCH": "1", "TICKET_ENRICH_ISOLATE_AFTER": "0"},
    "isolate": {"TICKET_ENRICH_FIRST_BATCH": "10", "TICKET_ENRICH_ISOLATE_AFTER": "3"},
    "after": {"TICKET_ENRICH_FIRST_BATCH": "1", "TICKET_ENRICH_ISOLATE_AFTER": "3"},
}


@dataclass(frozen=True)
class CrashLoopConfig:
    workers: int = 3
    tickets: int = 360
    kills: int = 10
    every_s: float = 4.0
    visibility_timeout: int = 10
    threads: int = 1
    profile: str = "offline"
    drain_timeout_s: float = 600.0


def run_once(rig: Rig, artifacts: Path, config: CrashLoopConfig, variant: str, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    journal = workdir / "journal.jsonl"
    env = worker_env(rig.env, rig.settings, artifacts, TICKET_ENRICH_PROFILE=config.profile,
                     TICKET_ENRICH_THREADS=str(config.threads), TICKET_ENRICH_HTTP_PORT="0", **VARIANTS[variant])
    command = [sys.executable, "-m", "tools.journaled_worker", "--journal", str(journal), "--"]
    starts = 0

    def start() -> tuple[subprocess.Popen[bytes], Path]:
        nonlocal starts
        starts += 1
        log = workdir / f"worker-{starts:03d}.log"
        return start_worker(env, log, command), log

    workers = [start() for _ in range(config.workers)]
    for process, log in workers:
        wait_logged_ready(process, log)
    uploads = make_uploads(config.tickets, f"CL-{variant}-{int(time.time()) % 100000}")
    started = time.monotonic()
    for upload in uploads:
        put(rig, upload)
    phases: Counter[str] = Counter()
    for _ in range(config.kills):
        time.sleep(config.every_s)
        process, log = workers[0]
        process.send_signal(signal.SIGKILL)
        process.wait()
        phases[phase_at_kill(process.pid, read_journal(journal), log)] += 1
        workers[0] = start()
    deadline = time.monotonic() + config.drain_timeout_s
    while any(queue_depth(rig.clients.sqs, rig.settings.queue_name).values()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"not drained within {config.drain_timeout_s:.0f} s; see {workdir}")
        time.sleep(1.0)
    elapsed = time.monotonic() - started
    for process, _ in workers:
        process.send_signal(signal.SIGTERM)
    for process, _ in workers:
        process.wait(timeout=120)
    found = records(rig.clients, rig.settings)
    counts = Counter(int(item.get("receive_count", {}).get("N", "1")) for item in found.values())
    lines = read_journal(journal)
    result = account(rig, uploads)
    return {
        "variant": variant, "dlq_valid": result.dlq_good, "dlq_total": result.dlq_total, "lost": len(result.lost),
        "records": result.records, "records_by_receive_count": {str(k): v for k, v in sorted(counts.items())},
        "records_received_3_or_more": sum(v for k, v in counts.items() if k >= 3),
        "messages_received": sum(line["n"] for line in lines if line["op"] == "sqs.ReceiveMessage"),
        "kill_phases": dict(phases), "elapsed_s": round(elapsed, 1), "loadavg": machine_load()["loadavg"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="before,after", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--profile", default="offline", choices=["offline", "full"])
    parser.add_argument("--artifacts", type=Path, default=REPO / "build" / "test-artifacts")
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "reliability" / "crashloop")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "reliability" / "crashloop.json")
    args = parser.parse_args(argv)
    config = CrashLoopConfig(profile=args.profile)
    variants = args.variants.split(",")
    runs: list[dict[str, Any]] = []
    workdir = args.workdir / time.strftime("%Y%m%d-%H%M%S")
    for round_number in range(args.rounds):
        for variant in variants:  # interleaved, so machine load falls on every variant alike
            rig = open_rig(workdir / f"moto-{round_number}-{variant}", config.visibility_timeout)
            try:
                run = run_once(rig, args.artifacts.resolve(), config, variant, workdir / f"{round_number}-{variant}")
            finally:
                rig.close()
            runs.append(run)
            print(f"round {round_number + 1} {variant:<10} valid tickets in the DLQ {run['dlq_valid']}, records received "
                  f"3+ times {run['records_received_3_or_more']}, by receive count {run['records_by_receive_count']}, "
                  f"kills {run['kill_phases']}, {run['elapsed_s']} s, load {run['loadavg']}")
    summary: dict[str, Any] = {"config": asdict(config), "command": "python -m tools.crashloop " + " ".join(
        sys.argv[1:] if argv is None else argv), "runs": runs, "variants": {}}
    for variant in variants:
        mine = [r for r in runs if r["variant"] == variant]
        summary["variants"][variant] = {
            "settings": VARIANTS[variant], "runs": len(mine),
            "dlq_valid": [r["dlq_valid"] for r in mine], "dlq_valid_total": sum(r["dlq_valid"] for r in mine),
            "received_3_or_more": [r["records_received_3_or_more"] for r in mine],
            "received_3_or_more_median": statistics.median(r["records_received_3_or_more"] for r in mine),
            "messages_received_median": statistics.median(r["messages_received"] for r in mine),
            "lost": sum(r["lost"] for r in mine)}
        v = summary["variants"][variant]
        print(f"{variant:<10} valid tickets dead-lettered per run {v['dlq_valid']} (total {v['dlq_valid_total']}); "
              f"records received 3+ times {v['received_3_or_more']}; lost {v['lost']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"summary: {args.out}")
    return 0 if all(r["lost"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
