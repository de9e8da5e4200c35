"""Summary lengths and time per ticket of each summary preset on the sample tickets.

    python -m benchmarks.summary_lengths --artifacts build/bench-artifacts [--rounds 2]

For each preset: per ticket its length (words, summary-tokenizer tokens), its new-token budget,
and what came out (kind, tokens, words, whether the budget ran out); then the time per ticket of
`Enricher.enrich` over all samples in batches of 16 (the CLI's default), presets interleaved
round by round on the same warm process (read the ratio, not the absolute figures, on a shared
machine). Stand-in weights (random) rarely stop before their budget: the lengths then show the
budgets, not what a trained model would choose.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from runtime import Enricher, RuntimeConfig
from runtime.presets import PRESETS
from runtime.ticket import as_ticket

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "tickets"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifacts", type=Path, default=Path("build/bench-artifacts"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    tickets = [json.loads(p.read_text("utf-8")) for p in sorted(SAMPLES.glob("*.json")) if not p.name.startswith("malformed-")]
    enrichers = {name: Enricher.from_artifacts(args.artifacts, RuntimeConfig(profile="full", summary_preset=name,
                                                                             threads=args.threads)) for name in PRESETS}
    if any(e.stand_in_fields for e in enrichers.values()):
        print("NOTE: stand-in weights (random): summaries run to their budgets; the lengths show the budgets")
    seconds: dict[str, list[float]] = {name: [] for name in PRESETS}
    results = {}
    for _ in range(args.rounds):
        for name, enricher in enrichers.items():
            started = time.perf_counter()
            results[name] = [r for start in range(0, len(tickets), args.batch)
                             for r in enricher.enrich(tickets[start : start + args.batch])]
            seconds[name].append((time.perf_counter() - started) / len(tickets))
    for name, enricher in enrichers.items():
        report(name, enricher, tickets, results[name])
    print(f"\nseconds per ticket (all samples, batches of {args.batch}, {args.threads} threads), per round:")
    for name, values in seconds.items():
        print(f"  {name:7s} " + " ".join(f"{v:.3f}" for v in values) + f"  (min {min(values):.3f})")
    base = min(seconds["ticket"])
    print(f"  ratio news / ticket (min of rounds): {min(seconds['news']) / base:.2f}")


def report(name: str, enricher: Enricher, tickets: list[dict], results: list) -> None:
    summarizer, preset = enricher.summarizer, enricher.summary_preset
    texts = [as_ticket(t).text for t in tickets]
    source_tokens = [len(e.ids) for e in summarizer.tokenizer.encode_batch(texts)]
    rows = []
    for text, tokens, result in zip(texts, source_tokens, results, strict=True):
        out_tokens = len(summarizer.tokenizer.encode(result.summary).ids) - 2 if result.summary_kind == "abstractive" else 0
        budget = preset.budget.new_tokens(tokens) if preset.budget else preset.config.total_max_length - 1
        rows.append((len(text.split()), tokens, result.summary_kind, budget, out_tokens, len(result.summary.split())))
    made = [r for r in rows if r[2] == "abstractive"]
    print(f"\n== preset {name}: {len(made)} of {len(rows)} tickets summarized (the others are under "
          f"{enricher.config.summary_min_words} words: their own summary)")
    print(" ticket words | ticket tokens | budget | summary tokens | summary words | summary/ticket words")
    for words, tokens, _, budget, out_tokens, out_words in sorted(made):
        print(f" {words:12d} | {tokens:13d} | {budget:6d} | {out_tokens:14d} | {out_words:13d} | {out_words / words:.2f}")
    if made:
        def stat(values: list[float]) -> str:
            return f"median {statistics.median(values):.0f}, min {min(values):.0f}, max {max(values):.0f}"
        print(f" summary words: {stat([r[5] for r in made])}; tokens: {stat([r[4] for r in made])}; "
              f"ticket words: {stat([r[0] for r in made])}; longest share of its ticket "
              f"{max(r[5] / r[0] for r in made):.2f}")


if __name__ == "__main__":
    main()
