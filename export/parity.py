"""ONNX vs PyTorch eager, per architecture. Tolerances are class attributes.

Each checker computes the PyTorch reference once (`__init__`), then `check(variant, files)`
runs the exported graphs on the same token ids and returns the figures for the manifest;
a missed gate raises ParityError listing every figure. Texts run one at a time and as one
padded batch (dynamic quantization scales per batch, so both matter).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from export.errors import OutputCheck, ParityError
from export.generate import greedy, reference_config, teacher_forced_logits, transformers_generate
from export.texts import PARITY_TEXTS
from runtime.classify import softmax
from runtime.generate import GenerationConfig
from runtime.session import SessionSettings, available_cpus, make_session


def _session(path: Path):
    return make_session(path, SessionSettings(threads=available_cpus()))


def _encode(tokenizer_path: Path, texts: tuple[str, ...], pad_id: int) -> list[dict[str, np.ndarray]]:
    """Each text alone, then all texts as one right-padded batch."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_padding()
    encodings = tokenizer.encode_batch(list(texts))
    batches = [[e.ids] for e in encodings] + [[e.ids for e in encodings]]
    out = []
    for ids in batches:
        width = max(len(row) for row in ids)
        input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        out.append({"input_ids": input_ids, "attention_mask": mask})
    return out


