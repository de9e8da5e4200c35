"""Fit the shipped models from the data files: the intent and sentiment heads (taxonomies, and the
labelled example tickets), the out-of-domain model and the urgency model. The export calls these
once; the runtime calls the same functions at start-up, loudly, only when a data file changed
since the export.

The example tickets (data/urgency_examples.jsonl) carry intent and sentiment labels as well as
urgency: the heads are fitted on them too (whole tickets, as customers write them, beside the
taxonomies' short examples), and everything fitted or calibrated on them afterwards (the urgency
model's intent and sentiment inputs, the pipeline temperatures) reads the heads' out-of-fold
answers on them, never answers on tickets a head was fitted on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from runtime.confidence import (
    SentenceParts,
    finish,
    fit_pipeline_temperature,
    fit_sentence_pooling,
    pooled_sentiment,
    sentence_parts,
)
from runtime.config import DATA_DIR
from runtime.domain import DomainModel, fit_domain
from runtime.errors import RuntimeArtifactError
from runtime.extractive import embed_sentences
from runtime.heads import EmbeddingHead, HeadFit, Taxonomy, cross_validate_head
from runtime.ticket import Ticket
from runtime.urgency import UrgencyRules
from runtime.urgency_model import UrgencyEvidence, UrgencyModel, cross_validate_urgency

URGENCY_EXAMPLES = DATA_DIR / "urgency_examples.jsonl"
OUT_OF_DOMAIN = DATA_DIR / "out_of_domain.json"

Embed = Callable[[list[str]], np.ndarray]
MIN_TICKETS = 20  # fewer example tickets carrying a taxonomy's labels (a user's own taxonomy): fit on it alone


@dataclass(frozen=True)
class LabelledTickets:
    """Tickets with their stated priority and labels, read from a JSONL file."""

    texts: list[str]
    priorities: list[str | None]
    labels: list[dict[str, str]]
    sha256: str


@dataclass(frozen=True)
class TicketHeadFit:
    """A head fitted on a taxonomy and the example tickets that carry its labels."""

    fit: HeadFit
    rows: list[int]  # the example tickets in its training set (indices into the examples file)
    offset: int  # where they start in the training set (after the taxonomy's own examples)

    def oof(self) -> np.ndarray:
        """[len(rows), K]: the head's out-of-fold answers on those tickets."""
        return self.fit.oof_probabilities[self.offset:self.offset + len(self.rows)]

    def folds(self) -> np.ndarray:
        return self.fit.fold[self.offset:self.offset + len(self.rows)]


def cross_fit_taxonomy_head(embed: Embed, taxonomy: Taxonomy, examples: LabelledTickets) -> TicketHeadFit:
    texts, targets = taxonomy.training_set()
    kind = taxonomy.kind
    rows = [i for i, row in enumerate(examples.labels) if row.get(kind) in taxonomy.labels]
    if len(rows) < MIN_TICKETS:
        rows = []
    offset = len(texts)
    texts = texts + [examples.texts[i] for i in rows]
    targets = np.concatenate([targets, np.asarray([taxonomy.labels.index(examples.labels[i][kind]) for i in rows],
                                                  np.int64)])
    origin = {"kind": "taxonomy", "taxonomy": kind, "sha256": taxonomy.sha256,
              **({"examples_sha256": examples.sha256, "example_tickets": len(rows)} if rows else {})}
    fitted = cross_validate_head(embed(texts), targets, taxonomy.labels, taxonomy.sha256, texts, origin)
    result = TicketHeadFit(fitted, rows, offset)
    if rows:
        stored = {"sha256": examples.sha256, "rows": rows, "probabilities": np.round(result.oof(), 5).tolist()}
        result = replace(result, fit=replace(fitted, head=replace(fitted.head, examples_oof=stored)))
    return result


def fit_taxonomy_head(embed: Embed, taxonomy: Taxonomy, examples: LabelledTickets | None = None) -> EmbeddingHead:
    """A head fitted on a taxonomy's examples and the shipped example tickets that carry its labels."""
    return cross_fit_taxonomy_head(embed, taxonomy, examples or read_urgency_examples()).fit.head


def read_urgency_examples(path: Path = URGENCY_EXAMPLES) -> LabelledTickets:
    try:
        raw = path.read_bytes()
        rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
        texts = [Ticket(ticket_id=str(r.get("id", i)), subject=r.get("subject") or "", body=r.get("body") or "").text
                 for i, r in enumerate(rows)]
        return LabelledTickets(texts, [r.get("priority") for r in rows], [dict(r["labels"]) for r in rows],
                               hashlib.sha256(raw).hexdigest())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeArtifactError(f"urgency examples {path} are unreadable ({type(exc).__name__}: {exc})") from exc


def urgency_evidence(texts: Sequence[str], embeddings: np.ndarray, priorities: Sequence[str | None],
                     intent_head: EmbeddingHead, sentiment_head: EmbeddingHead) -> UrgencyEvidence:
    return UrgencyEvidence(texts, embeddings, priorities, intent_head.probabilities(embeddings, texts),
                           sentiment_head.probabilities(embeddings, texts))


def unseen_answers(head: EmbeddingHead, examples: LabelledTickets, embeddings: np.ndarray) -> np.ndarray:
    """The head's probabilities on the example tickets, out of fold for those it was fitted on."""
    probs = head.probabilities(embeddings, examples.texts)
    stored = head.examples_oof
    if stored.get("sha256") == examples.sha256:
        probs[np.asarray(stored["rows"], np.int64)] = np.asarray(stored["probabilities"], np.float64)
    return probs


