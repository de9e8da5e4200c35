"""`ticket-enrich fit`: a team's own labelled history -> its own intent, urgency and sentiment
heads, cross-validated, written into the artifacts the runtime (and so the worker) serves.

The input is JSONL: a ticket per line (the ticket schema) with `labels`, any of {"intent",
"urgency", "sentiment"}, in any label set the team uses. Every line is checked before anything
is fitted; any problem stops the run with the line numbers and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from runtime.enricher import Enricher
from runtime.errors import TicketRejected
from runtime.fitting import fit_domain_model, fit_urgency_model, urgency_evidence
from runtime.heads import FOLDS, EmbeddingHead, HeadFit, cross_validate_head, load_taxonomy
from runtime.manifest import MANIFEST_NAME, FileEntry, Manifest, file_entry, load_manifest, verify_files
from runtime.metrics import Report, evaluate
from runtime.ticket import Ticket
from runtime.urgency_model import UrgencyFit, UrgencyModel, cross_validate_urgency
from ticket_schema import validate_ticket

KINDS = ("intent", "urgency", "sentiment")
MIN_PER_CLASS = FOLDS  # every fold must be able to hold out one example of every class
EXTRAS = {"intent": "intent_head", "sentiment": "sentiment_head", "urgency": "urgency_model"}


class FitInputError(ValueError):
    """The labelled file cannot be fitted on; the message lists every problem found."""


@dataclass(frozen=True)
class LabelledHistory:
    path: Path
    sha256: str
    tickets: list[Ticket]
    labels: list[dict[str, str]]

    def classes(self, kind: str) -> Counter[str]:
        return Counter(row[kind] for row in self.labels if kind in row)


def read_history(path: Path, kinds: tuple[str, ...] = KINDS, min_per_class: int = MIN_PER_CLASS) -> LabelledHistory:
    """Read and check the whole file; raise FitInputError listing every problem."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FitInputError(f"cannot read {path}: {exc.strerror}") from exc
    problems: list[str] = []
    tickets, labels = [], []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg})")
            continue
        found = row.pop("labels", None) if isinstance(row, dict) else None
        if not isinstance(found, dict) or not found:
            problems.append(f'line {number}: no "labels" object (e.g. "labels": {{"intent": "billing"}})')
            continue
        unknown = sorted(set(found) - set(KINDS))
        if unknown:
            problems.append(f"line {number}: unknown label kind {', '.join(map(repr, unknown))}; "
                            f"the kinds are {', '.join(KINDS)}")
            continue
        bad = [k for k, v in found.items() if not isinstance(v, str) or not v.strip()]
        if bad:
            problems.append(f"line {number}: label {', '.join(bad)} must be a non-empty string")
            continue
        try:
            tickets.append(validate_ticket(row))
        except TicketRejected as exc:
            problems.append(f"line {number}: {exc}")
            continue
        labels.append({k: v.strip() for k, v in found.items() if k in kinds})
    history = LabelledHistory(path, hashlib.sha256(raw).hexdigest(), tickets, labels)
    if not problems:
        problems = _class_problems(history, kinds, min_per_class)
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise FitInputError(f"{path} cannot be fitted on; nothing was written:\n  {shown}")
    return history


def _class_problems(history: LabelledHistory, kinds: tuple[str, ...], min_per_class: int) -> list[str]:
    problems = []
    present = [kind for kind in kinds if history.classes(kind)]
    if not present:
        problems.append(f"no ticket carries a label of the kinds asked for ({', '.join(kinds)})")
    for kind in present:
        classes = history.classes(kind)
        if len(classes) < 2:
            problems.append(f"{kind}: only one class ({next(iter(classes))!r}); a head needs at least two")
        for name, count in sorted(classes.items()):
            if count < min_per_class:
                problems.append(f"{kind}: class {name!r} has {count} example(s); each class needs at least "
                                f"{min_per_class} (the {FOLDS}-fold cross-validation holds some out): label "
                                "more, or merge it into a neighbour")
    return problems


