"""Helpers for the worker's integration tests: tickets, uploads, and running a worker in-process
or as `ticket-enrich worker` in a subprocess. Reading back records and objects, and a worker's
environment and log, are tools/rig.py's (the reliability drivers use them too)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from worker.app import build_worker, poll_settings
from worker.aws import AwsClients
from worker.engine import Engine
from worker.loop import RunStats
from worker.metrics import WorkerMetrics
from worker.settings import Settings

REPO = Path(__file__).resolve().parents[2]
HOOKED_WORKER = Path(__file__).with_name("hooked_worker.py")
RUN_LIMIT_S = 90  # an in-process worker that has not drained by then is stopped, and the test fails


def ticket(ticket_id: str, text: str = "I was charged twice this month, please refund the duplicate payment.",
           **extra: Any) -> bytes:
    return json.dumps({"ticket_id": ticket_id, "subject": "Billing problem", "body": text, **extra}).encode()


def upload(clients: AwsClients, settings: Settings, key: str, body: bytes) -> None:
    clients.s3.put_object(Bucket=settings.raw_bucket, Key=key, Body=body)


def queue_url(clients: AwsClients, name: str) -> str:
    return clients.sqs.get_queue_url(QueueName=name)["QueueUrl"]


def run_worker(settings: Settings, engine: Engine, clients: AwsClients,
               **poll: Any) -> tuple[RunStats, WorkerMetrics]:
    """A worker in this process until the queue is drained (`--until-empty`), with these clients.
    Its first receive takes up to 10 messages, as every later one (no slow start: the tests of
    this suite reason about whole batches; test_crash_loop_guards.py tests the slow start)."""
    metrics, stats = WorkerMetrics(), RunStats(keep_rows=True)
    with ThreadPoolExecutor(max_workers=4) as pool:
        worker = build_worker(settings, clients, engine, pool,
                              poll_settings(settings, until_empty=True,
                                            **{"empty_wait_seconds": 1, "first_batch": 10, **poll}),
                              metrics=metrics, stats=stats)
        watchdog = threading.Timer(RUN_LIMIT_S, worker.request_stop)
        watchdog.start()
        try:
            worker.run()
        finally:
            watchdog.cancel()
    assert not worker.stop_event.is_set(), f"the worker did not drain the queue within {RUN_LIMIT_S} s"
    return stats, metrics


def start_hooked_worker(env: dict[str, str], marker: Path, slow: str, log: Path) -> subprocess.Popen:
    """`ticket-enrich worker` in a subprocess whose clients are slowed by a botocore hook."""
    handle = open(log, "wb")  # noqa: SIM115 - closed with the process by the caller's wait
    return subprocess.Popen([sys.executable, str(HOOKED_WORKER), "--slow", slow, "--marker", str(marker), "--"],
                            env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO)

