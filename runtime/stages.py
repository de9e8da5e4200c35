"""The stages of an enrichment. Each is one small object with the same interface: `name` (its key
in `timings_ms`), `run(batch)`, which fills its fields of the batch, and `provenance()`, its
entry in the `models` block. A profile (runtime/profiles.py) is the list of its stages.

    embed       the tickets' embeddings                                         (both profiles)
    sentences   every ticket's sentences, embedded                              (offline)
    domain      how much each text looks like an English support ticket         (both)
    sentiment   SST-2's polarity + the MiniLM head's NEUTRAL decision (full) | the MiniLM head
                on the newest message and its sentences (offline)
    intent      the intent head
    urgency     the urgency model on signals, stated priority, sentiment, intent and embedding
    summary     DistilBART (full) | the most central sentences (offline)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from runtime.classify import Sentiment, SequenceClassifier, polar_or_neutral, sentiment_from_probs
from runtime.confidence import finish, pooled_sentiment
from runtime.config import RuntimeConfig
from runtime.domain import DomainModel, towards_uniform
from runtime.embed import Embedder
from runtime.extractive import Sentences, embed_sentences, pick_central
from runtime.heads import EmbeddingHead
from runtime.presets import SummaryPreset, fit_to_ticket
from runtime.provenance import Provenance
from runtime.result import Intent
from runtime.urgency import Urgency, UrgencyRules
from runtime.urgency_model import UrgencyEvidence, UrgencyModel

if TYPE_CHECKING:
    from runtime.summarize import Summarizer  # loaded by the full profile only

T = TypeVar("T")

# `timings_ms` has these keys in both profiles, in this order (a stage a profile does not run: 0);
# the `models` block lists its fields in this order.
TIMINGS = ("embed", "sentences", "domain", "sentiment", "intent", "urgency", "summary")
MODELS = ("embedding", "intent", "urgency", "domain", "sentiment", "summary")


def need(value: T | None, what: str) -> T:
    if value is None:
        raise RuntimeError(f"no {what} yet: a profile lists a stage before the one that computes it")
    return value


@dataclass
class Batch:
    """One batch as the stages fill it in, row i for ticket i."""

    texts: list[str]
    priorities: list[str | None]  # each ticket's stated priority (an urgency input)
    vectors: np.ndarray | None = None  # [N, D] unit-length embeddings
    sentences: Sentences | None = None
    in_domain: np.ndarray | None = None  # [N] in [0, 1]
    sentiment_probs: np.ndarray | None = None  # the MiniLM head's three-way probabilities (an urgency input)
    sentiments: list[Sentiment] | None = None
    intent_probs: np.ndarray | None = None
    intents: list[Intent] | None = None
    urgencies: list[Urgency] | None = None
    summaries: list[str] | None = None
    summary_kinds: list[str] | None = None  # "abstractive" | "extractive" | "original"
    summary_presets: list[str | None] | None = None  # the preset of each abstractive summary


class Stage(Protocol):
    name: str  # its key in timings_ms

    def run(self, batch: Batch) -> None:
        """Fill this stage's fields of `batch` from the fields earlier stages filled."""
        ...

    def provenance(self) -> dict[str, dict[str, Any]]:
        """Its entries in the `models` block (field -> who produced it); {} when it produces none."""
        ...


class Embed:
    name = "embed"

    def __init__(self, embedder: Embedder, provenance: Provenance):
        self.embedder, self.info = embedder, provenance.model(provenance.embedding)

    def run(self, batch: Batch) -> None:
        batch.vectors = self.embedder.embed(batch.texts)

    def provenance(self) -> dict[str, dict[str, Any]]:
        return {"embedding": self.info}


class EmbedSentences:
    """Every ticket's sentences and their embeddings, shared by the sentence-level sentiment and
    the extractive summary."""

    name = "sentences"

    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    def run(self, batch: Batch) -> None:
        batch.sentences = embed_sentences(batch.texts, self.embedder.embed)

    def provenance(self) -> dict[str, dict[str, Any]]:
        return {}


