"""How a label's final probabilities are formed from a head, so that the export calibrates
exactly what the runtime serves:

    head probabilities (embedding + words)
      -> sentence pooling (offline sentiment: the most emotional sentence speaks for the ticket)
      -> pipeline temperature (fitted at export on example tickets the head never saw)
      -> pulled towards uniform by the out-of-domain score (content-free, off-topic, non-English)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from runtime.classify import combine_sentence_probs, softmax
from runtime.domain import towards_uniform
from runtime.heads import TEMPERATURES, EmbeddingHead

Sentences = tuple[list[list[str]], list[np.ndarray]]  # per ticket: its sentences and their embeddings


def sharpen(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature on probabilities: softmax(log p / T)."""
    if temperature == 1.0:
        return probs
    return softmax(np.log(np.clip(probs, 1e-12, None)) / temperature)


def finish(probs: np.ndarray, temperature: float, in_domain: np.ndarray) -> np.ndarray:
    """The last two steps: the pipeline temperature, then the pull towards uniform."""
    return towards_uniform(sharpen(probs, temperature), in_domain)


def pooled_sentiment(head: EmbeddingHead, texts: Sequence[str], vectors: np.ndarray,
                     sentences: Sentences) -> np.ndarray:
    """Sentiment of the whole text and of its sentences, combined (combine_sentence_probs)."""
    whole = head.probabilities(vectors, texts)
    if not len(texts):
        return whole
    return np.stack([
        combine_sentence_probs(w, head.probabilities(block, sentence_texts), head.labels)
        for w, sentence_texts, block in zip(whole, sentences[0], sentences[1], strict=True)
    ])


CANDIDATE_TEMPERATURES = tuple(float(t) for t in TEMPERATURES[(TEMPERATURES >= 0.25) & (TEMPERATURES <= 4.0)])


def fit_pipeline_temperature(final_at: Callable[[float], np.ndarray], targets: np.ndarray) -> tuple[float, float]:
    """The temperature minimising the negative log-likelihood of the final probabilities on
    labelled tickets (`final_at(t)`: the final probabilities with temperature t), and that NLL."""
    rows = np.arange(len(targets))
    losses = {t: float(-np.log(np.clip(final_at(t)[rows, targets], 1e-12, None)).mean())
              for t in CANDIDATE_TEMPERATURES}
    best = min(losses, key=losses.__getitem__)
    return best, losses[best]
