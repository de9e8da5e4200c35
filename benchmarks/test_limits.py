"""Work per ticket against this machine's measured GEMM rates and bandwidth: the floor under each
stage's ms/ticket, and how close our best int8 variant gets to it. Uses the stage timings of this
run, or of the last results file when run alone (-k limits)."""

from __future__ import annotations

import json

import numpy as np

from benchmarks.limits import (
    COPY,
    Dims,
    Macs,
    decoder_bytes_per_ticket,
    encoder_macs,
    machine_rates,
    summary_macs,
)
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


def mean_macs(values) -> Macs:
    values = list(values)
    return Macs(float(np.mean([v.linear for v in values])), float(np.mean([v.attention for v in values])))


def test_limits(models, settings, texts, recorder):
    rates = machine_rates(settings.threads)
    int8_big, int8_small = rates["int8 GEMM GMAC/s (2048 rows)"] * 1e9, rates["int8 GEMM GMAC/s (10 rows)"] * 1e9
    fp32_big, fp32_small = rates["fp32 GEMM GMAC/s (2048 rows)"] * 1e9, rates["fp32 GEMM GMAC/s (10 rows)"] * 1e9
    bandwidth = rates[COPY] * 1e9
    sections = dict(load(settings.results)["sections"]) if settings.results.is_file() else {}
    sections.update(recorder.sections)
    best = models.best_int8().name
    stages = {}
    for role, section in (("embedding", "embed"), ("sentiment", "sentiment")):
        dims = Dims.from_config(json.loads((models.checkpoint(role) / "config.json").read_text()))
        macs = mean_macs(encoder_macs(t, dims) for t in token_counts(models, role, texts))
        weights = sum(f.size for f in models.entry(role).variants[best].files.values())
        per_ticket = weights / settings.stage_batch
        stages[section] = {"gmac_per_ticket": macs.total / 1e9, "weight_mb_per_ticket": per_ticket / 1e6,
                           "mac_bound_ms": macs.bound_s(int8_big, fp32_big) * 1e3,
                           "bytes_bound_ms": per_ticket / bandwidth * 1e3}
    dims = Dims.from_config(json.loads((models.checkpoint("summary") / "config.json").read_text()))
    tokens, sources = settings.summary_new_tokens, token_counts(models, "summary", texts)
    parts = [summary_macs(t, tokens, dims) for t in sources]
    encoder, decoder = mean_macs(p["encoder"] for p in parts), mean_macs(p["decoder"] for p in parts)
    moved = float(np.mean([decoder_bytes_per_ticket(t, tokens, settings.e2e_batch, dims) for t in sources]))
    stages["summary"] = {"gmac_per_ticket": (encoder.total + decoder.total) / 1e9,
                         "weight_mb_per_ticket": moved / 1e6,
                         "mac_bound_ms": (encoder.bound_s(int8_big, fp32_big) + decoder.bound_s(int8_small, fp32_small)) * 1e3,
                         "bytes_bound_ms": moved / bandwidth * 1e3,
                         "split_gmac": {"encoder": encoder.total / 1e9, "decoder": decoder.total / 1e9,
                                        "attention_fp32": (encoder.attention + decoder.attention) / 1e9},
                         "split_bound_ms": {"encoder": encoder.bound_s(int8_big, fp32_big) * 1e3,
                                            "decoder": decoder.bound_s(int8_small, fp32_small) * 1e3}}
    stages["end_to_end"] = {key: sum(stages[n][key] for n in ("embed", "sentiment", "summary"))
                            for key in ("gmac_per_ticket", "weight_mb_per_ticket", "mac_bound_ms", "bytes_bound_ms")}
    for name, row in stages.items():
        row["measured_ms"] = measured_ms(sections, name, f"ours-{best}")
        bound = max(row["mac_bound_ms"], row["bytes_bound_ms"])
        row["efficiency"] = bound / row["measured_ms"] if row["measured_ms"] else None
        for key, value in list(row.items()):
            if isinstance(value, float):
                row[key] = round(value, 3)
    recorder.add("limits", {"engine": f"ours-{best}", "machine": rates, "stages": stages, "engines": {},
                            "note": "MACs: matrix products only, linear layers at the int8 rate, attention at "
                                    "the fp32 rate; bytes: int8 decoder weights per step / batch + fp32 KV "
                                    "caches per row per step, at the copy bandwidth"})
    assert all(row["gmac_per_ticket"] > 0 for row in stages.values())
