"""Sentence-level views of a ticket for the offline profile: the extractive summary (the most
central sentences, in their order) and the per-sentence sentiment evidence.

Centrality is the cosine between a sentence's embedding and the whole ticket's embedding;
greetings and sign-offs sit far from the ticket's topic and drop out on their own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from runtime.text import split_sentences

# Every text's sentences, and their embeddings ([sentences, D] per text).
Sentences = tuple[list[list[str]], list[np.ndarray]]

MIN_SENTENCE_WORDS = 3
MAX_SENTENCES = 40  # a pasted thread can hold hundreds; the first 40 carry the request


def candidate_sentences(text: str) -> list[str]:
    sentences = split_sentences(text)
    useful = [s for s in sentences if len(s.split()) >= MIN_SENTENCE_WORDS]
    return (useful or sentences or [text])[:MAX_SENTENCES]


def embed_sentences(texts: list[str], embed: Callable[[list[str]], np.ndarray]) -> Sentences:
    """Split every text into sentences and embed all of them in one call."""
    per_text = [candidate_sentences(text) for text in texts]
    flat = [s for sentences in per_text for s in sentences]
    vectors = embed(flat)
    blocks, start = [], 0
    for sentences in per_text:
        blocks.append(vectors[start : start + len(sentences)])
        start += len(sentences)
    return per_text, blocks


def pick_central(sentences: list[str], sentence_vectors: np.ndarray, ticket_vector: np.ndarray,
                 count: int, max_words: int) -> str:
    """Top `count` sentences by cosine to the ticket (unit vectors), kept in reading order,
    skipping any that would take the summary past `max_words`."""
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
    summary = " ".join(sentences[i] for i in sorted(chosen))
    summary_words = summary.split()
    # One run-on "sentence" (no punctuation, a pasted log) can be the whole ticket: cut it.
    return summary if len(summary_words) <= max_words else " ".join(summary_words[:max_words]) + " …"
