"""A crash-looping pod among healthy ones: does it take valid tickets to the dead-letter queue?

Three workers on one queue (1 thread each, visibility timeout 10 s), 360 tickets uploaded at
once; one worker is SIGKILLed 4 s after it is ready and started again, ten times (counted from
"worker ready", because on a loaded 2-core machine start-up alone can take 4 s: `--from-start`
counts from the process start); then the three drain the queue. Every message the doomed worker held comes back after the visibility timeout with one more
receive, and after 5 receives SQS dead-letters it. The run counts the valid tickets that reached
the DLQ and how close the others came (records by receive count), with the crash-loop guards
(`TICKET_ENRICH_FIRST_BATCH`, `TICKET_ENRICH_ISOLATE_AFTER`) set as each variant says, the
variants interleaved, `--rounds` times each.

A second scenario, `poison`: no kills from outside, but 3 of 150 tickets kill the worker that
enriches them (as an out-of-memory kill would; tools/journaled_worker.py --die-on); a dead worker
is restarted at once, as its pod would be. Those 3 belong in the DLQ; the question is how many
valid tickets go with them.

    python -m tools.crashloop [--rounds 3] [--scenarios crash-loop,poison] [--variants before,after]   (make crashloop)

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tools.chaos import phase_at_kill
from tools.journaled_worker import read_journal
from tools.rig import (
    REPO,
    Rig,
    Upload,
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


KILLER = "KILLS-ITS-WORKER"  # in a ticket's subject: the worker that enriches it is SIGKILLed


@dataclass(frozen=True)
class CrashLoopConfig:
    workers: int = 3
    tickets: int = 360
    kills: int = 10
    every_s: float = 4.0
    from_ready: bool = True  # the 4 s count from "worker ready", not from the process start
    visibility_timeout: int = 10
    threads: int = 1
    profile: str = "full"  # what `ticket-enrich worker` runs by default (the artifacts' own profile)
    drain_timeout_s: float = 600.0
    killers: int = 3  # the poison scenario: tickets that kill their worker, spread over the upload
    poison_tickets: int = 150  # the poison scenario's upload (its question needs fewer tickets)


def with_killers(uploads: list[Upload], count: int) -> tuple[list[Upload], list[Upload]]:
    """Make `count` of the tickets, spread over the upload, ones that kill their worker."""
    killers = {round((i + 0.5) * len(uploads) / count) for i in range(count)} if count else set()
    changed, deadly = [], []
    for number, upload in enumerate(uploads):
        if number in killers and upload.ticket_id:
            document = json.loads(upload.body)
            document["subject"] = f"{KILLER} {document.get('subject', '')}"
            upload = Upload(upload.key, json.dumps(document).encode(), upload.ticket_id)
            deadly.append(upload)
        changed.append(upload)
    return changed, deadly


def run_once(rig: Rig, artifacts: Path, config: CrashLoopConfig, variant: str, workdir: Path,
             scenario: str = "crash-loop") -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    journal = workdir / "journal.jsonl"
    env = worker_env(rig.env, rig.settings, artifacts, TICKET_ENRICH_PROFILE=config.profile,
                     TICKET_ENRICH_THREADS=str(config.threads), TICKET_ENRICH_HTTP_PORT="0", **VARIANTS[variant])
    command = [sys.executable, "-m", "tools.journaled_worker", "--journal", str(journal),
               *(["--die-on", KILLER] if scenario == "poison" else []), "--"]
    starts = 0

    def start() -> tuple[subprocess.Popen[bytes], Path]:
        nonlocal starts
        starts += 1
        log = workdir / f"worker-{starts:03d}.log"
        return start_worker(env, log, command), log

    workers = [start() for _ in range(config.workers)]
    for process, log in workers:
        wait_logged_ready(process, log)
    count = config.tickets if scenario == "crash-loop" else config.poison_tickets
    uploads, killers = with_killers(make_uploads(count, f"CL-{variant}-{int(time.time()) % 100000}"),
                                    config.killers if scenario == "poison" else 0)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:  # all at once, while the crash loop begins
        uploading = pool.map(lambda u: put(rig, u), uploads)
        phases: Counter[str] = Counter()
        held: list[int] = []  # messages the killed worker had received and not deleted
        for _ in range(config.kills if scenario == "crash-loop" else 0):
            process, log = workers[0]
            if config.from_ready:  # on a loaded machine start-up alone can take the 4 s
                wait_logged_ready(process, log)
            time.sleep(config.every_s)
            process.send_signal(signal.SIGKILL)
            process.wait()
            lines = read_journal(journal)
            phases[phase_at_kill(process.pid, lines, log)] += 1
            mine = [line for line in lines if line["pid"] == process.pid]
            held.append(sum(line["n"] for line in mine if line["op"] == "sqs.ReceiveMessage")
                        - sum(line["n"] for line in mine if line["op"] == "sqs.DeleteMessageBatch"))
            workers[0] = start()
        list(uploading)
    deadline = time.monotonic() + config.drain_timeout_s
    restarts = 0
    while any(queue_depth(rig.clients.sqs, rig.settings.queue_name).values()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"not drained within {config.drain_timeout_s:.0f} s; see {workdir}")
        for number, (process, _) in enumerate(workers):  # a worker that died is restarted, as its pod would be
            if process.poll() is not None:
                restarts += 1
                workers[number] = start()
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    for process, _ in workers:
        process.send_signal(signal.SIGTERM)
    for process, _ in workers:
        process.wait(timeout=120)
    found = records(rig.clients, rig.settings)
    counts = Counter(int(item.get("receive_count", {}).get("N", "1")) for item in found.values())
    lines = read_journal(journal)
    harmless = [u for u in uploads if u not in killers]
    result = account(rig, harmless)  # the killers belong in the DLQ: counted apart
    return {
        "scenario": scenario, "variant": variant, "dlq_valid": result.dlq_good, "killers": len(killers),
        "restarts": restarts, "dlq_total": result.dlq_total, "lost": len(result.lost),
        "records": result.records, "records_by_receive_count": {str(k): v for k, v in sorted(counts.items())},
        "records_received_3_or_more": sum(v for k, v in counts.items() if k >= 3),
        "messages_received": sum(line["n"] for line in lines if line["op"] == "sqs.ReceiveMessage"),
        "kill_phases": dict(phases), "held_at_kills": held, "held_total": sum(held),
        "elapsed_s": round(elapsed, 1), "loadavg": machine_load()["loadavg"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scenarios", default="crash-loop,poison", help="comma-separated: crash-loop, poison")
    parser.add_argument("--variants", default="before,after", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--profile", default="full", choices=["offline", "full"])
    parser.add_argument("--from-start", action="store_true", help="count the 4 s from the process start")
    parser.add_argument("--artifacts", type=Path, default=REPO / "build" / "test-artifacts")
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "reliability" / "crashloop")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "reliability" / "crashloop.json")
    args = parser.parse_args(argv)
    config = CrashLoopConfig(profile=args.profile, from_ready=not args.from_start)
    scenarios, variants = args.scenarios.split(","), args.variants.split(",")
    runs: list[dict[str, Any]] = []
    workdir = args.workdir / time.strftime("%Y%m%d-%H%M%S")
    for round_number in range(args.rounds):
        for scenario in scenarios:
            for variant in variants:  # interleaved, so machine load falls on every variant alike
                name = f"{round_number}-{scenario}-{variant}"
                rig = open_rig(workdir / f"moto-{name}", config.visibility_timeout)
                try:
                    run = run_once(rig, args.artifacts.resolve(), config, variant, workdir / name, scenario)
                finally:
                    rig.close()
                runs.append(run)
                print(f"round {round_number + 1} {scenario:<10} {variant:<10} valid tickets in the DLQ {run['dlq_valid']} "
                      f"(DLQ {run['dlq_total']}, {run['killers']} killers), by receive count "
                      f"{run['records_by_receive_count']}, messages held at the kills {run['held_at_kills']}, kills "
                      f"{run['kill_phases']}, restarts {run['restarts']}, {run['elapsed_s']} s, load {run['loadavg']}",
                      flush=True)
    summary: dict[str, Any] = {"config": asdict(config), "command": "python -m tools.crashloop " + " ".join(
        sys.argv[1:] if argv is None else argv), "runs": runs, "results": {}}
    for scenario in scenarios:
        for variant in variants:
            mine = [r for r in runs if r["variant"] == variant and r["scenario"] == scenario]
            v = summary["results"][f"{scenario}/{variant}"] = {
                "scenario": scenario, "variant": variant, "settings": VARIANTS[variant], "runs": len(mine),
                "dlq_valid": [r["dlq_valid"] for r in mine], "dlq_valid_total": sum(r["dlq_valid"] for r in mine),
                "received_3_or_more": [r["records_received_3_or_more"] for r in mine],
                "messages_received_median": statistics.median(r["messages_received"] for r in mine),
                "held_at_kills": [r["held_total"] for r in mine], "restarts": [r["restarts"] for r in mine],
                "lost": sum(r["lost"] for r in mine)}
            print(f"{scenario:<10} {variant:<10} valid tickets dead-lettered per run {v['dlq_valid']} "
                  f"(total {v['dlq_valid_total']}); records received 3+ times {v['received_3_or_more']}; messages held "
                  f"by killed workers {v['held_at_kills']}; restarts {v['restarts']}; lost {v['lost']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"summary: {args.out}")
    # Without the guards tickets are expected to be dead-lettered (that is the finding); with both, none may be.
    return 0 if all(r["lost"] == 0 for r in runs if r["variant"] == "after") else 1


if __name__ == "__main__":
    sys.exit(main())
