"""Word and word-pair (bigram) features with tf-idf weights: the lexical half of a head.

MiniLM's mean-pooled embedding says what a ticket is about; the words say what the customer
asks for ("please add", "refund", "any plans", "before I buy"). A ridge classifier on these
features, blended with the embedding head, is what lifted intent on tickets we did not write
(see docs/LABELS.md). The vocabulary is the training texts' n-grams seen at least twice.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_COUNT = 2
MAX_VOCABULARY = 4000
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """Lower-cased words, accents stripped (as MiniLM's uncased tokenizer does)."""
    folded = unicodedata.normalize("NFKD", text.lower().replace("\u2019", "'"))
    return _WORD.findall("".join(c for c in folded if not unicodedata.combining(c)))


def ngrams(text: str) -> list[str]:
    tokens = words(text)
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]


@dataclass(frozen=True)
class NgramFeatures:
    vocabulary: dict[str, int]
    idf: np.ndarray  # [V]

    @classmethod
    def build(cls, texts: Sequence[str], min_count: int = MIN_COUNT,
              max_size: int = MAX_VOCABULARY) -> NgramFeatures:
        counts: Counter[str] = Counter(g for text in texts for g in set(ngrams(text)))
        kept = sorted((g for g, c in counts.items() if c >= min_count), key=lambda g: (-counts[g], g))[:max_size]
        kept.sort()
        # rounded as stored, so that a head read back from JSON scores exactly as fitted
        idf = np.asarray([round(math.log((1 + len(texts)) / (1 + counts[g])) + 1.0, 6) for g in kept])
        return cls({g: i for i, g in enumerate(kept)}, idf)

    def transform(self, texts: Iterable[str]) -> np.ndarray:
        """[N, V] sub-linear tf-idf rows, L2-normalised (an empty row stays zero)."""
        texts = list(texts)
        out = np.zeros((len(texts), len(self.vocabulary)))
        for row, text in enumerate(texts):
            for gram, count in Counter(ngrams(text)).items():
                column = self.vocabulary.get(gram)
                if column is not None:
                    out[row, column] = 1.0 + math.log(count)
        out *= self.idf
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)

    def to_dict(self) -> dict[str, Any]:
        ordered = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        return {"vocabulary": ordered, "idf": self.idf.tolist()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> NgramFeatures:
        return cls({g: i for i, g in enumerate(raw["vocabulary"])}, np.asarray(raw["idf"], np.float64))
