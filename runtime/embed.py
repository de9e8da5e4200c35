"""Sentence embeddings with MiniLM: tokenize -> session.run -> mean pool + L2 normalise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from runtime.manifest import ModelEntry
from runtime.session import SessionSettings, make_session
from runtime.text import load_tokenizer, pad, plan_batches, token_ids


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average of the token vectors the mask keeps: [B, T, D], [B, T] -> [B, D]."""
    weights = mask[..., None].astype(hidden.dtype)
    pooled: np.ndarray = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    return pooled


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    unit: np.ndarray = vectors / np.clip(norms, 1e-12, None)
    return unit


class EncoderModel:
    """An encoder-only ONNX graph fed input_ids / attention_mask (/ token_type_ids)."""

    def __init__(self, session: ort.InferenceSession, tokenizer: Tokenizer, pad_id: int = 0, max_batch: int = 32):
        self.session = session
        self.tokenizer = tokenizer
        self.pad_id = pad_id
        self.max_batch = max_batch
        self.input_names = {i.name for i in session.get_inputs()}

    @classmethod
    def load(cls, root: Path, entry: ModelEntry, variant: str, settings: SessionSettings) -> EncoderModel:
        tokenizer = load_tokenizer(Path(root) / entry.tokenizer.path, int(entry.settings.get("max_length", 512)),
                                   entry.settings.get("vocab_size"))
        session = make_session(Path(root) / entry.variants[variant].files["model"].path, settings)
        return cls(session, tokenizer, pad_id=int(entry.settings.get("pad_token_id", 0)))

    def run_batches(self, texts: list[str], post: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """Tokenize all texts, run length-sorted padded batches, apply `post(output, mask)` per
        batch and return the rows in the callers' order."""
        sequences = token_ids(self.tokenizer, texts)
        results: list[np.ndarray | None] = [None] * len(texts)
        for batch in plan_batches([len(s) for s in sequences], self.max_batch):
            encoded = pad([sequences[i] for i in batch], self.pad_id)
            feeds = {"input_ids": encoded.ids, "attention_mask": encoded.mask}
            if "token_type_ids" in self.input_names:
                feeds["token_type_ids"] = np.zeros_like(encoded.ids)
            output = self.session.run(None, feeds)[0]
            for row, value in zip(batch, post(output, encoded.mask), strict=True):
                results[row] = value
        # plan_batches covers every index: no row is left None.
        return np.stack(cast("list[np.ndarray]", results)) if results else np.zeros((0, 0), np.float32)


class Embedder:
    def __init__(self, model: EncoderModel, normalize: bool = True):
        self.model = model
        self.normalize = normalize

    @classmethod
    def load(cls, root: Path, entry: ModelEntry, variant: str, settings: SessionSettings) -> Embedder:
        return cls(EncoderModel.load(root, entry, variant, settings), bool(entry.settings.get("normalize", True)))

    def _post(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        pooled = mean_pool(hidden, mask)
        return l2_normalize(pooled) if self.normalize else pooled

    def embed(self, texts: list[str]) -> np.ndarray:
        """[len(texts), dim] float32 embeddings, unit length."""
        return self.model.run_batches(texts, self._post).astype(np.float32, copy=False)

    def vocabulary(self) -> frozenset[str]:
        """The whole words the tokenizer knows (no word pieces): evidence of English text."""
        return frozenset(token for token in self.model.tokenizer.get_vocab() if token.isalpha())
