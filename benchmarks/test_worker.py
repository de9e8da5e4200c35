"""The worker itself through the emulator (benchmarks/worker_run.py): tickets/min at the worker,
default settings, full-size artifacts, and the share of its stage time spent in AWS I/O. Checks
the in-process end-to-end figures against what the worker delivers. Select with -k worker."""

from __future__ import annotations

from benchmarks.timing import load_average
from benchmarks.worker_run import run


def test_worker_through_the_emulator(models, settings, recorder, tmp_path):
    before = load_average()
    measured = run(models.root, settings.worker_tickets, tmp_path)
    recorder.add("worker", {
        "load_avg": {"before": before, "after": load_average()},
        "engines": {"ours-worker": {"family": "ours", "detail": "ticket-enrich worker, default settings, "
                                    "moto server over HTTP", **measured}},
    })
    assert measured["tickets_per_min"] > 0
