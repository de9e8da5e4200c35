"""Sequence classification on an encoder (DistilBERT SST-2): Optimum's text-classification graph;
labels from the config's id2label; parity on the logits and the label each text gets."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from export.architectures.base import Architecture, ParityChecker
from export.errors import OutputCheck
from export.parity import open_session, raise_if_failed, session_feeds, tokenize_batches, torch_inputs
from export.texts import PARITY_TEXTS
from runtime.classify import softmax


class EncoderClassifier(Architecture):
    name = "encoder-classifier"

    def labels(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        """Class labels in id order (config.id2label, as transformers loads it)."""
        id2label = config.get("id2label") or {}
        return tuple(id2label[key] for key in sorted(id2label, key=int))

    def checker(self, checkpoint: Path, tokenizer_path: Path, pad_id: int,
                generation: Mapping[str, Any]) -> ParityChecker:
        return ClassifierParity(checkpoint, tokenizer_path, pad_id)


class ClassifierParity:
    """Sequence classification logits (DistilBERT SST-2)."""

    FP32_MAX_ABS_LOGIT = 1e-4
    INT8_LABEL_AGREEMENT = 1.0
    INT8_MAX_ABS_PROB = 0.02

    def __init__(self, checkpoint: Path, tokenizer_path: Path, pad_id: int = 0):
        import torch
        from transformers import AutoModelForSequenceClassification

        self.batches = tokenize_batches(tokenizer_path, PARITY_TEXTS, pad_id)
        model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
        with torch.inference_mode():
            self.reference = np.concatenate([model(**torch_inputs(b)).logits.numpy() for b in self.batches])

    def check(self, role: str, variant: str, files: dict[str, Path]) -> dict[str, Any]:
        session = open_session(files["model"])
        logits = np.concatenate([session.run(None, session_feeds(session, b))[0] for b in self.batches])
        max_logit = float(np.abs(logits - self.reference).max())
        max_prob = float(np.abs(softmax(logits) - softmax(self.reference)).max())
        agreement = float((logits.argmax(-1) == self.reference.argmax(-1)).mean())
        if variant == "fp32":
            checks = [
                OutputCheck(
                    "logits", "max_abs_diff", max_logit, self.FP32_MAX_ABS_LOGIT, higher_is_better=False
                )
            ]
        else:
            checks = [
                OutputCheck(
                    "labels", "agreement", agreement, self.INT8_LABEL_AGREEMENT, higher_is_better=True
                ),
                OutputCheck(
                    "probs", "max_abs_diff", max_prob, self.INT8_MAX_ABS_PROB, higher_is_better=False
                ),
            ]
        raise_if_failed(role, variant, checks)
        return {
            "logits_max_abs_diff": float(f"{max_logit:.3g}"),
            "probs_max_abs_diff": float(f"{max_prob:.3g}"),
            "label_agreement": agreement,
            "rows": len(logits),
        }
