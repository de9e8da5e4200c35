"""The offline profile's summary: the most central sentences of the ticket, in their order.

Centrality is the cosine between a sentence's embedding and the whole ticket's embedding;
greetings and sign-offs sit far from the ticket's topic and drop out on their own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from runtime.text import split_sentences

MIN_SENTENCE_WORDS = 3


def candidate_sentences(text: str) -> list[str]:
    sentences = split_sentences(text)
    useful = [s for s in sentences if len(s.split()) >= MIN_SENTENCE_WORDS]
    return useful or sentences


def pick_central(sentences: list[str], sentence_vectors: np.ndarray, ticket_vector: np.ndarray,
                 count: int, max_words: int) -> str:
    """Top `count` sentences by cosine to the ticket (unit vectors), kept in reading order,
    stopping before the summary would pass `max_words`."""
    scores = sentence_vectors @ ticket_vector
    chosen: list[int] = []
    words = 0
    for index in np.argsort(-scores, kind="stable"):
        length = len(sentences[index].split())
        if chosen and words + length > max_words:
            continue
        chosen.append(int(index))
        words += length
        if len(chosen) == count:
            break
    return " ".join(sentences[i] for i in sorted(chosen))


def extractive_summaries(texts: list[str], ticket_vectors: np.ndarray,
                         embed: Callable[[list[str]], np.ndarray], count: int = 2,
                         max_words: int = 60) -> list[str]:
    """One summary per text; every sentence of the batch is embedded in one call."""
    per_ticket = [candidate_sentences(text) for text in texts]
    flat = [s for sentences in per_ticket for s in sentences]
    vectors = embed(flat) if flat else np.zeros((0, ticket_vectors.shape[1]), np.float32)
    summaries, start = [], 0
    for sentences, ticket_vector in zip(per_ticket, ticket_vectors):
        block = vectors[start : start + len(sentences)]
        start += len(sentences)
        summaries.append(pick_central(sentences, block, ticket_vector, count, max_words) if sentences else "")
    return summaries
