"""`ticket-enrich accuracy --artifacts DIR [--profile full|offline]` (`make accuracy PROFILE=full`):
score hand-labelled tickets (default tests/data/labelled_tickets.jsonl: intent, urgency and
sentiment labels, written independently of the heads' examples) with the given artifacts and
profile, print the report as JSON and, with --out, write it.

Figures for a model with stand-in weights (random) are meaningless, and the command says so
loudly, on stderr and in the report's `stand_in_fields` and `warning`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

LABELLED = Path("tests/data/labelled_tickets.jsonl")
LEVELS = ("low", "medium", "high", "critical")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--artifacts", default="artifacts", help="folder with manifest.json (default: artifacts)")
    parser.add_argument("--profile", choices=("full", "offline"), help="default: the artifacts' profile")
    parser.add_argument("--labelled", type=Path, default=LABELLED, help=f"JSONL of labelled tickets (default {LABELLED})")
    parser.add_argument("--out", type=Path, help="also write the report here (JSON)")
    parser.add_argument("--batch-size", type=int, default=10)


def _scores(gold: list[str], predicted: list[str]) -> dict[str, Any]:
    pairs = list(zip(gold, predicted, strict=True))
    return {
        "accuracy": round(sum(g == p for g, p in pairs) / len(pairs), 3),
        "per_label_recall": {label: round(sum(p == label for g, p in pairs if g == label) / max(1, gold.count(label)), 3)
                             for label in sorted(set(gold))},
        "top_confusions": [f"{g} -> {p}: {n}" for (g, p), n in Counter(x for x in pairs if x[0] != x[1]).most_common(5)],
    }


def report(rows: list[dict[str, Any]], results: list[Any]) -> dict[str, Any]:
    """Accuracy, per-label recall and the commonest confusions of intent, sentiment and urgency
    (`results`: the Enrichments of `rows`, in order), plus urgency within one level, intent
    accuracy where its confidence is >= 0.8, and the NEUTRAL decision as neutral-vs-polar."""
    predicted = {"intent": [r.intent.label for r in results], "sentiment": [r.sentiment.label for r in results],
                 "urgency": [r.urgency.level for r in results]}
    gold = {key: [row["labels"][key] for row in rows] for key in predicted}
    out: dict[str, Any] = {key: _scores(gold[key], predicted[key]) for key in predicted}
    out["urgency"]["within_one_level"] = round(sum(
        abs(LEVELS.index(g) - LEVELS.index(p)) <= 1 for g, p in zip(gold["urgency"], predicted["urgency"], strict=True)
    ) / len(results), 3)
    confident = [(r, g) for r, g in zip(results, gold["intent"], strict=True) if r.intent.confidence >= 0.8]
    out["intent"]["accuracy_when_confidence_ge_0.8"] = round(sum(r.intent.label == g for r, g in confident)
                                                             / max(1, len(confident)), 3)
    out["intent"]["share_with_confidence_ge_0.8"] = round(len(confident) / len(results), 3)
    neutral = [(g == "NEUTRAL") == (p == "NEUTRAL") for g, p in zip(gold["sentiment"], predicted["sentiment"], strict=True)]
    out["sentiment"]["neutral_vs_polar"] = round(sum(neutral) / len(neutral), 3)
    out["tickets"] = len(results)
    return out


def score(enricher: Any, rows: list[dict[str, Any]], batch_size: int = 10) -> dict[str, Any]:
    results = []
    for start in range(0, len(rows), batch_size):
        results.extend(enricher.enrich(rows[start : start + batch_size]))
    found = report(rows, results)
    found["profile"] = enricher.profile
    head = getattr(enricher, "sentiment_head", None)
    if enricher.profile == "full" and head is not None:  # the NEUTRAL decision alone: MiniLM, real weights
        said = [head.labels[int(row.argmax())] == "NEUTRAL" for row in head.probabilities([r.embedding for r in results])]
        found["sentiment"]["neutral_head_vs_polar"] = round(sum(
            s == (row["labels"]["sentiment"] == "NEUTRAL") for s, row in zip(said, rows, strict=True)) / len(rows), 3)
    fields = list(getattr(enricher, "stand_in_fields", ()))
    if fields:
        found["stand_in_fields"] = fields
        found["warning"] = (f"{', '.join(fields)} come from STAND-IN models with random weights: their figures "
                            "here are meaningless (export with real weights to measure them)")
    return found


def run(args: argparse.Namespace) -> int:
    from runtime import Enricher, RuntimeArtifactError, RuntimeConfig

    try:
        rows = [json.loads(line) for line in args.labelled.read_text(encoding="utf-8").splitlines() if line.strip()]
        enricher = Enricher.from_artifacts(args.artifacts, RuntimeConfig.from_env(
            **({"profile": args.profile} if args.profile else {})))
    except (OSError, ValueError, RuntimeArtifactError) as exc:
        print(f"cannot score: {exc}", file=sys.stderr)
        return 2
    found = score(enricher, rows, args.batch_size)
    text = json.dumps(found, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    if "warning" in found:
        banner = "!" * 78
        print(f"{banner}\nWARNING: {found['warning']}\n{banner}", file=sys.stderr)
    return 0
