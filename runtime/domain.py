"""Is this an English support ticket at all? A small logistic model whose answer (0..1) pulls
every label's confidence towards "no idea" for content-free, off-topic or non-English text.

Its evidence: how close the ticket's embedding is to the examples the heads were fitted on
(mean cosine of the three nearest), how many of its words MiniLM's English vocabulary knows,
how many are English function words, its length and its share of letters. Fitted at export
time on the heads' training examples (in domain) against data/out_of_domain.json (content-free,
off-topic, non-English), with class-balanced weights.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runtime.logistic import fit_logistic
from runtime.ngrams import words

NEAREST = 3
L2 = 0.001
FEATURES = ("nearest_cosine", "known_words", "function_words", "log_words", "letters")
FUNCTION_WORDS = frozenset(
    "a an the i me my we our us you your it its is are was were be been am do does did have has had to of in on "
    "at for with from by and or but not no this that these those there here what when where why how which who "
    "can could would should will shall may might must please thanks thank hi hello dear so if as up out about "
    "just any all some since still again after before because yet".split()
)


def text_features(texts: Sequence[str], vocabulary: Collection[str]) -> np.ndarray:
    """[N, 4]: known-word share, function-word share, log(1 + words), letter share."""
    rows = []
    for text in texts:
        tokens = [w for w in words(text) if not w.isdigit()]
        count = len(tokens)
        known = sum(w in vocabulary for w in tokens) / count if count else 0.0
        function = sum(w in FUNCTION_WORDS for w in tokens) / count if count else 0.0
        letters = sum(c.isalpha() for c in text) / max(len(text), 1)
        rows.append((known, function, math.log1p(count), letters))
    return np.asarray(rows, np.float64).reshape(len(rows), 4)


def nearest_cosine(embeddings: np.ndarray, reference: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    """Mean cosine of each (unit) embedding to its NEAREST closest reference rows."""
    sims = np.asarray(embeddings, np.float32) @ reference.T
    if exclude_self:  # a training example is not evidence for itself
        sims[sims > 0.9999] = -1.0
    top: np.ndarray = np.sort(sims, axis=1)[:, -NEAREST:].mean(axis=1).astype(np.float64)
    return top


@dataclass(frozen=True)
class DomainModel:
    reference: np.ndarray  # [M, D] float16 unit embeddings of the in-domain examples
    weights: np.ndarray  # [F]
    bias: float
    fit_report: dict[str, Any] = field(default_factory=dict)

    def scores(self, texts: Sequence[str], embeddings: np.ndarray, vocabulary: Collection[str]) -> np.ndarray:
        """Probability, per ticket, that it is an English support ticket."""
        features = np.hstack([nearest_cosine(embeddings, self.reference.astype(np.float32))[:, None],
                              text_features(texts, vocabulary)])
        probability: np.ndarray = 1.0 / (1.0 + np.exp(-(features @ self.weights + self.bias)))
        return probability

    def to_json(self) -> str:
        packed = base64.b64encode(self.reference.astype("<f2").tobytes()).decode("ascii")
        return json.dumps({"kind": "domain", "features": list(FEATURES), "weights": self.weights.tolist(),
                           "bias": self.bias, "reference_shape": list(self.reference.shape),
                           "reference_float16_base64": packed, "fit_report": self.fit_report})

    @classmethod
    def from_json(cls, text: str) -> DomainModel:
        raw = json.loads(text)
        reference = np.frombuffer(base64.b64decode(raw["reference_float16_base64"]), dtype="<f2")
        return cls(reference.reshape(raw["reference_shape"]), np.asarray(raw["weights"], np.float64),
                   float(raw["bias"]), raw.get("fit_report", {}))


def fit_domain(in_texts: Sequence[str], in_embeddings: np.ndarray, out_texts: Sequence[str],
               out_embeddings: np.ndarray, vocabulary: Collection[str]) -> DomainModel:
    reference = np.asarray(in_embeddings, np.float16)
    ref32 = reference.astype(np.float32)
    x = np.vstack([
        np.hstack([nearest_cosine(in_embeddings, ref32, exclude_self=True)[:, None], text_features(in_texts, vocabulary)]),
        np.hstack([nearest_cosine(out_embeddings, ref32)[:, None], text_features(out_texts, vocabulary)]),
    ])
    y = np.r_[np.ones(len(in_texts), np.int64), np.zeros(len(out_texts), np.int64)]
    balance = np.where(y == 1, 0.5 / max(len(in_texts), 1), 0.5 / max(len(out_texts), 1))
    weights, bias = fit_logistic(x, y, 2, L2, sample_weight=balance)
    w, b = weights[:, 1] - weights[:, 0], float(bias[1] - bias[0])
    score = 1.0 / (1.0 + np.exp(-(x @ w + b)))
    report = {"in_domain": len(in_texts), "out_of_domain": len(out_texts),
              "in_domain_below_0.5": round(float((score[y == 1] < 0.5).mean()), 4),
              "out_of_domain_above_0.5": round(float((score[y == 0] >= 0.5).mean()), 4),
              "weights": dict(zip(FEATURES, np.round(w, 3).tolist(), strict=True))}
    return DomainModel(reference, w, b, report)


def towards_uniform(probs: np.ndarray, in_domain: np.ndarray) -> np.ndarray:
    """Mix each row with the uniform distribution by (1 - its in-domain score): the argmax stays,
    the confidence drops when the text does not look like a ticket."""
    d = np.asarray(in_domain, np.float64)[:, None]
    mixed: np.ndarray = d * probs + (1.0 - d) / probs.shape[1]
    return mixed
