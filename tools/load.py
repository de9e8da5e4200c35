"""Load: a sustained, bounded run of one `ticket-enrich worker` against the emulator, fed in
waves (moto slows down on very deep queues, so the next wave goes in when the backlog is low).
Measures tickets/min, end-to-end latency from the start of each upload to its record
(`enriched_at`, stamped just before the DynamoDB write), the worker's RSS over time, and that
the backlog drains with nothing lost.

    python -m tools.load [--tickets 2000] [--wave 200] [--artifacts DIR]   (make load)
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from tools.rig import (
    Rig,
    account,
    add_run_arguments,
    drive,
    machine_load,
    make_uploads,
    percentile,
    put,
    record_count,
    records,
    start_worker,
    worker_env,
)
from worker.emulator import free_port
from worker.resources import queue_depth

MIB = 1024 * 1024


@dataclass(frozen=True)
class LoadConfig:
    tickets: int = 2000
    wave: int = 200
    low_water: int = 50  # the next wave is uploaded once fewer messages than this are waiting
    sample_every_s: float = 1.0
    visibility_timeout: int = 120
    timeout_s: float = 3600.0
    profile: str = "offline"


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every_s: float):
        super().__init__(name="rss-sampler", daemon=True)
        self.process = psutil.Process(pid)
        self.every_s = every_s
        self.samples: list[tuple[float, int]] = []  # (time.time(), rss bytes)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.samples.append((time.time(), self.process.memory_info().rss))
            except psutil.Error:
                return
            self.done.wait(self.every_s)


def wait_ready(url: str, process: subprocess.Popen, limit_s: float = 180.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited with code {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the worker was not ready in time")


def scrape(url: str) -> dict[str, float]:
    """The metrics this report uses, from /metrics: per-outcome ticket counts and per-stage seconds."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    wanted = re.compile(r'^(ticket_enrich_tickets_total\{outcome="\w+"\}|ticket_enrich_stage_seconds_sum\{stage="\w+"\}|'
                        r"ticket_enrich_batches_total) (\S+)$", re.M)
    return {name: float(value) for name, value in wanted.findall(text)}


