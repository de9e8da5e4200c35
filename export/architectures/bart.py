"""BART sequence-to-sequence (DistilBART-CNN-6-6): encoder, cross_kv and decoder written from the
weights by export/bart_graphs.py (not Optimum's graphs: docs/EXPORT.md says why); the decoder's
shape and special ids for the runtime, the checkpoint's generation settings as transformers loads
them, calibration through all three graphs, parity on greedy tokens and teacher-forced top-1."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from export.architectures.base import Architecture, Feed, ParityChecker, Ranges, select
from export.calibrate import collect_absmax
from export.errors import ExportError, OutputCheck
from export.generate import greedy, reference_config, teacher_forced_logits, transformers_generate
from export.parity import open_session, raise_if_failed, tokenize_batches, torch_inputs
from export.texts import PARITY_TEXTS
from runtime.generate import GenerationConfig

if TYPE_CHECKING:
    from export.catalog import ModelSpec

# The generation settings the runtime's decoding reads (runtime/generate.py GenerationConfig).
GENERATION_KEYS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id", "forced_bos_token_id",
                   "forced_eos_token_id", "num_beams", "max_length", "min_length", "max_new_tokens",
                   "min_new_tokens", "no_repeat_ngram_size", "length_penalty", "early_stopping")  # fmt: skip


class BartSeq2Seq(Architecture):
    name = "bart-seq2seq"

    def convert(self, spec: ModelSpec, checkpoint: Path, work: Path) -> None:
        from export.bart_graphs import write_bart_graphs

        write_bart_graphs(checkpoint, work)

    def settings(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The decoder's shape (the runtime's self-attention cache) and its special ids."""
        heads = config["decoder_attention_heads"]
        return {
            "num_layers": config["decoder_layers"],
            "num_heads": heads,
            "head_dim": config["d_model"] // heads,
            "d_model": config["d_model"],
            "pad_token_id": config["pad_token_id"],
            "bos_token_id": config["bos_token_id"],
            "eos_token_id": config["eos_token_id"],
            "decoder_start_token_id": config["decoder_start_token_id"],
        }

    def generation(self, folder: Path) -> dict[str, Any]:
        """The checkpoint's generation settings as transformers loads them, never read from the
        raw JSON files."""
        loaded = generation_config(folder)
        return {key: getattr(loaded, key) for key in GENERATION_KEYS if getattr(loaded, key, None) is not None}

    def calibration_ranges(self, spec: ModelSpec, onnx_dir: Path, feeds: list[Feed],
                           config: Mapping[str, Any]) -> dict[str, Ranges]:
        """Encoder, cross_kv and decoder ranges: the decoder teacher-forced on the text itself,
        shifted right (activations on ticket-like tokens), from an empty self-attention cache."""
        files = {role: name for name, role in spec.files}
        encoder = open_session(onnx_dir / files["encoder"])
        cross_kv = open_session(onnx_dir / files["cross_kv"])
        decoder_inputs = {i.name: i for i in open_session(onnx_dir / files["decoder"]).get_inputs()}
        encoder_feeds = [select(f, {"input_ids", "attention_mask"}) for f in feeds]
        hidden_feeds, decoder_feeds = [], []
        for feed in encoder_feeds:
            hidden = {"encoder_hidden_states": encoder.run(None, feed)[0]}
            cross = {o.name.replace("present.", "past_key_values.", 1): v
                     for o, v in zip(cross_kv.get_outputs(), cross_kv.run(None, hidden), strict=True)}  # fmt: skip
            start = np.array([[config["decoder_start_token_id"]]], dtype=np.int64)
            decoder_feed = {
                "input_ids": np.concatenate([start, feed["input_ids"][:, :-1]], axis=1),
                "encoder_attention_mask": feed["attention_mask"],
                **cross,
            }
            for name, info in decoder_inputs.items():
                if name not in decoder_feed:  # the self-attention cache, empty
                    decoder_feed[name] = np.zeros((1, info.shape[1], 0, info.shape[3]), dtype=np.float32)
            hidden_feeds.append(hidden)
            decoder_feeds.append(decoder_feed)
        return {
            files["encoder"]: collect_absmax(onnx_dir / files["encoder"], encoder_feeds),
            files["cross_kv"]: collect_absmax(onnx_dir / files["cross_kv"], hidden_feeds),
            files["decoder"]: collect_absmax(onnx_dir / files["decoder"], decoder_feeds),
        }

    def checker(self, checkpoint: Path, tokenizer_path: Path, pad_id: int,
                generation: Mapping[str, Any]) -> ParityChecker:
        return Seq2SeqParity(checkpoint, tokenizer_path, pad_id, generation)


