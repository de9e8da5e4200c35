import pytest

from worker.metrics import Counter, Histogram, WorkerMetrics


def _samples(text):
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def test_histogram_buckets_are_cumulative():
    histogram = Histogram("stage_seconds", "help", (0.1, 1.0))
    for value in (0.05, 0.5, 5.0):
        histogram.observe(value, stage="enrich")
    samples = _samples("\n".join(histogram.render()))
    assert samples['stage_seconds_bucket{stage="enrich",le="0.1"}'] == 1
    assert samples['stage_seconds_bucket{stage="enrich",le="1"}'] == 2
    assert samples['stage_seconds_bucket{stage="enrich",le="+Inf"}'] == 3
    assert samples['stage_seconds_count{stage="enrich"}'] == 3
    assert samples['stage_seconds_sum{stage="enrich"}'] == pytest.approx(5.55)


def test_counter_labels_are_escaped_and_cannot_decrease():
    counter = Counter("errors_total", "help")
    counter.inc(code='Bad"Quote\\')
    assert 'errors_total{code="Bad\\"Quote\\\\"} 1' in counter.render()
    with pytest.raises(ValueError):
        counter.inc(-1)


def test_worker_metrics_render_every_family_once():
    metrics = WorkerMetrics()
    metrics.tickets.inc(outcome="enriched")
    metrics.batch_size.observe(3)
    text = metrics.render()
    for name in ("ticket_enrich_tickets_total", "ticket_enrich_stage_seconds", "ticket_enrich_batch_size",
                 "ticket_enrich_message_age_seconds", "ticket_enrich_ready"):
        assert text.count(f"# TYPE {name} ") == 1
    assert 'ticket_enrich_tickets_total{outcome="enriched"} 1' in text
    assert text.endswith("\n")
