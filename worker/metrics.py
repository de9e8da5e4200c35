"""Prometheus metrics in the text exposition format, written by hand (no client library).

Counters, gauges and histograms with labels; thread-safe; rendered on `/metrics`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable

LabelKey = tuple[tuple[str, str], ...]

# Seconds, for stage latencies: a few ms (an S3 get on the same host) to minutes (a long batch).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
BATCH_SIZE_BUCKETS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
# Seconds a message waited in the queue before this worker received it.
MESSAGE_AGE_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14_400, 86_400)


def _key(labels: dict[str, str] | None) -> LabelKey:
    return tuple(sorted((labels or {}).items()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(key: LabelKey, extra: tuple[str, str] | None = None) -> str:
    pairs = list(key) + ([extra] if extra else [])
    if not pairs:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in pairs) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str):
        self.name = name
        self.help = help_text
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str):
        super().__init__(name, help_text)
        self._values: dict[LabelKey, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError(f"counter {self.name} cannot decrease (got {amount})")
        key = _key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(_key(labels), 0.0)

    def render(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return self.header() + [f"{self.name}{_labels(k)} {_number(v)}" for k, v in items]


class Gauge(Counter):
    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self._values[_key(labels)] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = _key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: Iterable[float]):
        super().__init__(name, help_text)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[LabelKey, list[float]] = {}  # per bucket counts, then sum, then count

    def observe(self, value: float, **labels: str) -> None:
        key = _key(labels)
        with self._lock:
            series = self._series.setdefault(key, [0.0] * (len(self.buckets) + 2))
            for index, bound in enumerate(self.buckets):
                if value <= bound:
                    series[index] += 1
            series[-2] += value
            series[-1] += 1

    def count(self, **labels: str) -> int:
        with self._lock:
            series = self._series.get(_key(labels))
            return int(series[-1]) if series else 0

    def total(self, **labels: str) -> float:
        with self._lock:
            series = self._series.get(_key(labels))
            return series[-2] if series else 0.0

    def render(self) -> list[str]:
        lines = self.header()
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._series.items())
        for key, series in items:
            for index, bound in enumerate(self.buckets):
                lines.append(f"{self.name}_bucket{_labels(key, ('le', _number(bound)))} {_number(series[index])}")
            lines.append(f"{self.name}_bucket{_labels(key, ('le', '+Inf'))} {_number(series[-1])}")
            lines.append(f"{self.name}_sum{_labels(key)} {_number(series[-2])}")
            lines.append(f"{self.name}_count{_labels(key)} {_number(series[-1])}")
        return lines


class WorkerMetrics:
    """The worker's metrics, one instance per worker (no module-level registry)."""

    def __init__(self) -> None:
        self.tickets = Counter(
            "ticket_enrich_tickets_total",
            "Tickets by outcome: enriched, duplicate (already recorded), rejected, failed (left for redelivery).",
        )
        self.messages = Counter(
            "ticket_enrich_messages_total",
            "SQS messages by outcome: deleted, retried (left for redelivery), skipped (test events).",
        )
        self.batches = Counter("ticket_enrich_batches_total", "Batches received from SQS.")
        self.stage_seconds = Histogram(
            "ticket_enrich_stage_seconds",
            "Time per batch in each stage: receive, fetch, validate, dedupe, enrich, write, delete.",
            LATENCY_BUCKETS,
        )
        self.batch_seconds = Histogram(
            "ticket_enrich_batch_seconds", "Wall time of a whole batch, receive to delete.", LATENCY_BUCKETS
        )
        self.batch_size = Histogram("ticket_enrich_batch_size", "Messages per received batch.", BATCH_SIZE_BUCKETS)
        self.message_age = Histogram(
            "ticket_enrich_message_age_seconds",
            "How long a message waited in the queue before it was received (SentTimestamp to now).",
            MESSAGE_AGE_BUCKETS,
        )
        self.aws_errors = Counter(
            "ticket_enrich_aws_errors_total", "AWS calls that failed after retries, by operation and error code."
        )
        self.visibility_extensions = Counter(
            "ticket_enrich_visibility_extensions_total", "Messages whose visibility timeout was extended."
        )
        self.ready = Gauge("ticket_enrich_ready", "1 once the models are loaded and the worker polls.")
        self.info = Gauge("ticket_enrich_info", "The runtime in use (variant, profile); the value is always 1.")

    def all(self) -> list[_Metric]:
        return [
            self.tickets, self.messages, self.batches, self.stage_seconds, self.batch_seconds,
            self.batch_size, self.message_age, self.aws_errors, self.visibility_extensions,
            self.ready, self.info,
        ]

    def render(self) -> str:
        lines: list[str] = []
        for metric in self.all():
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"
