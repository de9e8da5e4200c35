"""Helpers for the worker's integration tests: tickets, uploads, reading back records and
objects, and running a worker in-process or as `ticket-enrich worker` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from worker import resources
from worker.app import build_worker, poll_settings
from worker.aws import AwsClients
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


def records(clients: AwsClients, settings: Settings) -> dict[str, dict[str, Any]]:
    items = resources._scan(clients.dynamodb, settings.table)
    return {item["ticket_id"]["S"]: item for item in items}


def object_keys(clients: AwsClients, bucket: str) -> list[str]:
    return resources._keys(clients.s3, bucket)


def run_worker(settings: Settings, enricher: Any, clients: AwsClients,
               **poll: Any) -> tuple[RunStats, WorkerMetrics]:
    """A worker in this process until the queue is drained (`--until-empty`), with these clients."""
    metrics, stats = WorkerMetrics(), RunStats(keep_rows=True)
    with ThreadPoolExecutor(max_workers=4) as pool:
        worker = build_worker(settings, clients, enricher, pool,
                              poll_settings(settings, until_empty=True, **{"empty_wait_seconds": 1, **poll}),
                              metrics=metrics, stats=stats)
        watchdog = threading.Timer(RUN_LIMIT_S, worker.request_stop)
        watchdog.start()
        try:
            worker.run()
        finally:
            watchdog.cancel()
    assert not worker.stop_event.is_set(), f"the worker did not drain the queue within {RUN_LIMIT_S} s"
    return stats, metrics


def worker_env(aws_env: dict[str, str], settings: Settings, artifacts: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, **aws_env,
           "TICKET_ENRICH_ARTIFACTS": str(artifacts), "TICKET_ENRICH_QUEUE": settings.queue,
           "TICKET_ENRICH_RAW_BUCKET": settings.raw_bucket, "TICKET_ENRICH_ENRICHED_BUCKET": settings.enriched_bucket,
           "TICKET_ENRICH_TABLE": settings.table, "TICKET_ENRICH_HTTP_PORT": str(settings.http_port),
           "TICKET_ENRICH_VISIBILITY_TIMEOUT": str(settings.visibility_timeout), **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def start_hooked_worker(env: dict[str, str], marker: Path, slow: str, log: Path) -> subprocess.Popen:
    """`ticket-enrich worker` in a subprocess whose clients are slowed by a botocore hook."""
    handle = open(log, "wb")  # noqa: SIM115 - closed with the process by the caller's wait
    return subprocess.Popen([sys.executable, str(HOOKED_WORKER), "--slow", slow, "--marker", str(marker), "--"],
                            env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO)


def log_lines(log: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in log.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            continue
    return lines

