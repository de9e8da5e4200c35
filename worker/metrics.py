"""The worker's Prometheus metrics (prometheus_client), served on `/metrics`.

Each WorkerMetrics has its own registry: nothing is registered in the library's global default
registry, so two workers in one process (as in the tests) never share or clash. The registry
also carries the process collector (RSS, CPU seconds, open file descriptors). Names, labels and
meanings are a contract with dashboards and alerts: docs/WORKER.md lists them.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

# Seconds, for stage latencies: a few ms (an S3 get on the same host) to minutes (a long batch).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
BATCH_SIZE_BUCKETS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
# Seconds a message waited in the queue before this worker received it.
MESSAGE_AGE_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14_400, 86_400)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what `render` writes


class WorkerMetrics:
    """The worker's metrics, one registry per worker."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.tickets = Counter(
            "ticket_enrich_tickets_total",
            "Tickets by outcome: enriched, duplicate (already recorded), rejected, failed (left for redelivery).",
            ["outcome"], registry=registry,
        )
        self.messages = Counter(
            "ticket_enrich_messages_total",
            "SQS messages by outcome: deleted, retried (left for redelivery), skipped (test events).",
            ["outcome"], registry=registry,
        )
        self.batches = Counter("ticket_enrich_batches_total", "Batches received from SQS.", registry=registry)
        self.stage_seconds = Histogram(
            "ticket_enrich_stage_seconds",
            "Time per batch in each stage: receive, fetch, validate, dedupe, enrich, write, delete.",
            ["stage"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.batch_seconds = Histogram(
            "ticket_enrich_batch_seconds", "Wall time of a whole batch, receive to delete.",
            buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.batch_size = Histogram("ticket_enrich_batch_size", "Messages per received batch.",
                                    buckets=BATCH_SIZE_BUCKETS, registry=registry)
        self.message_age = Histogram(
            "ticket_enrich_message_age_seconds",
            "How long a message waited in the queue before it was received (SentTimestamp to now).",
            buckets=MESSAGE_AGE_BUCKETS, registry=registry,
        )
        self.aws_errors = Counter(
            "ticket_enrich_aws_errors_total", "AWS calls that failed after retries, by operation and error code.",
            ["operation", "code"], registry=registry,
        )
        self.visibility_extensions = Counter(
            "ticket_enrich_visibility_extensions_total", "Messages whose visibility timeout was extended.",
            registry=registry,
        )
        self.write_conflicts = Counter(
            "ticket_enrich_write_conflicts_total",
            "Writes that met an earlier delivery of the same ticket: target=document (the S3 document was "
            "there and was left), target=record (the conditional put found the record: counted as a duplicate).",
            ["target"], registry=registry,
        )
        self.dead_letters = Gauge(
            "ticket_enrich_dead_letter_messages",
            "Messages waiting in the dead-letter queue (visible + in flight), read every minute; "
            "anything above 0 needs a look and then `ticket-enrich aws redrive`.",
            registry=registry,
        )
        self.ready = Gauge("ticket_enrich_ready", "1 once the models are loaded and the worker polls.",
                           registry=registry)
        # Exposed as the gauge ticket_enrich_info{variant, profile} 1.
        self.info = Info("ticket_enrich", "The runtime in use (variant, profile); the value is always 1.",
                         registry=registry)
        ProcessCollector(registry=registry)

    def set_runtime(self, *, variant: str, profile: str) -> None:
        """ticket_enrich_info{variant, profile}: which models this worker serves."""
        self.info.info({"variant": variant, "profile": profile})

    def render(self) -> str:
        """The Prometheus text exposition format (CONTENT_TYPE) of everything in the registry."""
        return generate_latest(self.registry).decode("utf-8")

    def value(self, sample: str, **labels: str) -> float:
        """One sample's current value (0 before it was first set), e.g.
        `value("ticket_enrich_messages_total", outcome="retried")`."""
        return self.registry.get_sample_value(sample, labels) or 0.0
