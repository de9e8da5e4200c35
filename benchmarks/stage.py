"""Measure one stage for a list of engines: check their outputs against the reference on the same
inputs (like is compared with like), then time batch-1 latency and batched throughput,
interleaved. Returns the results section."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.engines import Engine
from benchmarks.inputs import batches, spread, word_count
from benchmarks.settings import BenchSettings
from benchmarks.timing import interleaved, load_average

EMBEDDING_COSINE_GATE = 0.99  # like-for-like: same text, same window; looser than the export's gates
PROBABILITY_GATE = 0.05


def check_embeddings(values: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    cosine = (np.asarray(values, np.float64) * np.asarray(reference, np.float64)).sum(axis=1)
    return {"ok": bool(cosine.min() >= EMBEDDING_COSINE_GATE), "cosine_min": round(float(cosine.min()), 6),
            "cosine_mean": round(float(cosine.mean()), 6)}


def check_probabilities(values: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    diff = float(np.abs(np.asarray(values) - np.asarray(reference)).max())
    agree = float((np.argmax(values, axis=1) == np.argmax(reference, axis=1)).mean())
    return {"ok": diff <= PROBABILITY_GATE, "max_abs_diff": round(diff, 5), "argmax_agreement": round(agree, 3)}


def summary_check(new_tokens: int) -> Callable[[list[list[int]], list[list[int]]], dict[str, Any]]:
    """Every engine, peers included, must produce exactly `new_tokens` new tokens (the work is then
    the same); agreement with PyTorch's tokens is reported, not gated (int8 and random weights
    diverge)."""

    def check(values: list[list[int]], reference: list[list[int]]) -> dict[str, Any]:
        lengths = sorted({len(v) for v in values})
        agree = [np.mean([a == b for a, b in zip(v, r, strict=False)]) for v, r in zip(values, reference, strict=True)]
        return {"ok": lengths == [new_tokens], "same_work": True, "new_tokens": lengths,
                "token_agreement": round(float(np.mean(agree)), 3)}

    return check


def check_outputs(engines: list[Engine], probe: list, check) -> dict[str, dict[str, Any]]:
    expected = engines[0].run(probe)
    return {engine.name: check(engine.run(probe), expected) | {"gated": engine.gated} for engine in engines}


def engine_rows(engines: list[Engine], checks: dict, **modes) -> dict[str, dict[str, Any]]:
    rows = {}
    for engine in engines:
        row = {"family": engine.family, "detail": engine.detail, "load_s": round(engine.load_s, 3)}
        for mode, (samples, kind) in modes.items():
            row[mode] = getattr(samples[engine.name], kind)()
        if engine.name in checks:
            row["check"] = checks[engine.name]
        rows[engine.name] = row
    return rows


def measure_stage(engines: list[Engine], texts: list[str], single: list[str], settings: BenchSettings,
                  check, probe_size: int = 8, batch: int | None = None, rounds: int | None = None) -> dict[str, Any]:
    """engines[0] is the reference. `single`: texts timed one at a time; `texts`: timed in batches."""
    batch = batch or settings.stage_batch
    rounds = rounds or settings.rounds
    before = load_average()
    checks = check_outputs(engines, spread(texts, lambda t: word_count(t), probe_size), check)
    single_samples = interleaved(engines, [[t] for t in single], rounds)
    batched = interleaved(engines, batches(texts, batch), rounds)
    return {
        "load_avg": {"before": before, "after": load_average()},
        "rounds": rounds,
        "threads": settings.threads,
        "inputs": {"b1_tickets": len(single), f"b{batch}_tickets": len(texts),
                   "words": [min(map(word_count, texts)), max(map(word_count, texts))]},
        "engines": engine_rows(engines, checks, b1=(single_samples, "latency"),
                               **{f"b{batch}": (batched, "throughput")}),
    }


def failed_checks(section: dict[str, Any]) -> dict[str, Any]:
    return {name: row["check"] for name, row in section["engines"].items()
            if "check" in row and not row["check"]["ok"]
            and (row["check"]["gated"] or row["check"].get("same_work"))}