def fit_urgency_model(embed: Embed, rules: UrgencyRules, intent_head: EmbeddingHead,
                      sentiment_head: EmbeddingHead, path: Path = URGENCY_EXAMPLES) -> UrgencyModel:
    examples = read_urgency_examples(path)
    unknown = sorted({row["urgency"] for row in examples.labels} - set(rules.levels))
    if unknown:
        raise RuntimeArtifactError(f"urgency examples {path} use levels {unknown} that {rules.levels} lacks")
    targets = np.asarray([rules.levels.index(row["urgency"]) for row in examples.labels])
    vectors = embed(examples.texts)
    evidence = UrgencyEvidence(examples.texts, vectors, examples.priorities,
                               unseen_answers(intent_head, examples, vectors),
                               unseen_answers(sentiment_head, examples, vectors))
    origin = {"kind": "examples", "file": path.name, "sha256": examples.sha256}
    return cross_validate_urgency(rules, evidence, targets, rules.levels, intent_head.labels, sentiment_head.labels,
                                  examples.sha256, origin).model


def read_out_of_domain(path: Path = OUT_OF_DOMAIN) -> list[str]:
    try:
        raw = json.loads(path.read_bytes())
        return [text for key in ("content_free", "off_topic", "non_english") for text in raw[key]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeArtifactError(f"out-of-domain examples {path} are unreadable ({type(exc).__name__}: {exc})") from exc


def fit_domain_model(embed: Embed, vocabulary: Collection[str], in_domain: Sequence[str],
                     path: Path = OUT_OF_DOMAIN) -> DomainModel:
    out = read_out_of_domain(path)
    return fit_domain(list(in_domain), embed(list(in_domain)), out, embed(out), vocabulary)


def calibrate_heads(embed: Embed, vocabulary: Collection[str], domain: DomainModel, intent: TicketHeadFit,
                    sentiment: TicketHeadFit, examples: LabelledTickets) -> tuple[EmbeddingHead, EmbeddingHead]:
    """Fit each head's pipeline temperature on the example tickets, through exactly what the runtime
    serves, reading each ticket's answer from a head that was not fitted on it (the fold head that
    held it out)."""
    texts = examples.texts
    vectors = embed(texts)
    in_domain = domain.scores(texts, vectors, vocabulary)
    out = []
    for kind, fitted in (("intent", intent), ("sentiment", sentiment)):
        head = fitted.fit.head
        kept = fitted.rows or [i for i, row in enumerate(examples.labels) if row.get(kind) in head.labels]
        if len(kept) < MIN_TICKETS:  # a user's own taxonomy: these examples do not carry its labels
            out.append(head)
            continue
        targets = np.asarray([head.labels.index(examples.labels[i][kind]) for i in kept])
        report = dict(head.fit_report)
        if kind == "sentiment" and fitted.rows:
            pooling, probs = fit_sentence_pooling(_unseen_sentence_parts(embed, fitted, texts, vectors), targets,
                                                  head.labels)
            head = replace(head, sentence_pooling=pooling.to_dict())
            report["sentence_pooling"] = pooling.fit_report
        else:
            probs = _unseen_final_inputs(embed, kind, fitted, kept, texts, vectors)
        scores = in_domain[kept]

        def final_at(t: float, probs: np.ndarray = probs, scores: np.ndarray = scores) -> np.ndarray:
            return finish(probs, t, scores)

        temperature, nll = fit_pipeline_temperature(final_at, targets)
        report.update({"pipeline_temperature": round(temperature, 4), "calibration_tickets": len(kept),
                       "calibration_nll": round(nll, 4)})
        out.append(replace(head, pipeline_temperature=temperature, fit_report=report))
    return out[0], out[1]


def _unseen_sentence_parts(embed: Embed, fitted: TicketHeadFit, texts: list[str],
                           vectors: np.ndarray) -> list[SentenceParts]:
    """Each example ticket's whole-text and sentence probabilities, from the fold head that held it out."""
    parts: list[SentenceParts | None] = [None] * len(fitted.rows)
    fold = fitted.folds()
    for k, head in enumerate(fitted.fit.fold_heads):
        members = np.flatnonzero(fold == k)
        rows = [fitted.rows[i] for i in members]
        part = [texts[i] for i in rows]
        for i, found in zip(members, sentence_parts(head, part, vectors[rows], embed_sentences(part, embed), embed),
                            strict=True):
            parts[i] = found
    return [p for p in parts if p is not None]


def _unseen_final_inputs(embed: Embed, kind: str, fitted: TicketHeadFit, kept: list[int], texts: list[str],
                         vectors: np.ndarray) -> np.ndarray:
    """What the runtime would feed the last steps (finish) for these tickets, from heads not fitted on
    them: intent, the whole text; sentiment, pooled over sentences (runtime/confidence.py)."""
    if fitted.rows:
        return fitted.oof()
    head = fitted.fit.head  # not fitted on these tickets
    sub = [texts[i] for i in kept]
    return (head.probabilities(vectors[kept], sub) if kind == "intent"
            else pooled_sentiment(head, sub, vectors[kept], embed_sentences(sub, embed), embed))
