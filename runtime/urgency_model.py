"""Urgency learned from evidence: a small calibrated multinomial logistic regression.

Its features, per ticket: which rule signals fired (data/urgency.json, as 0/1), the stated
priority (one-hot, or "none"), the sentiment and intent probabilities, and projections of the
embedding and of the words onto the urgency levels (ridge classifiers' scores, stacked: fitted
out-of-fold so that the logistic regression learns how far to trust them). Fitted at export time on labelled
example tickets (data/urgency_examples.jsonl), stored as JSON in the artifacts, calibrated by a
temperature on the out-of-fold probabilities. The signals that fired (and the stated priority)
are the explanation listed with each level.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runtime.classify import softmax
from runtime.domain import towards_uniform
from runtime.heads import Ridge, best_temperature, fit_ridge, folds
from runtime.logistic import fit_logistic
from runtime.ngrams import NgramFeatures
from runtime.urgency import Urgency, UrgencyRules

LAMBDAS = (0.001, 0.003, 0.01, 0.03)
EMBEDDING_L2 = 3.0
WORDS_L2 = 1.0
FOLDS = 5
NO_PRIORITY = "none"


@dataclass(frozen=True)
class UrgencyEvidence:
    """What the urgency model reads for a batch of tickets."""

    texts: Sequence[str]
    embeddings: np.ndarray  # [N, D]
    priorities: Sequence[str | None]  # canonical level names, or None
    intent: np.ndarray  # [N, K] probabilities, in the intent head's label order
    sentiment: np.ndarray  # [N, 3] probabilities, in the sentiment head's label order


def _fixed_features(rules: UrgencyRules, evidence: UrgencyEvidence) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Signals, stated priority, sentiment and intent: everything but the embedding projection."""
    names = {name: i for i, name in enumerate(rules.names)}
    slots = {name: i for i, name in enumerate((*rules.levels, NO_PRIORITY))}
    fired = [rules.fired(text) for text in evidence.texts]
    signals = np.zeros((len(fired), len(names)))
    priority = np.zeros((len(fired), len(slots)))
    for row, (hits, stated) in enumerate(zip(fired, evidence.priorities, strict=True)):
        signals[row, [names[h] for h in hits]] = 1.0
        priority[row, slots.get(stated or NO_PRIORITY, slots[NO_PRIORITY])] = 1.0
    return np.hstack([signals, priority, evidence.sentiment, evidence.intent]), fired


@dataclass(frozen=True)
class UrgencyModel:
    levels: tuple[str, ...]  # what it answers: the rules' levels, or a team's own (`ticket-enrich fit`)
    feature_names: tuple[str, ...]
    intent_labels: tuple[str, ...]
    sentiment_labels: tuple[str, ...]
    embedding: Ridge  # embedding -> one score per level
    ngrams: NgramFeatures
    words: Ridge  # word/bigram tf-idf -> one score per level
    weights: np.ndarray  # [F, L]
    bias: np.ndarray  # [L]
    temperature: float
    rules_sha256: str
    examples_sha256: str
    fit_report: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, rules: UrgencyRules, evidence: UrgencyEvidence) -> tuple[np.ndarray, list[tuple[str, ...]]]:
        fixed, fired = _fixed_features(rules, evidence)
        features = np.hstack([fixed, self.embedding.scores(evidence.embeddings),
                              self.words.scores(self.ngrams.transform(evidence.texts))])
        return softmax((features @ self.weights + self.bias) / self.temperature), fired

    def assess(self, rules: UrgencyRules, evidence: UrgencyEvidence,
               in_domain: np.ndarray | None = None) -> list[Urgency]:
        """The level of each ticket, its confidence (pulled towards 1/levels by `in_domain`, the
        out-of-domain model's score) and the signals that fired, as its explanation."""
        probs, fired = self.probabilities(rules, evidence)
        if in_domain is not None:
            probs = towards_uniform(probs, in_domain)
        out = []
        for row, hits, stated in zip(probs, fired, evidence.priorities, strict=True):
            best = int(row.argmax())
            explanation = hits + ((f"stated_priority:{stated}",) if stated else ())
            out.append(Urgency(self.levels[best], explanation, float(row[best])))
        return out

    def to_json(self) -> str:
        return json.dumps({
            "kind": "urgency_model", "levels": list(self.levels), "feature_names": list(self.feature_names),
            "intent_labels": list(self.intent_labels), "sentiment_labels": list(self.sentiment_labels),
            "embedding": self.embedding.to_dict(), "ngrams": self.ngrams.to_dict(), "words": self.words.to_dict(),
            "weights": self.weights.tolist(), "bias": self.bias.tolist(),
            "temperature": self.temperature, "rules_sha256": self.rules_sha256,
            "examples_sha256": self.examples_sha256, "fit_report": self.fit_report, "origin": self.origin,
        })

    @classmethod
    def from_json(cls, text: str) -> UrgencyModel:
        raw = json.loads(text)
        return cls(
            levels=tuple(raw["levels"]), feature_names=tuple(raw["feature_names"]),
            intent_labels=tuple(raw["intent_labels"]), sentiment_labels=tuple(raw["sentiment_labels"]),
            embedding=Ridge.from_dict(raw["embedding"]), ngrams=NgramFeatures.from_dict(raw["ngrams"]),
            words=Ridge.from_dict(raw["words"]), weights=np.asarray(raw["weights"], np.float64),
            bias=np.asarray(raw["bias"], np.float64), temperature=float(raw["temperature"]),
            rules_sha256=raw["rules_sha256"], examples_sha256=raw["examples_sha256"],
            fit_report=raw.get("fit_report", {}), origin=raw.get("origin", {}),
        )

    def fits(self, rules: UrgencyRules, intent_labels: Sequence[str], sentiment_labels: Sequence[str]) -> bool:
        """Whether this model was fitted with these rules and these heads' label sets."""
        return (self.rules_sha256 == rules.sha256 and self.intent_labels == tuple(intent_labels)
                and self.sentiment_labels == tuple(sentiment_labels))


