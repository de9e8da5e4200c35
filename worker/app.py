"""Wiring: settings + AWS clients + an engine (the runtime's Enricher) -> a running Worker, its HTTP probes and its report.

`serve` is what `ticket-enrich worker` runs; `build_worker` is the same assembly without the
process concerns (signals, HTTP, model loading), for callers that run a worker in-process.
"""

from __future__ import annotations

import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TextIO

import boto3

from runtime.result import models_ref, short_provenance
from worker.aws import AwsClients, clients_from_environment, resolve_queue_url
from worker.batch import BatchProcessor, Destinations
from worker.engine import Engine
from worker.errors import AwsError
from worker.health import Health, HealthServer
from worker.loop import PollSettings, RunStats, Worker, install_signal_handlers
from worker.metrics import WorkerMetrics
from worker.report import print_report
from worker.settings import Settings
from worker.sqs import Queue
from worker.store import Objects, Records

if TYPE_CHECKING:
    from runtime import Enricher

log = logging.getLogger("worker.app")

IO_THREADS = 8  # S3 gets and S3/DynamoDB writes of one batch run side by side


def max_batch_seconds(settings: Settings) -> float:
    """A batch running longer than this is hung: its visibility is no longer extended and
    /healthz fails, so the messages go to another worker and this one is restarted."""
    return max(300.0, 3.0 * settings.visibility_timeout)


def port_taken_message(port: int, exc: OSError) -> str:
    """What to do when the probes' port cannot be bound: on a host running several workers each
    needs its own port (a pod has the port to itself)."""
    return (f"cannot listen on port {port} for /healthz, /readyz and /metrics ({exc.strerror or exc}): "
            "another worker (or program) on this host has it. Give each worker its own port with "
            "TICKET_ENRICH_HTTP_PORT=<free port> (or --http-port), or TICKET_ENRICH_HTTP_PORT=0 to serve no probes")


def poll_settings(settings: Settings, until_empty: bool = False, **overrides: Any) -> PollSettings:
    values: dict[str, Any] = {"visibility_timeout": settings.visibility_timeout,
                              "extend_every": settings.extend_every, "until_empty": until_empty,
                              "max_batch_seconds": max_batch_seconds(settings),
                              "gather_messages": settings.gather_messages, "gather_seconds": settings.gather_seconds,
                              "first_batch": settings.first_batch, "isolate_after": settings.isolate_after}
    return PollSettings(**{**values, **overrides})


def runtime_summary(enricher: Enricher) -> dict[str, Any]:
    """The runtime's description for the start-up log: each model as "name variant hash8", and the
    reference (`models_ref`) that every record and document carries; the full hashes are in those
    documents and in the artifacts' manifest."""
    return {**enricher.describe(), "models": short_provenance(enricher.models), "models_ref": models_ref(enricher.models)}


def build_worker(settings: Settings, clients: AwsClients, engine: Engine, pool: ThreadPoolExecutor,
                 poll: PollSettings, *, metrics: WorkerMetrics | None = None, health: Health | None = None,
                 stats: RunStats | None = None) -> Worker:
    metrics = metrics or WorkerMetrics()
    health = health or Health(stale_after=max_batch_seconds(settings))
    queue = Queue(clients.sqs, resolve_queue_url(clients.sqs, settings.queue), metrics)
    processor = BatchProcessor(Objects(clients.s3), Records(clients.dynamodb, settings.table), engine,
                               Destinations(settings.enriched_bucket), pool)
    metrics.set_runtime(variant=engine.variant, profile=engine.profile)
    return Worker(queue, processor, metrics, health, poll, stats)


def serve(settings: Settings, *, until_empty: bool = False, report: bool = False, session: boto3.Session | None = None,
          out: TextIO | None = None) -> int:
    """Load the models, poll until stopped (SIGTERM) or drained (`until_empty`); 0 on a clean stop."""
    from runtime import Enricher
    from runtime.errors import RuntimeArtifactError

    metrics = WorkerMetrics()
    health = Health(stale_after=max_batch_seconds(settings))
    try:
        server = HealthServer(settings.http_port, health, metrics.render).start() if settings.http_port else None
    except OSError as exc:
        log.error("cannot serve the probes", extra={"fields": {"error": port_taken_message(settings.http_port, exc)}})
        return 2
    try:
        try:
            clients = clients_from_environment(session)
        except AwsError as exc:
            log.error("cannot start", extra={"fields": {"error": str(exc)}})
            return 2
        try:
            enricher = Enricher.from_artifacts(settings.artifacts)
        except RuntimeArtifactError as exc:
            log.error("cannot load the models", extra={"fields": {"error": str(exc)}})
            return 2
        stats = RunStats(keep_rows=report)
        with ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="aws-io") as pool:
            try:
                worker = build_worker(settings, clients, enricher, pool, poll_settings(settings, until_empty),
                                      metrics=metrics, health=health, stats=stats)
            except AwsError as exc:
                log.error("cannot start", extra={"fields": {"error": str(exc)}})
                return 1
            log.info("worker ready", extra={"fields": {"settings": settings.describe(), "queue_url": worker.queue.url,
                                                       "runtime": runtime_summary(enricher)}})
            if threading.current_thread() is threading.main_thread():
                install_signal_handlers(worker)
            code = worker.run()
        log.info("worker stopped", extra={"fields": {"outcomes": stats.outcomes, "batches": stats.batches}})
        if report:
            print_report(stats, enriched_bucket=settings.enriched_bucket, table=settings.table,
                         endpoint=clients.s3.meta.endpoint_url, profile=enricher.profile,
                         variant=enricher.variant, out=out or sys.stdout)
        return code
    finally:
        if server is not None:
            server.stop()
