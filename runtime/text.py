"""Tokenization and batching shared by every encoder model: pre-processing only, numpy out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer


def load_tokenizer(path: str | Path, max_length: int) -> Tokenizer:
    """A `tokenizers` Tokenizer with no baked-in padding and truncation at `max_length`.

    MiniLM's tokenizer.json pads and truncates to 128; sentence-transformers truncates at 256
    and pads per batch, which is what we match.
    """
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


@dataclass(frozen=True)
class Encoded:
    """A padded batch: ids and mask are [batch, longest] int64."""

    ids: np.ndarray
    mask: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        lengths: np.ndarray = self.mask.sum(axis=1)
        return lengths


def pad(sequences: list[list[int]], pad_id: int) -> Encoded:
    longest = max((len(s) for s in sequences), default=0)
    ids = np.full((len(sequences), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), longest), dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return Encoded(ids=ids, mask=mask)


def token_ids(tokenizer: Tokenizer, texts: list[str]) -> list[list[int]]:
    return [encoding.ids for encoding in tokenizer.encode_batch(texts)]


def plan_batches(lengths: list[int], max_batch: int = 32, max_waste: float = 0.25) -> list[list[int]]:
    """Group indices into length-sorted batches so that padding wastes at most `max_waste` of
    each batch's tokens. Longest first, so the largest buffers are allocated first."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        candidate = current + [index]
        longest = lengths[candidate[0]]
        real = sum(lengths[i] for i in candidate)
        if current and (len(candidate) > max_batch or longest * len(candidate) > real * (1 + max_waste)):
            batches.append(current)
            candidate = [index]
        current = candidate
    if current:
        batches.append(current)
    return batches


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*\n|\n(?=\s*[-*•]\s)")


def split_sentences(text: str) -> list[str]:
    """Sentences for the extractive summary: split after . ! ? before a capital, and at blank lines."""
    parts = [part.strip() for part in _SENTENCE_END.split(text)]
    return [part for part in parts if part]
