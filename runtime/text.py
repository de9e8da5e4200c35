"""Tokenization and batching shared by every encoder model: pre-processing only, numpy out."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from runtime.errors import RuntimeArtifactError


def load_tokenizer(path: str | Path, max_length: int, rows: int | None = None) -> Tokenizer:
    """A `tokenizers` Tokenizer with no baked-in padding and truncation at `max_length`, which
    reads special-token text as text.

    MiniLM's tokenizer.json pads and truncates to 128; sentence-transformers truncates at 256
    and pads per batch, which is what we match.

    Special-token text is text: `tokenizers` matches added special tokens (`<mask>`, `</s>`,
    `[CLS]`, ...) inside the raw text, so a customer typing "<mask>" would hand the model a control
    token, or (real BART: `<mask>` = 50264, 50,264 rows) an id past its embedding table. With
    `encode_special_tokens` such text is tokenized like any other (id-for-id what transformers gives
    with `split_special_tokens=True`); the post-processor still adds the model's own `<s>`/`[CLS]`.
    With `rows` (the model's embedding rows), refuse a tokenizer whose text could still produce an
    id past them.
    """
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    tokenizer.encode_special_tokens = True
    # Every id the tokenizer knows fits (the usual case): nothing to work out.
    if rows is not None and max(tokenizer.get_vocab(with_added_tokens=True).values(), default=-1) >= rows:
        largest = largest_text_id(tokenizer)
        if largest >= rows:
            raise RuntimeArtifactError(
                f"the tokenizer {path} can produce token id {largest} from ticket text, but its model has "
                f"{rows} embedding rows (ids 0..{rows - 1}): that ticket would crash the model. Re-export so "
                "that the tokenizer and the model match (`ticket-enrich export --force`)."
            )
    return tokenizer


def largest_text_id(tokenizer: Tokenizer) -> int:
    """The largest id that encoding any text can give with special tokens read as text: the
    post-processor's own ids, non-special added tokens, and the model's vocabulary (for BPE only
    what its alphabet and merges can build: Hub BART lists `<mask>` in vocab.json, but no merge
    makes it)."""
    spec = json.loads(tokenizer.to_str())
    model = spec["model"]
    ids: set[int] = set(tokenizer.encode("a").ids)  # what the post-processor adds around any text
    ids.update(t["id"] for t in spec.get("added_tokens", []) if not t.get("special"))
    if model.get("type") == "BPE":
        vocab: dict[str, int] = model["vocab"]
        ids.update(vocab[token] for token in _bpe_reachable(model) if token in vocab)
    else:
        ids.update(tokenizer.get_vocab(with_added_tokens=False).values())
    return max(ids)


def _bpe_reachable(model: dict[str, Any]) -> set[str]:
    """Tokens a BPE model can emit: single symbols (with the subword prefix/suffix the model
    puts on them), byte-fallback tokens, its unknown token, and every merge result."""
    prefix = model.get("continuing_subword_prefix") or ""
    suffix = model.get("end_of_word_suffix") or ""
    found = {token for token in model["vocab"]
             if len(token.removeprefix(prefix).removesuffix(suffix)) == 1
             or (model.get("byte_fallback") and re.fullmatch(r"<0x[0-9A-F]{2}>", token))}
    if model.get("unk_token"):
        found.add(model["unk_token"])
    for merge in model.get("merges", []):
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        found.add(left + right.removeprefix(prefix))
    return found


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