def _feeds(session, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = {i.name for i in session.get_inputs()}
    feeds = {k: v for k, v in batch.items() if k in names}
    if "token_type_ids" in names:
        feeds["token_type_ids"] = np.zeros_like(batch["input_ids"])
    return feeds


def _torch_inputs(batch: dict[str, np.ndarray]):
    import torch

    return {k: torch.from_numpy(v) for k, v in batch.items()}


def _raise_if_failed(model: str, variant: str, checks: list[OutputCheck]) -> None:
    if not all(check.passed for check in checks):
        raise ParityError(model, variant, checks)


class EmbeddingParity:
    """Mean-pooled, L2-normalised sentence embeddings (MiniLM)."""

    FP32_COSINE_MIN = 0.99999
    INT8_COSINE_MIN = 0.99

    def __init__(self, checkpoint: Path, tokenizer_path: Path, pad_id: int = 0):
        import torch
        from transformers import AutoModel

        self.batches = _encode(tokenizer_path, PARITY_TEXTS, pad_id)
        model = AutoModel.from_pretrained(checkpoint).eval()
        with torch.inference_mode():
            self.reference = [
                self.pool(model(**_torch_inputs(b)).last_hidden_state.numpy(), b) for b in self.batches
            ]

    @staticmethod
    def pool(hidden: np.ndarray, batch: dict[str, np.ndarray]) -> np.ndarray:
        mask = batch["attention_mask"][..., None].astype(np.float64)
        summed = (hidden.astype(np.float64) * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        return summed / np.linalg.norm(summed, axis=-1, keepdims=True)

    def check(self, role: str, variant: str, files: dict[str, Path]) -> dict:
        session = _session(files["model"])
        cosines = np.concatenate(
            [
                (self.pool(session.run(None, _feeds(session, b))[0], b) * ref).sum(axis=-1)
                for b, ref in zip(self.batches, self.reference, strict=True)
            ]
        )
        gate = self.FP32_COSINE_MIN if variant == "fp32" else self.INT8_COSINE_MIN
        checks = [OutputCheck("embedding", "cosine_min", float(cosines.min()), gate, higher_is_better=True)]
        _raise_if_failed(role, variant, checks)
        return {
            "cosine_min": round(float(cosines.min()), 6),
            "cosine_mean": round(float(cosines.mean()), 6),
            "texts": len(PARITY_TEXTS),
        }


class ClassifierParity:
    """Sequence classification logits (DistilBERT SST-2)."""

    FP32_MAX_ABS_LOGIT = 1e-4
    INT8_LABEL_AGREEMENT = 1.0
    INT8_MAX_ABS_PROB = 0.02

    def __init__(self, checkpoint: Path, tokenizer_path: Path, pad_id: int = 0):
        import torch
        from transformers import AutoModelForSequenceClassification

        self.batches = _encode(tokenizer_path, PARITY_TEXTS, pad_id)
        model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
        with torch.inference_mode():
            self.reference = np.concatenate([model(**_torch_inputs(b)).logits.numpy() for b in self.batches])

    def check(self, role: str, variant: str, files: dict[str, Path]) -> dict:
        session = _session(files["model"])
        logits = np.concatenate([session.run(None, _feeds(session, b))[0] for b in self.batches])
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
        _raise_if_failed(role, variant, checks)
        return {
            "logits_max_abs_diff": float(f"{max_logit:.3g}"),
            "probs_max_abs_diff": float(f"{max_prob:.3g}"),
            "label_agreement": agreement,
            "rows": len(logits),
        }


class Seq2SeqParity:
    """Encoder, cross_kv and decoder (DistilBART): greedy tokens and teacher-forced top-1."""

    FP32_IDENTICAL_SEQUENCES = 1.0  # every greedy sequence equals transformers generate()
    INT8_TOP1_AGREEMENT = 0.99  # teacher-forced on the PyTorch greedy sequences
    NEW_TOKENS = 24

    def __init__(self, checkpoint: Path, tokenizer_path: Path, pad_id: int, generation: dict):
        """`generation` is the manifest's (what the runtime will decode with); the reference
        takes the checkpoint's own settings as transformers loads them, never the manifest's,
        so a setting the manifest lost (forced BOS/EOS from a legacy config.json) fails here."""
        import torch
        from transformers import AutoModelForSeq2SeqLM

        self.texts = _encode(tokenizer_path, PARITY_TEXTS, pad_id)[: len(PARITY_TEXTS)]  # one at a time
        length = 1 + self.NEW_TOKENS
        # run the full length (more positions to compare), greedy; everything else as loaded
        fixed = dict(num_beams=1, max_length=length, min_length=length, max_new_tokens=None,
                     min_new_tokens=None, length_penalty=1.0, early_stopping=False)  # fmt: skip
        self.settings = GenerationConfig.from_mapping(generation, **fixed)
        model = AutoModelForSeq2SeqLM.from_pretrained(checkpoint).eval()
        reference = reference_config(model.generation_config, **fixed)
        self.sequences, self.logits = [], []
        with torch.inference_mode():
            for text in self.texts:
                inputs = _torch_inputs(text)
                sequence = transformers_generate(model, inputs, reference)[0]
                self.sequences.append(sequence.tolist())
                self.logits.append(model(**inputs, decoder_input_ids=sequence[None, :-1]).logits[0].numpy())

    def check(self, role: str, variant: str, files: dict[str, Path]) -> dict:
        sessions = {role: _session(files[role]) for role in ("encoder", "cross_kv", "decoder")}
        identical, agree, positions, max_logit = 0, 0, 0, 0.0
        for text, reference, ref_logits in zip(self.texts, self.sequences, self.logits, strict=True):
            tokens = greedy(sessions, text["input_ids"], text["attention_mask"], self.settings)
            identical += tokens == reference
            decoder_ids = np.array([reference[:-1]], dtype=np.int64)
            logits = teacher_forced_logits(sessions, text["input_ids"], text["attention_mask"], decoder_ids)[0]
            agree += int((logits.argmax(-1) == ref_logits.argmax(-1)).sum())
            positions += len(ref_logits)
            max_logit = max(max_logit, float(np.abs(logits - ref_logits).max()))
        same_fraction, top1 = identical / len(self.texts), agree / positions
        if variant == "fp32":
            checks = [
                OutputCheck(
                    "greedy_tokens", "identical_fraction", same_fraction, self.FP32_IDENTICAL_SEQUENCES, True
                )
            ]
        else:
            checks = [OutputCheck("teacher_forced", "top1_agreement", top1, self.INT8_TOP1_AGREEMENT, True)]
        _raise_if_failed(role, variant, checks)
        return {
            "greedy_identical": f"{identical}/{len(self.texts)}",
            "teacher_forced_top1": round(top1, 6),
            "teacher_forced_logits_max_abs_diff": float(f"{max_logit:.3g}"),
            "new_tokens": self.NEW_TOKENS,
        }


def make_checker(spec, checkpoint: Path, tokenizer_path: Path, pad_id: int, generation: dict):
    """The checker for a catalog entry's architecture, reference already computed."""
    if spec.parity == "embedding":
        return EmbeddingParity(checkpoint, tokenizer_path, pad_id)
    if spec.parity == "classifier":
        return ClassifierParity(checkpoint, tokenizer_path, pad_id)
    if spec.parity == "seq2seq":
        return Seq2SeqParity(checkpoint, tokenizer_path, pad_id, generation)
    raise ValueError(f"no parity checker for {spec.parity!r}; known: embedding, classifier, seq2seq")
