"""/metrics: what docs/WORKER.md promises operators (names, types, labels) is what the worker
serves, with the process metrics beside it, from a registry of the worker's own."""

from __future__ import annotations

import re
from pathlib import Path

import prometheus_client
import pytest
from prometheus_client.metrics import Info, MetricWrapperBase

from worker.metrics import WorkerMetrics

DOCS = Path(__file__).resolve().parents[2] / "docs" / "WORKER.md"


def documented() -> dict[str, tuple[str, set[str]]]:
    """docs/WORKER.md's metrics table: name -> (type, label names)."""
    rows = re.findall(r"^\| `(ticket_enrich_\w+)` \| (\w+) \|(.*)\|$", DOCS.read_text(), re.M)
    return {name: (kind, set(re.findall(r"`(\w+)`", labels))) for name, kind, labels in rows}


def served_types(text: str) -> dict[str, str]:
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def test_the_documented_metrics_are_served_with_their_types_and_labels():
    metrics = WorkerMetrics()
    metrics.set_runtime(variant="avx2", profile="offline")
    docs = documented()
    assert len(docs) == 13
    text = metrics.render()
    types = served_types(text)
    ours = {name for name in types if name.startswith("ticket_enrich_") and not name.endswith("_created")}
    assert ours == set(docs)
    wrappers = {m.describe()[0].name: m for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)}
    for name, (kind, labels) in docs.items():
        assert types[name] == kind, name
        family = re.sub(r"_total$|_info$", "", name)
        metric = wrappers[family]
        if isinstance(metric, Info):  # its labels are the keys set_runtime gives it
            (line,) = re.findall(rf"^{name}{{(.*)}} 1.0$", text, re.M)
            assert set(re.findall(r'(\w+)="', line)) == labels
        elif labels:  # raises ValueError unless these are exactly the metric's label names
            metric.labels(**dict.fromkeys(labels, "x"))
        else:
            with pytest.raises(ValueError, match="No label names"):
                metric.labels(x="x")


def test_counts_reach_the_text_and_the_reader():
    metrics = WorkerMetrics()
    metrics.tickets.labels(outcome="enriched").inc(3)
    metrics.stage_seconds.labels(stage="enrich").observe(0.3)
    text = metrics.render()
    assert 'ticket_enrich_tickets_total{outcome="enriched"} 3.0' in text
    assert metrics.value("ticket_enrich_tickets_total", outcome="enriched") == 3
    assert metrics.value("ticket_enrich_tickets_total", outcome="failed") == 0  # never set: 0, not None
    assert metrics.value("ticket_enrich_stage_seconds_bucket", stage="enrich", le="0.5") == 1
    assert metrics.value("ticket_enrich_stage_seconds_bucket", stage="enrich", le="0.25") == 0


def test_the_process_metrics_an_operator_expects_are_there():
    types = served_types(WorkerMetrics().render())
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"):
        assert name in types, name
    metrics = WorkerMetrics()
    assert metrics.value("process_resident_memory_bytes") > 10 * 1024 * 1024
    assert metrics.value("process_open_fds") > 0


def test_each_worker_has_its_own_registry_and_the_global_one_is_untouched():
    first, second = WorkerMetrics(), WorkerMetrics()  # a shared registry would refuse the second
    first.batches.inc()
    assert (first.value("ticket_enrich_batches_total"), second.value("ticket_enrich_batches_total")) == (1, 0)
    assert not [n for n in served_types(prometheus_client.generate_latest().decode()) if n.startswith("ticket_enrich")]