@dataclass
class FitResult:
    heads: dict[str, EmbeddingHead] = field(default_factory=dict)
    urgency: UrgencyModel | None = None
    reports: dict[str, Report] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _origin(history: LabelledHistory, kind: str, examples: int) -> dict[str, Any]:
    return {"kind": "fit", "label": kind, "file": history.path.name, "sha256": history.sha256,
            "examples": examples, "fitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _report(fit_labels: tuple[str, ...], gold: list[str], oof: np.ndarray) -> Report:
    return evaluate(gold, [fit_labels[i] for i in oof.argmax(axis=1)], oof.max(axis=1), labels=fit_labels)


def fit_history(enricher: Enricher, history: LabelledHistory) -> FitResult:
    """Cross-validate and fit a head per label kind present; refit what depends on them."""
    result = FitResult()
    texts = [t.text for t in history.tickets]
    vectors = enricher.embedder.embed(texts)
    oof: dict[str, HeadFit] = {}
    for kind in ("intent", "sentiment"):
        rows = [i for i, row in enumerate(history.labels) if kind in row]
        if not rows:
            continue
        classes = tuple(sorted(history.classes(kind)))
        gold = [history.labels[i][kind] for i in rows]
        targets = np.asarray([classes.index(g) for g in gold])
        fitted = cross_validate_head(vectors[rows], targets, classes, history.sha256, [texts[i] for i in rows],
                                     _origin(history, kind, len(rows)))
        oof[kind] = fitted
        result.heads[kind] = fitted.head
        result.reports[kind] = _report(classes, gold, fitted.oof_probabilities)
    intent_head = result.heads.get("intent", enricher.intent_head)
    sentiment_head = result.heads.get("sentiment", enricher.sentiment_head)
    rows = [i for i, row in enumerate(history.labels) if "urgency" in row]
    if rows:
        result.urgency, result.reports["urgency"] = _fit_urgency(enricher, history, rows, vectors, texts,
                                                                  intent_head, sentiment_head, oof)
    elif intent_head.labels != enricher.intent_head.labels or sentiment_head.labels != enricher.sentiment_head.labels:
        # the shipped urgency model reads the heads' probabilities: refit it for the new label sets now,
        # so that the runtime does not have to at start-up
        result.urgency = fit_urgency_model(enricher.embedder.embed, enricher.rules, intent_head, sentiment_head)
        result.notes.append("urgency: refitted on the shipped example tickets for the new intent/sentiment labels")
    return result


def _fit_urgency(enricher: Enricher, history: LabelledHistory, rows: list[int], vectors: np.ndarray, texts: list[str],
                 intent_head: EmbeddingHead, sentiment_head: EmbeddingHead,
                 oof: dict[str, HeadFit]) -> tuple[UrgencyModel, Report]:
    rules = enricher.rules
    known = [level for level in rules.levels if level in history.classes("urgency")]
    levels = tuple(known) if len(known) == len(history.classes("urgency")) else tuple(sorted(history.classes("urgency")))
    gold = [history.labels[i]["urgency"] for i in rows]
    evidence = urgency_evidence([texts[i] for i in rows], vectors[rows],
                                [history.tickets[i].priority for i in rows], intent_head, sentiment_head)
    # a head fitted on these same tickets would be over-sure of them: use its out-of-fold answers instead
    for kind in ("intent", "sentiment"):
        labelled = [i for i, row in enumerate(history.labels) if kind in row]
        if kind in oof and set(rows) <= set(labelled):
            position = {ticket: n for n, ticket in enumerate(labelled)}
            evidence = replace(evidence, **{kind: oof[kind].oof_probabilities[[position[i] for i in rows]]})
    fitted: UrgencyFit = cross_validate_urgency(rules, evidence, np.asarray([levels.index(g) for g in gold]), levels,
                                                intent_head.labels, sentiment_head.labels, history.sha256,
                                                _origin(history, "urgency", len(rows)))
    return fitted.model, _report(levels, gold, fitted.oof_probabilities)


def write_fit(root: Path, enricher: Enricher, history: LabelledHistory, result: FitResult) -> dict[str, FileEntry]:
    """Write the new models beside the old ones (nothing is overwritten), then swap the manifest:
    the previous one is kept as manifest.before-fit-<time>.json."""
    manifest: Manifest = load_manifest(root)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = root / "heads" / f"fit-{stamp}"
    folder.mkdir(parents=True, exist_ok=False)
    extras = dict(manifest.extras)
    written: dict[str, FileEntry] = {}
    heads = dict(result.heads)
    if "intent" in heads:
        # the team's tickets are in domain by definition: the out-of-domain model learns them
        intents = load_taxonomy(enricher.config.intents_path).training_set()[0]
        texts = [t.text for t in history.tickets]
        domain = fit_domain_model(enricher.embedder.embed, enricher.vocabulary, intents + texts)
        written["domain_model"] = _write(root, folder / "domain.json", domain.to_json())
    for kind, head in heads.items():
        written[EXTRAS[kind]] = _write(root, folder / f"{kind}.json", head.to_json())
    if result.urgency is not None:
        written["urgency_model"] = _write(root, folder / "urgency.json", result.urgency.to_json())
    extras.update(written)
    updated = replace(manifest, extras=extras)
    verify_files(root, list(written.values()))
    (root / f"manifest.before-fit-{stamp}.json").write_text(manifest.to_json(), encoding="utf-8")
    staging = root / f".{MANIFEST_NAME}.fit-{stamp}"
    staging.write_text(updated.to_json(), encoding="utf-8")
    staging.replace(root / MANIFEST_NAME)
    return written


def _write(root: Path, path: Path, text: str) -> FileEntry:
    path.write_text(text, encoding="utf-8")
    return file_entry(root, path)

