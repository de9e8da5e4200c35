"""Score an Enricher on labelled tickets: the figures the README and the accuracy tests quote.

A labelled file is JSONL, one ticket a line (the ticket schema: ticket_id, subject, body,
priority…) plus `labels`: any of {"intent", "sentiment", "urgency"} for tickets, or {"kind"}
(content_free | off_topic | non_english) for texts that are not tickets at all, on which every
label should come out `uncertain`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.enricher import Enricher
from runtime.metrics import Report, evaluate
from runtime.result import Enrichment
from runtime.ticket import Ticket
from ticket_schema import validate_ticket

LABEL_KINDS = ("intent", "sentiment", "urgency")
NO_PRIORITY_LEVEL = "medium"  # the naive urgency baseline's answer when no priority was stated


@dataclass(frozen=True)
class LabelledSet:
    name: str
    tickets: list[Ticket]
    labels: list[dict[str, str]]


def read_labelled(path: str | Path) -> LabelledSet:
    path = Path(path)
    tickets, labels = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row.get("labels"), dict):
            raise ValueError(f"{path}:{number}: no `labels` object")
        labels.append({k: str(v) for k, v in row.pop("labels").items()})
        tickets.append(validate_ticket(row))
    return LabelledSet(path.stem, tickets, labels)


def enrich_all(enricher: Enricher, tickets: Sequence[Ticket], batch_size: int = 16) -> list[Enrichment]:
    out: list[Enrichment] = []
    for start in range(0, len(tickets), batch_size):
        out.extend(enricher.enrich(tickets[start : start + batch_size]))
    return out


def predicted(result: Enrichment, kind: str) -> tuple[str, float, bool]:
    """(label, confidence, uncertain) of one label kind of one enrichment."""
    if kind == "intent":
        return result.intent.label, result.intent.confidence, result.intent.uncertain
    if kind == "sentiment":
        return result.sentiment.label, result.sentiment.score, result.sentiment.uncertain
    if kind == "urgency":
        return result.urgency.level, result.urgency.confidence, result.urgency.uncertain
    raise ValueError(f"unknown label kind {kind!r}; one of {', '.join(LABEL_KINDS)}")


def score(labelled: LabelledSet, results: Sequence[Enrichment], kind: str,
          labels: Sequence[str] | None = None) -> Report:
    """Accuracy, macro-F1, per class, confusions and calibration of one label kind, on the
    tickets that carry it; `extra` holds the share flagged uncertain and the accuracy of the rest."""
    rows = [(row[kind], *predicted(result, kind)) for row, result in zip(labelled.labels, results, strict=True)
            if kind in row]
    gold = [r[0] for r in rows]
    report = evaluate(gold, [r[1] for r in rows], [r[2] for r in rows],
                      labels=labels if labels is not None else sorted(set(gold) | {r[1] for r in rows}))
    sure = [g == p for g, p, _, uncertain in rows if not uncertain]
    report.extra.update({
        "share_uncertain": round(1 - len(sure) / len(rows), 4),
        "accuracy_when_not_uncertain": round(sum(sure) / len(sure), 4) if sure else None,
    })
    if kind == "urgency":
        stated = [t.priority or NO_PRIORITY_LEVEL for t, row in zip(labelled.tickets, labelled.labels, strict=True)
                  if kind in row]
        report.extra["baseline_copy_stated_priority"] = round(
            sum(s == g for s, g in zip(stated, gold, strict=True)) / len(gold), 4)
    return report


def uncertainty(labelled: LabelledSet, results: Sequence[Enrichment]) -> dict[str, dict[str, Any]]:
    """For texts that are not tickets: per `kind`, how often each label is flagged uncertain and
    its mean confidence."""
    out: dict[str, dict[str, Any]] = {}
    for kind in sorted({row.get("kind", "?") for row in labelled.labels}):
        members = [r for r, row in zip(results, labelled.labels, strict=True) if row.get("kind", "?") == kind]
        entry: dict[str, Any] = {"texts": len(members),
                                 "in_domain_mean": round(sum(r.in_domain for r in members) / len(members), 4)}
        for label in LABEL_KINDS:
            found = [predicted(r, label) for r in members]
            entry[label] = {"share_uncertain": round(sum(u for _, _, u in found) / len(found), 4),
                            "mean_confidence": round(sum(c for _, c, _ in found) / len(found), 4),
                            "max_confidence": round(max(c for _, c, _ in found), 4)}
        out[kind] = entry
    return out
