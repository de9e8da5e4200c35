"""Work per ticket against this machine's measured GEMM rates and bandwidth: the floor under each
stage's ms/ticket, and how close our best int8 variant gets to it. Uses the stage timings of this
run, or of the last results file when run alone (-k limits)."""

from __future__ import annotations

import json

import numpy as np

from benchmarks.limits import Dims, decoder_bytes_per_ticket, encoder_macs, machine_rates, summary_macs
from benchmarks.results import load


def token_counts(models, role: str, texts: list[str]) -> list[int]:
    from runtime.text import load_tokenizer

    entry = models.entry(role)
    limit = int(entry.settings.get("max_length", entry.settings.get("max_input_length", 1024)))
    tokenizer = load_tokenizer(models.root / entry.tokenizer.path, limit)
    return [len(e.ids) for e in tokenizer.encode_batch(texts)]


def measured_ms(sections: dict, section: str, engine: str) -> float | None:
    rows = sections.get(section, {}).get("engines", {})
    row = rows.get(engine, {})
    batched = [v for k, v in row.items() if k.startswith("b") and k != "b1" and isinstance(v, dict)]
    return batched[0]["ms_per_ticket"] if batched else None


def test_limits(models, settings, texts, recorder):
    rates = machine_rates(settings.threads)
    big, small = rates["int8 GEMM GMAC/s (2048 rows)"], rates["int8 GEMM GMAC/s (10 rows)"]
    bandwidth = rates["copy GB/s (1 thread, read+write)"] * 1e9
    sections = dict(load(settings.results)["sections"]) if settings.results.is_file() else {}
    sections.update(recorder.sections)
    best = f"ours-{models.best_int8().name}"
    stages = {}
    for role, section in (("embedding", "embed"), ("sentiment", "sentiment")):
        dims = Dims.from_config(json.loads((models.checkpoint(role) / "config.json").read_text()))
        macs = float(np.mean([encoder_macs(t, dims) for t in token_counts(models, role, texts)]))
        weights = sum(f.size for f in models.entry(role).variants[models.best_int8().name].files.values())
        per_ticket = weights / settings.stage_batch
        stages[section] = {"gmac_per_ticket": macs / 1e9, "weight_mb_per_ticket": per_ticket / 1e6,
                           "mac_bound_ms": macs / big / 1e6, "bytes_bound_ms": per_ticket / bandwidth * 1e3}
    dims = Dims.from_config(json.loads((models.checkpoint("summary") / "config.json").read_text()))
    tokens = settings.summary_new_tokens
    parts = [summary_macs(t, tokens, dims) for t in token_counts(models, "summary", texts)]
    moved = float(np.mean([decoder_bytes_per_ticket(t, tokens, settings.stage_batch, dims)
                           for t in token_counts(models, "summary", texts)]))
    encoder = float(np.mean([p["encoder"] + p["cross_kv"] for p in parts]))
    decoder = float(np.mean([p["decoder"] for p in parts]))
    stages["summary"] = {"gmac_per_ticket": (encoder + decoder) / 1e9, "weight_mb_per_ticket": moved / 1e6,
                         "mac_bound_ms": encoder / big / 1e6 + decoder / small / 1e6,
                         "bytes_bound_ms": moved / bandwidth * 1e3,
                         "split_gmac": {"encoder": encoder / 1e9, "decoder": decoder / 1e9}}
    for name, row in stages.items():
        row["measured_ms"] = measured_ms(sections, name, best)
        bound = max(row["mac_bound_ms"], row["bytes_bound_ms"])
        row["efficiency"] = bound / row["measured_ms"] if row["measured_ms"] else None
        for key, value in list(row.items()):
            if isinstance(value, float):
                row[key] = round(value, 3)
    recorder.add("limits", {"engine": best, "machine": rates, "stages": stages, "engines": {},
                            "note": "MACs: matrix products only; bytes: int8 decoder weights per step / batch "
                                    "+ fp32 KV caches per row per step"})
    assert all(row["gmac_per_ticket"] > 0 for row in stages.values())