class Domain:
    name = "domain"

    def __init__(self, model: DomainModel | None, note: str | None, vocabulary: frozenset[str],
                 provenance: Provenance):
        self.model, self.vocabulary = model, vocabulary
        self.info = provenance.extra(f"out-of-domain model ({provenance.embedding.name} nearest examples + English "
                                     "evidence)", "domain_model", note)

    def scores(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        """1 for every text when the artifacts have no out-of-domain model (said at start-up)."""
        if self.model is None:
            return np.ones(len(texts))
        return self.model.scores(texts, vectors, self.vocabulary)

    def run(self, batch: Batch) -> None:
        batch.in_domain = self.scores(batch.texts, need(batch.vectors, "embeddings"))

    def provenance(self) -> dict[str, dict[str, Any]]:
        return {"domain": self.info}


def _flagged(found: list[Sentiment], scores: list[float], threshold: float) -> list[Sentiment]:
    return [replace(s, score=float(score), uncertain=bool(score < threshold)) for s, score in zip(found, scores, strict=True)]


class PolarSentiment:
    """The full profile's: NEUTRAL when the MiniLM head finds the ticket neutral, else the two-way
    model's polarity (runtime.classify.polar_or_neutral); the reported score is pulled towards 1/3
    as the other labels' probabilities are."""

    name = "sentiment"

    def __init__(self, model: SequenceClassifier, head: EmbeddingHead, note: str | None, config: RuntimeConfig,
                 provenance: Provenance):
        self.model, self.head, self.config = model, head, config
        self.info = provenance.model(provenance.manifest.models["sentiment"]) | {
            "neutral": provenance.head("sentiment", "sentiment_head", head, note)}

    def run(self, batch: Batch) -> None:
        texts, in_domain = batch.texts, need(batch.in_domain, "out-of-domain scores")
        raw = self.head.probabilities(need(batch.vectors, "embeddings"), texts)
        batch.sentiment_probs = towards_uniform(raw, in_domain)
        found = polar_or_neutral(self.model.probabilities(texts), self.model.labels, raw, self.head.labels,
                                 self.config.neutral_below)
        scores = [float(d * s.score + (1.0 - d) / 3.0) for s, d in zip(found, in_domain, strict=True)]
        batch.sentiments = _flagged(found, scores, self.config.sentiment_uncertain_below)

    def provenance(self) -> dict[str, dict[str, Any]]:
        return {"sentiment": self.info}


class HeadSentiment:
    """The offline profile's: the MiniLM head on the newest message and its sentences
    (runtime.confidence.pooled_sentiment), calibrated and pulled towards uniform out of domain."""

    name = "sentiment"

    def __init__(self, head: EmbeddingHead, note: str | None, embedder: Embedder, config: RuntimeConfig,
                 provenance: Provenance):
        self.head, self.embedder, self.config = head, embedder, config
        self.info = provenance.head("sentiment", "sentiment_head", head, note)

    def run(self, batch: Batch) -> None:
        texts, vectors, in_domain = batch.texts, need(batch.vectors, "embeddings"), need(batch.in_domain, "out-of-domain scores")
        head = self.head
        batch.sentiment_probs = towards_uniform(head.probabilities(vectors, texts), in_domain)
        pooled = pooled_sentiment(head, texts, vectors, need(batch.sentences, "sentences"), self.embedder.embed)
        found = sentiment_from_probs(finish(pooled, head.pipeline_temperature, in_domain), head.labels, 0.0)
        batch.sentiments = _flagged(found, [s.score for s in found], self.config.sentiment_uncertain_below)

    def provenance(self) -> dict[str, dict[str, Any]]:
        return {"sentiment": self.info}


class IntentStage:
    name = "intent"

    def __init__(self, head: EmbeddingHead, note: str | None, config: RuntimeConfig, provenance: Provenance):
        self.head, self.config = head, config
        self.info = provenance.head("intent", "intent_head", head, note)

    def classify(self, texts: list[str], vectors: np.ndarray, in_domain: np.ndarray) -> tuple[np.ndarray, list[Intent]]:
        """The final probabilities (an urgency input) and the intent each text gets."""
        head, threshold = self.head, self.config.intent_uncertain_below
        probs = finish(head.probabilities(vectors, texts), head.pipeline_temperature, in_domain)
        return probs, [Intent(head.labels[int(row.argmax())], float(row.max()), bool(row.max() < threshold))
                       for row in probs]

    def run(self, batch: Batch) -> None:
        batch.intent_probs, batch.intents = self.classify(
            batch.texts, need(batch.vectors, "embeddings"), need(batch.in_domain, "out-of-domain scores"))

    def provenance(self) -> dict[str, dict[str, Any]]:
        return {"intent": self.info}


class UrgencyStage:
    name = "urgency"

    def __init__(self, model: UrgencyModel, rules: UrgencyRules, note: str | None, config: RuntimeConfig,
                 provenance: Provenance):
        self.model, self.rules, self.config = model, rules, config
        self.info = provenance.extra(
            f"urgency model ({provenance.embedding.name} + rule signals, stated priority, sentiment, intent)",
            "urgency_model", note, rules_sha256=rules.sha256, examples_sha256=model.examples_sha256,
            origin=model.origin)

    def run(self, batch: Batch) -> None:
        evidence = UrgencyEvidence(batch.texts, need(batch.vectors, "embeddings"), batch.priorities,
                                   need(batch.intent_probs, "intent probabilities"),
                                   need(batch.sentiment_probs, "sentiment probabilities"))
        threshold = self.config.urgency_uncertain_below
        batch.urgencies = [replace(u, uncertain=bool(u.confidence < threshold)) for u in
                           self.model.assess(self.rules, evidence, need(batch.in_domain, "out-of-domain scores"))]

    def provenance(self) -> dict[str, dict[str, Any]]:
        return {"urgency": self.info}


class _Summary:
    """Tickets shorter than `summary_min_words` (by words, and by characters: one 99,000-character
    "word" is not short) are their own summary; the others are `summarize`d."""

    name = "summary"
    kind = ""  # summary_kind of the summaries it makes
    preset_name: str | None = None  # summary_preset of the summaries it makes

    def __init__(self, config: RuntimeConfig):
        self.config = config

    def summarize(self, batch: Batch, rows: list[int]) -> list[str]:
        raise NotImplementedError

    def run(self, batch: Batch) -> None:
        texts, short_words = batch.texts, self.config.summary_min_words
        long = [i for i, text in enumerate(texts)
                if len(text.split()) >= short_words or len(text) > 12 * max(short_words, 1)]
        summaries, kinds = list(texts), ["original"] * len(texts)
        presets: list[str | None] = [None] * len(texts)
        if long:
            for i, summary in zip(long, self.summarize(batch, long), strict=True):
                summaries[i], kinds[i], presets[i] = summary, self.kind, self.preset_name
        batch.summaries, batch.summary_kinds, batch.summary_presets = summaries, kinds, presets


class AbstractiveSummary(_Summary):
    """DistilBART with a named preset (runtime/presets.py), never longer than its ticket."""

    kind = "abstractive"

    def __init__(self, summarizer: Summarizer, preset: SummaryPreset, config: RuntimeConfig, provenance: Provenance):
        super().__init__(config)
        self.summarizer, self.preset, self.preset_name = summarizer, preset, preset.name
        self.info = provenance.model(provenance.manifest.models["summary"])

    def summarize(self, batch: Batch, rows: list[int]) -> list[str]:
        texts = [batch.texts[i] for i in rows]
        made = self.summarizer.summarize(texts, self.preset.config, self.preset.budget)
        return [fit_to_ticket(summary, text) for summary, text in zip(made, texts, strict=True)]

    def provenance(self) -> dict[str, dict[str, Any]]:
        return {"summary": self.info}


class ExtractiveSummary(_Summary):
    """The sentences closest to the whole ticket's embedding, in reading order (runtime/extractive.py)."""

    kind = "extractive"

    def __init__(self, config: RuntimeConfig, provenance: Provenance):
        super().__init__(config)
        self.info = provenance.embedding_derived(f"extractive ({provenance.embedding.name} sentence centrality)")

    def summarize(self, batch: Batch, rows: list[int]) -> list[str]:
        per_text, blocks = need(batch.sentences, "sentences")
        vectors, config = need(batch.vectors, "embeddings"), self.config
        return [pick_central(per_text[i], blocks[i], vectors[i], config.extractive_sentences,
                             config.extractive_max_words) for i in rows]

    def provenance(self) -> dict[str, dict[str, Any]]:
        return {"summary": self.info}
