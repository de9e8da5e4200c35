"""What the long-run drivers (chaos.py, load.py) share, in pieces a new driver can reuse: a
private emulator with freshly named resources (`open_rig`), the tickets they upload
(`make_uploads`, `put`), worker processes (`worker_env`, `start_worker`, `wait_logged_ready`),
reading back what happened (`records`, `record_count`, `object_keys`, `drain_dlq`, `log_lines`)
and the final account of what became of every ticket (`account`).

The drivers always start their own moto server on a free 127.0.0.1 port (or use --endpoint if
given): they never touch the resources of `make aws-up` or of real AWS by accident."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3

from worker import emulator as emu
from worker import resources
from worker.aws import AwsClients
from worker.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "tickets"
TICKET_ENRICH = str(Path(sys.executable).with_name("ticket-enrich"))


@dataclass
class Rig:
    clients: AwsClients
    settings: Settings
    env: dict[str, str]  # the standard AWS variables pointing at the endpoint
    emulator: emu.Emulator | None = None

    def close(self) -> None:
        if self.emulator is not None:
            emu.stop_pid(self.emulator.pid)


def open_rig(workdir: Path, visibility_timeout: int, extend_every: float | None = None,
             endpoint: str | None = None) -> Rig:
    """Start moto (unless `endpoint`), point this process's AWS environment at it, create resources."""
    server = None if endpoint else emu.start(workdir / "moto", emu.free_port())
    env = {"AWS_ENDPOINT_URL": endpoint or server.url, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(env)
    clients = AwsClients.from_session(boto3.Session())
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(queue=f"rel-{suffix}", raw_bucket=f"rel-raw-{suffix}", enriched_bucket=f"rel-enriched-{suffix}",
                        table=f"rel-{suffix}", http_port=0, visibility_timeout=visibility_timeout,
                        visibility_extend_every=extend_every)
    resources.setup(clients, settings)
    return Rig(clients, settings, env, server)


# ---- worker processes --------------------------------------------------------------------


def worker_env(aws_env: dict[str, str], settings: Settings, artifacts: Path, **extra: str) -> dict[str, str]:
    """The environment of a `ticket-enrich worker` on these resources (extra: more variables)."""
    env = {**os.environ, **aws_env,
           "TICKET_ENRICH_ARTIFACTS": str(artifacts), "TICKET_ENRICH_QUEUE": settings.queue,
           "TICKET_ENRICH_RAW_BUCKET": settings.raw_bucket, "TICKET_ENRICH_ENRICHED_BUCKET": settings.enriched_bucket,
           "TICKET_ENRICH_TABLE": settings.table, "TICKET_ENRICH_HTTP_PORT": str(settings.http_port),
           "TICKET_ENRICH_VISIBILITY_TIMEOUT": str(settings.visibility_timeout), **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def start_worker(env: dict[str, str], log: Path, command: list[str] | None = None) -> subprocess.Popen[bytes]:
    """A worker in its own process (default `ticket-enrich worker`), stdout and stderr to `log`."""
    with open(log, "wb") as handle:
        return subprocess.Popen(command or [TICKET_ENRICH, "worker"], env=env, stdout=handle,
                                stderr=subprocess.STDOUT, cwd=REPO)


def log_lines(log: Path) -> list[dict[str, Any]]:
    """The JSON lines of a worker's log (anything else in it is skipped)."""
    lines = []
    for raw in log.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            continue
    return lines


def wait_logged_ready(process: subprocess.Popen[bytes], log: Path, limit_s: float = 120.0) -> None:
    """Return once the worker has logged "worker ready" (models loaded, queue found; an INFO line)
    or it exited; RuntimeError if neither happened within `limit_s` (a log level above INFO hides
    the line: do not wait for nothing)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and process.poll() is None:
        if any(line.get("msg") == "worker ready" for line in log_lines(log)):
            return
        time.sleep(0.05)
    if process.poll() is None:
        raise RuntimeError(f"no 'worker ready' in {log} after {limit_s:.0f} s")


# ---- tickets in, records out --------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    key: str
    body: bytes
    ticket_id: str | None  # None: a malformed ticket, which must end as a rejection record


def make_uploads(count: int, run: str, bad_every: int = 0) -> list[Upload]:
    """`count` tickets from the shipped samples under fresh ids; every `bad_every`-th one is one of
    the shipped malformed samples instead."""
    good = [json.loads(path.read_text()) for path in sorted(SAMPLES.glob("TKT-*.json"))]
    bad = [path.read_bytes() for path in sorted(SAMPLES.glob("malformed-*.json"))]
    uploads = []
    for i in range(count):
        if bad_every and i % bad_every == bad_every - 1:
            uploads.append(Upload(f"{run}/bad-{i:05d}.json", bad[(i // bad_every) % len(bad)], None))
        else:
            ticket_id = f"{run}-{i:05d}"
            document = {**good[i % len(good)], "ticket_id": ticket_id}
            uploads.append(Upload(f"{run}/{i:05d}.json", json.dumps(document).encode(), ticket_id))
    return uploads


def put(rig: Rig, upload: Upload) -> float:
    """Upload one ticket; returns the time the upload started (the start of its end-to-end latency)."""
    started = time.time()
    rig.clients.s3.put_object(Bucket=rig.settings.raw_bucket, Key=upload.key, Body=upload.body)
    return started


def records(clients: AwsClients, settings: Settings) -> dict[str, dict[str, Any]]:
    """Every record in the table, by ticket_id, as DynamoDB attribute values."""
    items = resources._scan(clients.dynamodb, settings.table)
    return {item["ticket_id"]["S"]: item for item in items}


def record_count(rig: Rig) -> int:
    """Records in the table (a scan returns at most 1 MB per page, so every page is counted)."""
    pages = rig.clients.dynamodb.get_paginator("scan").paginate(TableName=rig.settings.table, Select="COUNT")
    return sum(page["Count"] for page in pages)


def object_keys(clients: AwsClients, bucket: str) -> list[str]:
    return resources._keys(clients.s3, bucket)


def drain_dlq(rig: Rig) -> list[str]:
    """Every message body in the dead-letter queue (received, so they are counted once)."""
    url = rig.clients.sqs.get_queue_url(QueueName=rig.settings.dlq_name)["QueueUrl"]
    bodies: list[str] = []
    while True:
        got = rig.clients.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600,
                                              WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return bodies
        bodies += [m["Body"] for m in got]


@dataclass
class Account:
    """What became of every uploaded ticket."""

    tickets: int
    good: int
    malformed: int
    records: int
    enriched: int
    rejected: int
    lost: list[str] = field(default_factory=list)  # uploaded, with no record of the right kind
    duplicated: list[str] = field(default_factory=list)  # a record nobody uploaded, or one written twice
    missing_objects: list[str] = field(default_factory=list)
    dlq_total: int = 0
    dlq_good: int = 0  # DLQ messages naming a good ticket
    redelivered: int = 0  # records whose message had been received more than once
    queue: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.missing_objects or self.dlq_good) and not any(self.queue.values())

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lost": len(self.lost), "duplicated": len(self.duplicated), "ok": self.ok,
                "lost_examples": self.lost[:10], "duplicated_examples": self.duplicated[:10]}


def account(rig: Rig, uploads: list[Upload], written_twice: list[str] = ()) -> Account:
    raw = rig.settings.raw_bucket
    found = records(rig.clients, rig.settings)
    good = {u.ticket_id for u in uploads if u.ticket_id}
    rejected = {f"rejected:s3://{raw}/{u.key}" for u in uploads if u.ticket_id is None}
    lost = sorted(t for t in good if found.get(t, {}).get("status", {}).get("S") != "enriched")
    lost += sorted(k for k in rejected if found.get(k, {}).get("status", {}).get("S") != "rejected")
    duplicated = sorted(set(found) - good - rejected) + sorted(written_twice)
    objects = set(object_keys(rig.clients, rig.settings.enriched_bucket))
    dlq = drain_dlq(rig)
    good_keys = {u.key for u in uploads if u.ticket_id}
    dlq_good = sum(1 for body in dlq if _event_keys(body) & good_keys)
    return Account(
        tickets=len(uploads), good=len(good), malformed=len(rejected), records=len(found),
        enriched=sum(1 for item in found.values() if item["status"]["S"] == "enriched"),
        rejected=sum(1 for item in found.values() if item["status"]["S"] == "rejected"),
        lost=lost, duplicated=duplicated, missing_objects=sorted(t for t in good if f"{t}.json" not in objects),
        dlq_total=len(dlq), dlq_good=dlq_good,
        redelivered=sum(1 for item in found.values() if int(item.get("receive_count", {}).get("N", "1")) > 1),
        queue=resources.queue_depth(rig.clients.sqs, rig.settings.queue_name),
    )


def _event_keys(body: str) -> set[str]:
    try:
        document = json.loads(body)
        return {unquote_plus(r["s3"]["object"]["key"]) for r in document.get("Records", [])}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        return set()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def machine_load() -> dict[str, Any]:
    one, five, fifteen = os.getloadavg()
    return {"loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)], "cpus": os.cpu_count()}


def add_run_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """The options every driver has: profile, artifacts, where its files go, an endpoint."""
    parser.add_argument("--profile", default="offline", choices=["offline", "full"])
    parser.add_argument("--artifacts", type=Path, default=REPO / "build" / "test-artifacts")
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "reliability" / name,
                        help="worker logs (and journal) go to a timestamped folder under it")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "reliability" / f"{name}.json")
    parser.add_argument("--endpoint", help="an AWS endpoint to use instead of a private moto server")


def drive(args: argparse.Namespace, script: str, visibility_timeout: int,
          run: Callable[[Rig, Path, Path], dict[str, Any]], report: Callable[[dict[str, Any]], str],
          argv: list[str] | None) -> int:
    """Open a rig, run, close it; write the JSON summary (with its command) and print the report.
    Exit status 0 when the run's verdict is ok."""
    workdir = args.workdir / time.strftime("%Y%m%d-%H%M%S")
    workdir.mkdir(parents=True, exist_ok=True)
    rig = open_rig(workdir, visibility_timeout, endpoint=args.endpoint)
    try:
        summary = run(rig, args.artifacts.resolve(), workdir)
    finally:
        rig.close()
    summary["command"] = f"python -m tools.{script} " + " ".join(sys.argv[1:] if argv is None else argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(report(summary))
    print(f"summary: {args.out}; worker logs: {workdir}")
    return 0 if summary["ok"] else 1