def rss_figures(samples: list[tuple[float, int]], warm_from: float) -> dict[str, Any]:
    """RSS once warm (after the first record): first and last tenth of the run, peak, drift."""
    warm = [(t, rss) for t, rss in samples if t >= warm_from] or samples
    tenth = max(len(warm) // 10, 1)
    first = sum(rss for _, rss in warm[:tenth]) / tenth / MIB
    last = sum(rss for _, rss in warm[-tenth:]) / tenth / MIB
    start = warm[0][0]
    step = max(len(warm) // 12, 1)
    return {"samples": len(samples), "at_ready_mib": round(samples[0][1] / MIB, 1) if samples else None,
            "first_tenth_mib": round(first, 1), "last_tenth_mib": round(last, 1),
            "peak_mib": round(max(rss for _, rss in warm) / MIB, 1), "drift_mib": round(last - first, 1),
            "drift_pct": round((last - first) / first * 100, 1) if first else None,
            "timeline_mib": [[round(t - start), round(rss / MIB, 1)] for t, rss in warm[::step]]}


def run_load(rig: Rig, artifacts: Path, config: LoadConfig, workdir: Path,
             say: Callable[[str], None] = print) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = worker_env(rig.env, rig.settings, artifacts, TICKET_ENRICH_PROFILE=config.profile,
                     TICKET_ENRICH_HTTP_PORT=str(port))
    uploads = make_uploads(config.tickets, f"LD-{int(time.time()) % 100000}")
    load_before = machine_load()
    log = workdir / "worker.log"
    process = start_worker(env, log)
    sampler = RssSampler(process.pid, config.sample_every_s)
    try:
        wait_ready(base, process)
        sampler.start()
        uploaded: dict[str, float] = {}
        deadline = time.monotonic() + config.timeout_s
        for start in range(0, len(uploads), config.wave):
            while queue_depth(rig.clients.sqs, rig.settings.queue_name)["visible"] >= config.low_water:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the backlog did not come down; see {log}")
                time.sleep(0.5)
            for item in uploads[start:start + config.wave]:
                uploaded[item.ticket_id] = put(rig, item)
            say(f"wave {start // config.wave + 1}: {min(start + config.wave, len(uploads))} of {len(uploads)} uploaded")
        count = 0
        while count < len(uploads):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{count} of {len(uploads)} records after the time limit; see {log}")
            time.sleep(2.0)
            count = record_count(rig)
        drained_at = time.time()
        metrics = scrape(base)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            code = None
        sampler.done.set()
    found = records(rig.clients, rig.settings)
    recorded = {t: datetime.fromisoformat(item["enriched_at"]["S"].replace("Z", "+00:00")).timestamp()
                for t, item in found.items()}
    latencies = [recorded[t] - uploaded[t] for t in uploaded if t in recorded]
    first_upload, last_record = min(uploaded.values()), max(recorded.values())
    stages = {k.split('"')[1]: round(v, 1) for k, v in metrics.items() if k.startswith("ticket_enrich_stage_seconds_sum")}
    result = account(rig, uploads)
    return {
        "config": asdict(config),
        "ok": result.ok and code == 0,
        "account": result.to_dict(),
        "worker_exit_code": code,
        "tickets_per_min": round(len(latencies) / (last_record - first_upload) * 60, 1),
        "latency_s": {"p50": round(percentile(latencies, 50), 2), "p90": round(percentile(latencies, 90), 2),
                      "p99": round(percentile(latencies, 99), 2), "max": round(max(latencies), 2)},
        "duration_s": round(drained_at - first_upload, 1),
        "rss": rss_figures(sampler.samples, warm_from=min(recorded.values())),
        "outcomes": {k.split('"')[1]: int(v) for k, v in metrics.items() if k.startswith("ticket_enrich_tickets_total")},
        "batches": int(metrics.get("ticket_enrich_batches_total", 0)),
        "stage_seconds": stages,
        "machine": {"before": load_before, "after": machine_load()},
    }


def report(summary: dict[str, Any]) -> str:
    a, lat, rss = summary["account"], summary["latency_s"], summary["rss"]
    stages = summary["stage_seconds"]
    io = sum(stages.get(s, 0) for s in ("receive", "fetch", "dedupe", "write", "delete"))
    return "\n".join([
        f"tickets               {a['tickets']} in waves of {summary['config']['wave']}; {a['records']} records "
        f"({a['enriched']} enriched); lost {a['lost']}, duplicated {a['duplicated']}, DLQ {a['dlq_total']}",
        f"throughput            {summary['tickets_per_min']} tickets/min over {summary['duration_s']} s "
        f"({summary['batches']} batches)",
        f"upload -> record      p50 {lat['p50']} s, p90 {lat['p90']} s, p99 {lat['p99']} s, max {lat['max']} s",
        f"worker RSS            {rss['first_tenth_mib']} MiB (first tenth) -> {rss['last_tenth_mib']} MiB (last tenth), "
        f"peak {rss['peak_mib']} MiB, drift {rss['drift_mib']} MiB ({rss['drift_pct']} %)",
        f"batch time            enrich {stages.get('enrich', 0)} s, AWS I/O {round(io, 1)} s",
        f"backlog at the end    {a['queue']}; worker exit code {summary['worker_exit_code']}",
        f"machine               load average before {summary['machine']['before']['loadavg']}, "
        f"after {summary['machine']['after']['loadavg']} on {summary['machine']['before']['cpus']} CPUs",
        "RESULT                " + ("PASS" if summary["ok"] else "FAIL"),
    ])


def main(argv: list[str] | None = None) -> int:
    defaults = LoadConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=defaults.tickets)
    parser.add_argument("--wave", type=int, default=defaults.wave)
    parser.add_argument("--low-water", type=int, default=defaults.low_water)
    add_run_arguments(parser, "load")
    args = parser.parse_args(argv)
    config = LoadConfig(tickets=args.tickets, wave=args.wave, low_water=args.low_water, profile=args.profile)
    return drive(args, "load", config.visibility_timeout,
                 lambda rig, artifacts, workdir: run_load(rig, artifacts, config, workdir), report, argv)


if __name__ == "__main__":
    sys.exit(main())
