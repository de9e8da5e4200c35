"""Sentence embeddings from an encoder (all-MiniLM-L6-v2): Optimum's feature-extraction graph;
parity on the mean-pooled, L2-normalised embedding (the runtime's own pooling, runtime/embed.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from export.architectures.base import Architecture, ParityChecker
from export.errors import OutputCheck
from export.parity import Feed, open_session, raise_if_failed, session_feeds, tokenize_batches, torch_inputs
from export.texts import PARITY_TEXTS


class EncoderEmbedding(Architecture):
    name = "encoder-embedding"

    def checker(self, checkpoint: Path, tokenizer_path: Path, pad_id: int,
                generation: Mapping[str, Any]) -> ParityChecker:
        return EmbeddingParity(checkpoint, tokenizer_path, pad_id)


class EmbeddingParity:
    """Mean-pooled, L2-normalised sentence embeddings (MiniLM)."""

    FP32_COSINE_MIN = 0.99999
    INT8_COSINE_MIN = 0.99

    def __init__(self, checkpoint: Path, tokenizer_path: Path, pad_id: int = 0):
        import torch
        from transformers import AutoModel

        self.batches = tokenize_batches(tokenizer_path, PARITY_TEXTS, pad_id)
        model = AutoModel.from_pretrained(checkpoint).eval()
        with torch.inference_mode():
            self.reference = [
                self.pool(model(**torch_inputs(b)).last_hidden_state.numpy(), b) for b in self.batches
            ]

    @staticmethod
    def pool(hidden: np.ndarray, batch: Feed) -> np.ndarray:
        mask = batch["attention_mask"][..., None].astype(np.float64)
        summed = (hidden.astype(np.float64) * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        pooled: np.ndarray = summed / np.linalg.norm(summed, axis=-1, keepdims=True)
        return pooled

    def check(self, role: str, variant: str, files: dict[str, Path]) -> dict[str, Any]:
        session = open_session(files["model"])
        cosines = np.concatenate(
            [
                (self.pool(session.run(None, session_feeds(session, b))[0], b) * ref).sum(axis=-1)
                for b, ref in zip(self.batches, self.reference, strict=True)
            ]
        )
        gate = self.FP32_COSINE_MIN if variant == "fp32" else self.INT8_COSINE_MIN
        checks = [OutputCheck("embedding", "cosine_min", float(cosines.min()), gate, higher_is_better=True)]
        raise_if_failed(role, variant, checks)
        return {
            "cosine_min": round(float(cosines.min()), 6),
            "cosine_mean": round(float(cosines.mean()), 6),
            "texts": len(PARITY_TEXTS),
        }