def generation_config(folder: Path) -> Any:
    """The checkpoint's transformers GenerationConfig, exactly as `from_pretrained` gives the
    model: generation_config.json when the folder has one, else built from config.json
    (`GenerationConfig.from_model_config`: legacy keys and class defaults included)."""
    from transformers import AutoConfig, GenerationConfig

    try:
        if (folder / "generation_config.json").is_file():
            return GenerationConfig.from_pretrained(str(folder), local_files_only=True)
        return GenerationConfig.from_model_config(AutoConfig.from_pretrained(str(folder), local_files_only=True))
    except Exception as exc:  # transformers raises OSError/ValueError for broken files
        raise ExportError(f"cannot read the generation settings in {folder}: {exc}") from exc


class Seq2SeqParity:
    """Encoder, cross_kv and decoder (DistilBART): greedy tokens and teacher-forced top-1."""

    FP32_IDENTICAL_SEQUENCES = 1.0  # every greedy sequence equals transformers generate()
    INT8_TOP1_AGREEMENT = 0.99  # teacher-forced on the PyTorch greedy sequences
    NEW_TOKENS = 24

    def __init__(self, checkpoint: Path, tokenizer_path: Path, pad_id: int, generation: Mapping[str, Any]):
        """`generation` is the manifest's (what the runtime will decode with); the reference
        takes the checkpoint's own settings as transformers loads them, never the manifest's,
        so a setting the manifest lost (forced BOS/EOS from a legacy config.json) fails here."""
        import torch
        from transformers import AutoModelForSeq2SeqLM

        self.texts = tokenize_batches(tokenizer_path, PARITY_TEXTS, pad_id)[: len(PARITY_TEXTS)]  # one at a time
        length = 1 + self.NEW_TOKENS
        # run the full length (more positions to compare), greedy; everything else as loaded
        fixed = dict(num_beams=1, max_length=length, min_length=length, max_new_tokens=None,
                     min_new_tokens=None, length_penalty=1.0, early_stopping=False)  # fmt: skip
        self.settings = GenerationConfig.from_mapping(dict(generation), **fixed)
        model = AutoModelForSeq2SeqLM.from_pretrained(checkpoint).eval()
        reference = reference_config(model.generation_config, **fixed)
        self.sequences: list[list[int]] = []
        self.logits: list[np.ndarray] = []
        with torch.inference_mode():
            for text in self.texts:
                inputs = torch_inputs(text)
                sequence = transformers_generate(model, inputs, reference)[0]
                self.sequences.append(sequence.tolist())
                self.logits.append(model(**inputs, decoder_input_ids=sequence[None, :-1]).logits[0].numpy())

    def check(self, role: str, variant: str, files: dict[str, Path]) -> dict[str, Any]:
        sessions = {role: open_session(files[role]) for role in ("encoder", "cross_kv", "decoder")}
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
        raise_if_failed(role, variant, checks)
        return {
            "greedy_identical": f"{identical}/{len(self.texts)}",
            "teacher_forced_top1": round(top1, 6),
            "teacher_forced_logits_max_abs_diff": float(f"{max_logit:.3g}"),
            "new_tokens": self.NEW_TOKENS,
        }
