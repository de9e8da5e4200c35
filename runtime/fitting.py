"""Fit the shipped models from the data files: the intent and sentiment heads (taxonomies), the
out-of-domain model and the urgency model. The export calls these once; the runtime calls the
same functions at start-up, loudly, only when a data file changed since the export."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from runtime.confidence import finish, fit_pipeline_temperature, pooled_sentiment
from runtime.config import DATA_DIR
from runtime.domain import DomainModel, fit_domain
from runtime.errors import RuntimeArtifactError
from runtime.extractive import embed_sentences
from runtime.heads import EmbeddingHead, Taxonomy, fit_head
from runtime.ticket import Ticket
from runtime.urgency import UrgencyRules
from runtime.urgency_model import UrgencyEvidence, UrgencyModel, cross_validate_urgency

URGENCY_EXAMPLES = DATA_DIR / "urgency_examples.jsonl"
OUT_OF_DOMAIN = DATA_DIR / "out_of_domain.json"

Embed = Callable[[list[str]], np.ndarray]


def fit_taxonomy_head(embed: Embed, taxonomy: Taxonomy) -> EmbeddingHead:
    texts, targets = taxonomy.training_set()
    return fit_head(embed(texts), targets, taxonomy, texts=texts)


@dataclass(frozen=True)
class LabelledTickets:
    """Tickets with their stated priority and labels, read from a JSONL file."""

    texts: list[str]
    priorities: list[str | None]
    labels: list[dict[str, str]]
    sha256: str


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


def fit_urgency_model(embed: Embed, rules: UrgencyRules, intent_head: EmbeddingHead,
                      sentiment_head: EmbeddingHead, path: Path = URGENCY_EXAMPLES) -> UrgencyModel:
    examples = read_urgency_examples(path)
    unknown = sorted({row["urgency"] for row in examples.labels} - set(rules.levels))
    if unknown:
        raise RuntimeArtifactError(f"urgency examples {path} use levels {unknown} that {rules.levels} lacks")
    targets = np.asarray([rules.levels.index(row["urgency"]) for row in examples.labels])
    evidence = urgency_evidence(examples.texts, embed(examples.texts), examples.priorities, intent_head,
                                sentiment_head)
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


def calibrate_heads(embed: Embed, vocabulary: Collection[str], domain: DomainModel, intent_head: EmbeddingHead,
                    sentiment_head: EmbeddingHead, examples: LabelledTickets) -> tuple[EmbeddingHead, EmbeddingHead]:
    """Fit each head's pipeline temperature on example tickets it was not fitted on (the urgency
    examples carry intent and sentiment labels too), through exactly what the runtime serves."""
    texts = examples.texts
    vectors = embed(texts)
    in_domain = domain.scores(texts, vectors, vocabulary)
    out = []
    for kind, head in (("intent", intent_head), ("sentiment", sentiment_head)):
        kept = [i for i, row in enumerate(examples.labels) if row.get(kind) in head.labels]
        if len(kept) < 20:  # a user's own taxonomy: these examples do not carry its labels
            out.append(head)
            continue
        sub = [texts[i] for i in kept]
        probs = (head.probabilities(vectors[kept], sub) if kind == "intent"
                 else pooled_sentiment(head, sub, vectors[kept], embed_sentences(sub, embed), embed))
        targets = np.asarray([head.labels.index(examples.labels[i][kind]) for i in kept])
        scores = in_domain[kept]

        def final_at(t: float, probs: np.ndarray = probs, scores: np.ndarray = scores) -> np.ndarray:
            return finish(probs, t, scores)

        temperature, nll = fit_pipeline_temperature(final_at, targets)
        report = {**head.fit_report, "pipeline_temperature": round(temperature, 4),
                  "calibration_tickets": len(kept), "calibration_nll": round(nll, 4)}
        out.append(replace(head, pipeline_temperature=temperature, fit_report=report))
    return out[0], out[1]
