"""`ticket-enrich accuracy --artifacts DIR [--profile full|offline] [--labelled FILE]`
(`make accuracy PROFILE=full`): score labelled tickets (default tests/data/labelled_tickets.jsonl)
with the given artifacts and profile — accuracy, macro-F1, per class, confusions, calibration
(ticket_enrich/evaluate.py) — print the report as JSON and, with --out, write it.

Figures for a model with stand-in weights (random) are meaningless, and the command says so
loudly, on stderr and in the report's `stand_in_fields` and `warning`. In the full profile the
NEUTRAL decision (MiniLM's three-way head, real weights even then) is also scored on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

LABELLED = Path("tests/data/labelled_tickets.jsonl")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--artifacts", default="artifacts", help="folder with manifest.json (default: artifacts)")
    parser.add_argument("--profile", choices=("full", "offline"), help="default: the artifacts' profile")
    parser.add_argument("--labelled", type=Path, default=LABELLED,
                        help=f"JSONL of tickets with `labels` (intent/sentiment/urgency) (default {LABELLED})")
    parser.add_argument("--out", type=Path, help="also write the report here (JSON)")
    parser.add_argument("--batch-size", type=int, default=16)


def score(enricher: Any, path: Path, batch_size: int = 16) -> dict[str, Any]:
    """The report of `enricher` on the labelled file at `path`."""
    from ticket_enrich.evaluate import LABEL_KINDS, enrich_all, read_labelled
    from ticket_enrich.evaluate import score as score_kind

    labelled = read_labelled(path)
    results = enrich_all(enricher, labelled.tickets, batch_size)
    found: dict[str, Any] = {"labelled": str(path), "tickets": len(results), "profile": enricher.profile}
    for kind in LABEL_KINDS:
        if any(kind in row for row in labelled.labels):
            found[kind] = score_kind(labelled, results, kind).to_dict()
    gold = [row.get("sentiment") for row in labelled.labels]
    if "sentiment" in found:
        said = [r.sentiment.label == "NEUTRAL" for r in results]
        found["sentiment"]["neutral_vs_polar"] = _agreement(said, gold)
        if enricher.profile == "full":  # the NEUTRAL decision alone: MiniLM, real weights
            head = enricher.sentiment_head
            probs = head.probabilities([r.embedding for r in results], [t.text for t in labelled.tickets])
            found["sentiment"]["neutral_head_vs_polar"] = _agreement(
                [head.labels[int(row.argmax())] == "NEUTRAL" for row in probs], gold)
    fields = list(enricher.stand_in_fields)
    if fields:
        found["stand_in_fields"] = fields
        found["warning"] = (f"{', '.join(fields)} come from STAND-IN models with random weights: their figures "
                            "here are meaningless (export with real weights to measure them)")
    return found


def _agreement(said_neutral: list[bool], gold: list[str | None]) -> float:
    pairs = [(s, g == "NEUTRAL") for s, g in zip(said_neutral, gold, strict=True) if g is not None]
    return round(sum(s == g for s, g in pairs) / len(pairs), 3)


def run(args: argparse.Namespace) -> int:
    from runtime import Enricher, RuntimeArtifactError, RuntimeConfig

    try:
        enricher = Enricher.from_artifacts(args.artifacts, RuntimeConfig.from_env(
            **({"profile": args.profile} if args.profile else {})))
        found = score(enricher, args.labelled, args.batch_size)
    except (OSError, ValueError, RuntimeArtifactError) as exc:
        print(f"cannot score: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(found, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    if "warning" in found:
        banner = "!" * 78
        print(f"{banner}\nWARNING: {found['warning']}\n{banner}", file=sys.stderr)
    return 0
