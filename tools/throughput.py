"""Throughput against worker count on this machine: 1 worker x 1 thread, 2 workers x 1 thread
and 1 worker x 2 threads (`TICKET_ENRICH_THREADS`), each with the full and the offline profile,
the configurations interleaved and repeated, medians reported. From it, the per-pod figure that
sets `queueLength` in k8s/components/keda/scaledobject.yaml: a pod is 2 CPUs and runs 2 threads
(the Deployment derives TICKET_ENRICH_THREADS from its CPU limit), so it is the "1 worker x 2
threads" figure of the profile the manifests deploy (full), times the queueing delay accepted.

    python -m tools.throughput [--artifacts build/full-artifacts] [--rounds 3]   (make throughput)

The figure that sets queueLength is the wall-clock median, measured where the worker has its CPUs
to itself, as a Guaranteed pod has (a quiet node; the build machine's 2 cores are shared with
other engineers' work, so run it in a quiet window). The CPU-normalised column (tickets per
CPU-second of the workers, onnxruntime's threads included, times the CPUs the configuration is
meant to have) is an upper bound that does not depend on the machine's load: a worker does not
turn every CPU-second into tickets (it waits for S3, SQS and DynamoDB).
Each run: a private moto server, the workers started and ready (batches of 10 from the first:
the steady state, no slow start), then `--tickets` shipped sample tickets uploaded at once;
throughput = records / (last record's enriched_at - first upload).
The worker's S3, SQS and DynamoDB calls are inside that time (against moto on this host).
Writes build/reliability/throughput.json.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from tools.rig import (
    REPO,
    machine_load,
    make_uploads,
    open_rig,
    put,
    record_count,
    records,
    start_worker,
    wait_logged_ready,
    worker_env,
)

CONFIGS = {"1x1": (1, 1), "2x1": (2, 1), "1x2": (1, 2)}  # name: (workers, threads each)
NAMES = {"1x1": "1 worker x 1 thread", "2x1": "2 workers x 1 thread", "1x2": "1 worker x 2 threads"}
POD = "1x2"  # what a 2-CPU pod runs
DELAY_S = 30  # the queueing delay per pod the manifest accepts (docs/DEPLOY.md, "How it scales")


def run_once(artifacts: Path, profile: str, config: str, tickets: int, workdir: Path) -> dict[str, Any]:
    workers, threads = CONFIGS[config]
    workdir.mkdir(parents=True, exist_ok=True)
    rig = open_rig(workdir, visibility_timeout=300)
    try:
        env = worker_env(rig.env, rig.settings, artifacts, TICKET_ENRICH_PROFILE=profile,
                         TICKET_ENRICH_THREADS=str(threads), TICKET_ENRICH_HTTP_PORT="0",
                         TICKET_ENRICH_FIRST_BATCH="10")  # steady state (INFO: "worker ready" is what the run waits for)
        processes = [(start_worker(env, workdir / f"worker-{i}.log"), workdir / f"worker-{i}.log") for i in range(workers)]
        try:
            for process, log in processes:
                wait_logged_ready(process, log, limit_s=300)
                if process.poll() is not None:
                    raise RuntimeError(f"a worker exited with code {process.returncode}; see {log}")
            uploads = make_uploads(tickets, f"TP-{config}-{int(time.time()) % 100000}")
            load_before = machine_load()
            cpu_before = cpu_seconds([p for p, _ in processes])
            with ThreadPoolExecutor(8) as pool:
                started = min(pool.map(lambda u: put(rig, u), uploads))
            deadline = time.monotonic() + 3600
            while record_count(rig) < tickets:
                if time.monotonic() > deadline or any(p.poll() is not None for p, _ in processes):
                    raise RuntimeError(f"the run did not finish; see {workdir}")
                time.sleep(1.0)
            cpu = cpu_seconds([p for p, _ in processes]) - cpu_before
        finally:
            for process, _ in processes:
                process.send_signal(signal.SIGTERM)
            for process, _ in processes:
                process.wait(timeout=300)
        stamps = [datetime.fromisoformat(item["enriched_at"]["S"].replace("Z", "+00:00")).timestamp()
                  for item in records(rig.clients, rig.settings).values()]
    finally:
        rig.close()
    seconds = max(stamps) - started
    return {"profile": profile, "config": config, "tickets": tickets, "seconds": round(seconds, 2),
            "tickets_per_s": round(tickets / seconds, 3), "cpu_seconds": round(cpu, 1),
            # What the same work needs of CPUs it has to itself: tickets per CPU-second, times the
            # CPUs the configuration is meant to have (a thread each).
            "dedicated_tickets_per_s": round(tickets / cpu * workers * threads, 3),
            "cpu_share": round(cpu / seconds / (workers * threads), 2), "loadavg_before": load_before["loadavg"],
            "loadavg_after": machine_load()["loadavg"]}


def cpu_seconds(processes: list[Any]) -> float:
    """User + system CPU seconds of these processes so far (onnxruntime's threads included)."""
    total = 0.0
    for process in processes:
        times = psutil.Process(process.pid).cpu_times()
        total += times.user + times.system
    return total


def summarize(runs: list[dict[str, Any]], profiles: list[str], configs: list[str]) -> dict[str, Any]:
    table: dict[str, dict[str, Any]] = {}
    for profile in profiles:
        table[profile] = {}
        for config in configs:
            mine = [r for r in runs if r["profile"] == profile and r["config"] == config]
            if mine:
                rates = [r["tickets_per_s"] for r in mine]
                dedicated = [r["dedicated_tickets_per_s"] for r in mine]
                table[profile][config] = {
                    "median_tickets_per_s": round(statistics.median(rates), 3), "runs": rates,
                    "per_worker": round(statistics.median(rates) / CONFIGS[config][0], 3),
                    "median_dedicated_tickets_per_s": round(statistics.median(dedicated), 3),
                    "dedicated_runs": dedicated, "median_cpu_share": statistics.median(r["cpu_share"] for r in mine)}
    pod = table.get("full", {}).get(POD) or next(iter(table.values()), {}).get(POD)
    derivation = None
    if pod:
        rate = pod["median_tickets_per_s"]
        derivation = {"pod_tickets_per_s": rate, "delay_s": DELAY_S, "queue_length": max(1, math.floor(rate * DELAY_S)),
                      "profile": "full" if "full" in table and POD in table["full"] else profiles[0]}
    return {"table": table, "queue_length": derivation}


def report(summary: dict[str, Any]) -> str:
    lines = ["profile   configuration          median t/s   per worker   CPU share   on dedicated CPUs t/s   runs (t/s)"]
    for profile, rows in summary["table"].items():
        for config, row in rows.items():
            lines.append(f"{profile:<9} {NAMES[config]:<22} {row['median_tickets_per_s']:>10.2f}   "
                         f"{row['per_worker']:>10.2f}   {row['median_cpu_share']:>9.2f}   "
                         f"{row['median_dedicated_tickets_per_s']:>21.2f}   {row['runs']}")
    if d := summary["queue_length"]:
        lines.append(f"queueLength = {d['pod_tickets_per_s']:.2f} tickets/s per 2-CPU pod (wall clock; {d['profile']} "
                     f"profile, {NAMES[POD]}) x {d['delay_s']} s of accepted delay = {d['queue_length']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifacts", type=Path, default=REPO / "build" / "full-artifacts")
    parser.add_argument("--profiles", default="full,offline")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tickets", type=int, default=40, help="per run, full profile")
    parser.add_argument("--offline-tickets", type=int, default=300, help="per run, offline profile (it is faster)")
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "reliability" / "throughput")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "reliability" / "throughput.json")
    args = parser.parse_args(argv)
    profiles, configs = args.profiles.split(","), args.configs.split(",")
    workdir = args.workdir / time.strftime("%Y%m%d-%H%M%S")
    runs: list[dict[str, Any]] = []

    def write() -> dict[str, Any]:  # after every run: a long measurement stopped early keeps what it has
        summary = {"command": "python -m tools.throughput " + " ".join(sys.argv[1:] if argv is None else argv),
                   "artifacts": str(args.artifacts), "cpus": machine_load()["cpus"], "rounds_done": round_number + 1,
                   "runs": runs, **summarize(runs, profiles, configs)}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2))
        return summary

    for round_number in range(args.rounds):
        for profile in profiles:
            for config in configs:  # interleaved: the machine's load falls on every configuration alike
                tickets = args.tickets if profile == "full" else args.offline_tickets
                run = run_once(args.artifacts.resolve(), profile, config, tickets,
                               workdir / f"{round_number}-{profile}-{config}")
                runs.append(run)
                print(f"round {round_number + 1} {profile:<8} {NAMES[config]:<22} {run['tickets_per_s']:6.2f} t/s "
                      f"({run['tickets']} in {run['seconds']} s, {run['cpu_seconds']} CPU-s: {run['dedicated_tickets_per_s']} "
                      f"t/s on CPUs of its own; load {run['loadavg_before']})", flush=True)
                summary = write()
    print(report(summary))
    print(f"summary: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
