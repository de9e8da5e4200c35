"""Sequence classification (DistilBERT SST-2): tokenize -> logits -> softmax -> label."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runtime.embed import EncoderModel
from runtime.manifest import ModelEntry
from runtime.session import SessionSettings


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = logits - logits.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)


@dataclass(frozen=True)
class Sentiment:
    label: str  # POSITIVE | NEGATIVE | NEUTRAL
    score: float  # probability of the label the model preferred
    uncertain: bool = False  # score below the configured threshold (RuntimeConfig.sentiment_uncertain_below)


def sentiment_from_probs(probs: np.ndarray, labels: tuple[str, ...], neutral_below: float) -> list[Sentiment]:
    """Argmax label per row; NEUTRAL when the winning probability is below `neutral_below`.

    Works for two-way heads (SST-2) and for three-way heads that already have NEUTRAL.
    """
    out = []
    for row in probs:
        best = int(row.argmax())
        label, score = labels[best], float(row[best])
        out.append(Sentiment("NEUTRAL" if score < neutral_below else label, score))
    return out


class SequenceClassifier:
    def __init__(self, model: EncoderModel, labels: tuple[str, ...]):
        self.model = model
        self.labels = labels

    @classmethod
    def load(cls, root: Path, entry: ModelEntry, variant: str, settings: SessionSettings) -> SequenceClassifier:
        return cls(EncoderModel.load(root, entry, variant, settings), entry.labels)

    def logits(self, texts: list[str]) -> np.ndarray:
        return self.model.run_batches(texts, lambda logits, _mask: logits)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return softmax(self.logits(texts).astype(np.float64))


def combine_sentence_probs(whole: np.ndarray, sentences: np.ndarray, labels: tuple[str, ...],
                           neutral: str = "NEUTRAL", whole_weight: float = 0.7) -> np.ndarray:
    """Sentiment of a ticket from the whole text and its sentences: the most emotional
    sentence speaks for the ticket ("This is the third time I ask." in a calm paragraph),
    so emotional labels take their maximum over sentences and the neutral label its mean.

    Measured on the labelled tickets with the offline head (sentiment.json v2): whole text
    only 0.746, sentences only 0.648, whole weighted 0.5 -> 0.750, 0.7 -> 0.775.
    """
    pooled = np.where(np.asarray([label == neutral for label in labels]),
                      sentences.mean(axis=0), sentences.max(axis=0))
    combined = whole_weight * whole + (1.0 - whole_weight) * pooled
    return combined / combined.sum()