@dataclass(frozen=True)
class _Projections:
    embedding: Ridge
    ngrams: NgramFeatures
    words: Ridge

    @classmethod
    def fit(cls, texts: Sequence[str], embeddings: np.ndarray, y: np.ndarray, classes: int) -> _Projections:
        ngrams = NgramFeatures.build(list(texts))
        return cls(fit_ridge(embeddings, y, classes, EMBEDDING_L2), ngrams,
                   fit_ridge(ngrams.transform(texts), y, classes, WORDS_L2))

    def scores(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        return np.hstack([self.embedding.scores(embeddings), self.words.scores(self.ngrams.transform(texts))])


def _stacked_scores(texts: Sequence[str], embeddings: np.ndarray, y: np.ndarray, classes: int,
                    fold_count: int) -> np.ndarray:
    """Out-of-fold projection scores: what the projections say on tickets they were not fitted on."""
    out = np.zeros((len(y), 2 * classes))
    fold = folds(y, fold_count, seed=1)
    for k in range(fold_count):
        train = fold != k
        fitted = _Projections.fit([t for t, keep in zip(texts, train, strict=True) if keep], embeddings[train],
                                  y[train], classes)
        out[~train] = fitted.scores([t for t, keep in zip(texts, train, strict=True) if not keep], embeddings[~train])
    return out


@dataclass(frozen=True)
class UrgencyFit:
    model: UrgencyModel
    oof_probabilities: np.ndarray  # [N, L] out-of-fold, calibrated


def cross_validate_urgency(rules: UrgencyRules, evidence: UrgencyEvidence, targets: np.ndarray,
                           levels: Sequence[str], intent_labels: Sequence[str], sentiment_labels: Sequence[str],
                           examples_sha256: str, origin: dict[str, Any] | None = None,
                           fold_count: int = FOLDS) -> UrgencyFit:
    """Fit the model on labelled tickets (`targets` index `levels`: the rules' levels, or a team's
    own) and say how it does on tickets it did not see (stratified k-fold, stacking nested)."""
    y = np.asarray(targets, np.int64)
    classes = len(levels)
    fixed, _ = _fixed_features(rules, evidence)
    embeddings = np.asarray(evidence.embeddings, np.float64)
    outer = folds(y, fold_count)
    oof = {lam: np.zeros((len(y), classes)) for lam in LAMBDAS}
    texts = list(evidence.texts)
    for k in range(fold_count):
        train, held = outer != k, outer == k
        train_texts = [t for t, keep in zip(texts, train, strict=True) if keep]
        stacked = _stacked_scores(train_texts, embeddings[train], y[train], classes, fold_count)
        projection = _Projections.fit(train_texts, embeddings[train], y[train], classes)
        held_x = np.hstack([fixed[held], projection.scores([t for t, keep in zip(texts, held, strict=True) if keep],
                                                           embeddings[held])])
        for lam in LAMBDAS:
            weights, bias = fit_logistic(np.hstack([fixed[train], stacked]), y[train], classes, lam)
            oof[lam][held] = held_x @ weights + bias
    lam = max(LAMBDAS, key=lambda v: (float((oof[v].argmax(axis=1) == y).mean()), v))
    temperature, cv_nll = best_temperature(oof[lam], y)
    weights, bias = fit_logistic(np.hstack([fixed, _stacked_scores(texts, embeddings, y, classes, fold_count)]),
                                 y, classes, lam)
    projection = _Projections.fit(texts, embeddings, y, classes)
    names = (*rules.names, *(f"priority:{p}" for p in (*rules.levels, NO_PRIORITY)),
             *(f"sentiment:{s}" for s in sentiment_labels), *(f"intent:{i}" for i in intent_labels),
             *(f"embedding:{level}" for level in levels), *(f"words:{level}" for level in levels))
    accuracy = float((oof[lam].argmax(axis=1) == y).mean())
    report = {"examples": int(len(y)), "folds": fold_count, "l2": lam, "cv_accuracy": round(accuracy, 4),
              "cv_nll": round(cv_nll, 4), "temperature": round(temperature, 4)}
    model = UrgencyModel(tuple(levels), names, tuple(intent_labels), tuple(sentiment_labels),
                         projection.embedding, projection.ngrams, projection.words, weights, bias, temperature,
                         rules.sha256,
                         examples_sha256, report, origin or {"kind": "examples"})
    return UrgencyFit(model, softmax(oof[lam] / temperature))
