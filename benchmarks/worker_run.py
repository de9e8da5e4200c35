"""The worker itself, black box, against the AWS emulator over HTTP: tickets/min at the worker and
the share of its time spent in AWS I/O, with the full-size artifacts and default settings.

    python -m benchmarks.worker_run [--tickets 200] [--artifacts build/bench-artifacts]

Starts its own moto server (`python -m worker.emulator`) on a free port, creates the queue,
buckets and table (`ticket-enrich aws setup`), uploads the tickets (`ticket-enrich aws seed`; the
buckets' notifications put them on the queue), then starts `ticket-enrich worker` and times it
from ready (`/readyz`) until its `/metrics` count every ticket as enriched. The stage times come
from the same `/metrics` (`ticket_enrich_stage_seconds`): receive, fetch, dedupe, write and
delete are AWS I/O, validate and enrich are the worker's own work. Nothing of worker/ is imported.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.inputs import load_tickets
from benchmarks.settings import REPO

AWS_STAGES = ("receive", "fetch", "dedupe", "write", "delete")  # calls to S3, SQS, DynamoDB
STAGE_SUM = re.compile(r'^ticket_enrich_stage_seconds_sum\{stage="(?P<stage>[^"]+)"\} (?P<value>\S+)$')
ENRICHED = re.compile(r'^ticket_enrich_tickets_total\{outcome="enriched"\} (?P<value>\S+)$')
READY_TIMEOUT_S = 120
DRAIN_TIMEOUT_S = 1800


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def stage_seconds(metrics: str) -> dict[str, float]:
    return {m["stage"]: float(m["value"]) for line in metrics.splitlines() if (m := STAGE_SUM.match(line))}


def enriched_count(metrics: str) -> int:
    return sum(int(float(m["value"])) for line in metrics.splitlines() if (m := ENRICHED.match(line)))


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def write_tickets(folder: Path, count: int) -> None:
    """`count` tickets cycling through the benchmark's 64, each with its own id."""
    shipped = load_tickets()
    for index in range(count):
        ticket = dict(shipped[index % len(shipped)], ticket_id=f"BENCH-{index:05d}")
        (folder / f"{ticket['ticket_id']}.json").write_text(json.dumps(ticket))


def run(artifacts: Path, tickets: int, workdir: Path, env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    python, cli = sys.executable, str(Path(sys.executable).with_name("ticket-enrich"))
    aws_port, http_port = free_port(), free_port()
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{aws_port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "TICKET_ENRICH_ARTIFACTS": str(artifacts), "TICKET_ENRICH_HTTP_PORT": str(http_port),
           "TICKET_ENRICH_LOG_LEVEL": "WARNING", **(env_extra or {})}
    emulator = workdir / "emulator"
    subprocess.run([python, "-m", "worker.emulator", "up", "--port", str(aws_port), "--dir", str(emulator)],
                   cwd=REPO, env=env, check=True, capture_output=True)
    worker = None
    try:
        subprocess.run([cli, "aws", "setup"], cwd=REPO, env=env, check=True, capture_output=True)
        folder = workdir / "tickets"
        folder.mkdir()
        write_tickets(folder, tickets)
        subprocess.run([cli, "aws", "seed", str(folder)], cwd=REPO, env=env, check=True, capture_output=True)
        log = open(workdir / "worker.log", "wb")  # noqa: SIM115 - closed after the worker exits
        spawned = time.perf_counter()
        worker = subprocess.Popen([cli, "worker"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        while not ready(http_port):
            if worker.poll() is not None or time.perf_counter() - spawned > READY_TIMEOUT_S:
                raise RuntimeError(f"the worker did not become ready; see {workdir / 'worker.log'}")
            time.sleep(0.05)
        started = time.perf_counter()
        while (done := enriched_count(scrape(http_port))) < tickets:
            if worker.poll() is not None or time.perf_counter() - started > DRAIN_TIMEOUT_S:
                raise RuntimeError(f"the worker enriched {done} of {tickets}; see {workdir / 'worker.log'}")
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        stages = stage_seconds(scrape(http_port))
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=120)
        subprocess.run([python, "-m", "worker.emulator", "down", "--dir", str(emulator)], cwd=REPO, env=env,
                       capture_output=True)
    busy = sum(stages.values())
    aws = sum(stages.get(stage, 0.0) for stage in AWS_STAGES)
    return {"tickets": tickets, "start_s": round(started - spawned, 3), "drain_s": round(elapsed, 3),
            "tickets_per_min": round(60.0 * tickets / elapsed, 1),
            "stage_seconds": {k: round(v, 3) for k, v in sorted(stages.items())},
            "aws_io_share": round(aws / busy, 4) if busy else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=REPO / "build" / "bench-artifacts")
    parser.add_argument("--tickets", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="worker-bench-") as tmp:
        print(json.dumps(run(args.artifacts.resolve(), args.tickets, Path(tmp)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
