"""Abstractive summaries with the exported encoder, cross-attention K/V graph and decoder
(export/bart_graphs.py).

pre:  tokenize with `tokenizers`, length-sorted batches, encoder buckets padded to little waste.
core: one encoder pass per bucket; `cross_kv` turns the batch's encoder output into every
      decoder layer's cross-attention K/V once; then `runtime.generate` drives the decoder one
      token at a time, the first step with an empty self-attention cache. The caches live in
      onnxruntime OrtValues bound with IO binding: each step's `present.*` outputs are the next
      step's `past_key_values.*` inputs without a copy, and the cross K/V are bound every step.
post: token ids -> text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from runtime.errors import RuntimeArtifactError
from runtime.generate import GenerationConfig, generate
from runtime.manifest import ModelEntry
from runtime.presets import TokenBudget, trim_to_sentence
from runtime.session import SessionSettings, make_sessions
from runtime.text import load_tokenizer, plan_batches, token_ids

__all__ = ["GenerationConfig", "Summarizer", "CachedDecoder"]

FILES = ("encoder", "cross_kv", "decoder")


def _ortvalue(array: np.ndarray) -> ort.OrtValue:
    return ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array))


def _run_bound(session: ort.InferenceSession, inputs: dict[str, ort.OrtValue], outputs: list[str],
               what: str) -> list[ort.OrtValue]:
    binding = session.io_binding()
    for name, value in inputs.items():
        binding.bind_ortvalue_input(name, value)
    for name in outputs:
        binding.bind_output(name, "cpu")
    try:
        session.run_with_iobinding(binding)
    except Exception as exc:  # onnxruntime's own error types
        raise RuntimeArtifactError(f"the summary {what} failed: {exc}") from exc
    values: list[ort.OrtValue] = binding.get_outputs()
    return values


def past_name(present: str) -> str:
    return present.replace("present.", "past_key_values.", 1)


def present_name(past: str) -> str:
    return past.replace("past_key_values.", "present.", 1)


class CachedDecoder:
    """The decoder with its caches for one batch of encoded inputs (a StepDecoder): the
    cross-attention K/V computed once by `cross_kv`, the self-attention K/V grown each step."""

    def __init__(self, cross_kv: ort.InferenceSession, decoder: ort.InferenceSession,
                 hidden: np.ndarray, mask: np.ndarray):
        self.session = decoder
        inputs = {i.name: i for i in decoder.get_inputs()}
        self.self_names = [n for n in inputs if n.startswith("past_key_values.") and ".decoder." in n]
        cross_outputs = [o.name for o in cross_kv.get_outputs()]
        self.cross_names = [past_name(n) for n in cross_outputs]
        if not self.self_names or set(self.cross_names) - set(inputs) or "encoder_attention_mask" not in inputs:
            raise RuntimeArtifactError(
                "the summary decoder and cross_kv graphs do not fit together (past_key_values.*.decoder.* "
                "and every cross_kv output as past_key_values.*.encoder.* expected): re-run the export"
            )
        _, heads, _, head_dim = inputs[self.self_names[0]].shape
        self.mask = _ortvalue(mask.astype(np.int64, copy=False))
        self.rows = hidden.shape[0]
        hidden_value = _ortvalue(hidden.astype(np.float32, copy=False))
        computed = _run_bound(cross_kv, {"encoder_hidden_states": hidden_value}, cross_outputs, "cross_kv graph")
        self.cross: dict[str, ort.OrtValue] = dict(zip(self.cross_names, computed, strict=True))
        empty = _ortvalue(np.zeros((self.rows, heads, 0, head_dim), dtype=np.float32))
        self.cache: dict[str, ort.OrtValue] = dict.fromkeys(self.self_names, empty)

    def step(self, tokens: np.ndarray) -> np.ndarray:
        return self.run(tokens.reshape(-1, 1))[:, -1, :]

    def run(self, tokens: np.ndarray) -> np.ndarray:
        """Feed `tokens` [rows, T] after what is cached (causal within them); logits [rows, T, vocab]."""
        inputs = {"input_ids": _ortvalue(tokens.astype(np.int64)), "encoder_attention_mask": self.mask}
        inputs.update(self.cache)
        inputs.update(self.cross)
        outputs = ["logits"] + [present_name(n) for n in self.self_names]
        logits, *presents = _run_bound(self.session, inputs, outputs, f"decoder on {tokens.shape} tokens")
        self.cache = dict(zip(self.self_names, presents, strict=True))
        step_logits: np.ndarray = logits.numpy()
        return step_logits

    @staticmethod
    def _take(values: dict[str, ort.OrtValue], rows: np.ndarray) -> None:
        for name, value in values.items():
            values[name] = _ortvalue(np.take(value.numpy(), rows, axis=0))

    def keep(self, rows: np.ndarray) -> None:
        self._take(self.cache, rows)
        self._take(self.cross, rows)
        self.mask = _ortvalue(np.take(self.mask.numpy(), rows, axis=0))
        self.rows = len(rows)

    def reorder(self, rows: np.ndarray) -> None:
        self._take(self.cache, rows)


@dataclass(frozen=True)
class EncodedBatch:
    """Encoder output for a batch, rows in `order` (indices into the caller's texts)."""

    order: list[int]
    hidden: np.ndarray  # [rows, longest, d_model] float32, zeros past each row's length
    mask: np.ndarray  # [rows, longest] int64


class Summarizer:
    def __init__(self, encoder: ort.InferenceSession, cross_kv: ort.InferenceSession,
                 decoder: ort.InferenceSession, tokenizer: Tokenizer, config: GenerationConfig, pad_id: int = 1,
                 max_batch: int = 16):
        self.encoder = encoder
        self.cross_kv = cross_kv
        self.decoder = decoder
        self.tokenizer = tokenizer
        self.config = config
        self.pad_id = pad_id
        self.max_batch = max_batch  # inputs decoded together (beam search multiplies the rows)

    @classmethod
    def load(cls, root: Path, entry: ModelEntry, variant: str, settings: SessionSettings) -> Summarizer:
        root = Path(root)
        chosen = entry.variants[variant]
        files = chosen.files or entry.variants[chosen.same_as or variant].files
        missing = set(FILES) - set(files)
        if missing:
            raise RuntimeArtifactError(
                f"summary model {entry.name!r} variant {variant!r} lacks {sorted(missing)} files; "
                f"the manifest needs {', '.join(FILES)} (an export older than the split decoder?): "
                "re-run the export"
            )
        max_input = entry.settings.get("max_input_length", entry.settings.get("max_length", 1024))
        tokenizer = load_tokenizer(root / entry.tokenizer.path, int(max_input), entry.settings.get("vocab_size"))
        encoder, cross_kv, decoder = make_sessions([root / files[name].path for name in FILES], settings)
        return cls(
            encoder, cross_kv, decoder,
            tokenizer,
            GenerationConfig.from_entry(entry),
            pad_id=int(entry.settings.get("pad_token_id", 1)),
            max_batch=int(entry.settings.get("max_batch", 16)),
        )

    # ---- pre + encoder ----------------------------------------------------------------------

    def encode(self, sequences: list[list[int]], indices: list[int]) -> EncodedBatch:
        """Run the encoder over `indices` of `sequences` in buckets of similar length and stack
        the results, zero-padded, into one batch for the decoder."""
        lengths = [len(sequences[i]) for i in indices]
        buckets = [[indices[j] for j in bucket] for bucket in plan_batches(lengths, max_batch=len(indices))]
        order = [i for bucket in buckets for i in bucket]
        longest = max(lengths)
        mask = np.zeros((len(order), longest), dtype=np.int64)
        hidden = None
        row = 0
        for bucket in buckets:
            width = max(len(sequences[i]) for i in bucket)
            ids = np.full((len(bucket), width), self.pad_id, dtype=np.int64)
            for offset, index in enumerate(bucket):
                ids[offset, : len(sequences[index])] = sequences[index]
                mask[row + offset, : len(sequences[index])] = 1
            try:
                (out,) = self.encoder.run(None, {"input_ids": ids, "attention_mask": mask[row : row + len(bucket), :width]})
            except Exception as exc:  # onnxruntime's own error types
                raise RuntimeArtifactError(f"the summary encoder failed on a {ids.shape} batch: {exc}") from exc
            if hidden is None:
                hidden = np.zeros((len(order), longest, out.shape[-1]), dtype=np.float32)
            hidden[row : row + len(bucket), :width] = out
            row += len(bucket)
        assert hidden is not None, "encode() is never called with no indices"
        return EncodedBatch(order=order, hidden=hidden, mask=mask)

    # ---- core -------------------------------------------------------------------------------

    def generate(self, texts: list[str], config: GenerationConfig | None = None,
                 budget: TokenBudget | None = None) -> list[list[int]]:
        """Token ids per text: decoder start token first, EOS last when reached, no padding.
        With `budget`, each text gets its own new-token budget from its token count."""
        return self._generate(texts, config, budget)[0]

    def _generate(self, texts: list[str], config: GenerationConfig | None,
                  budget: TokenBudget | None) -> tuple[list[list[int]], list[int]]:
        """The token ids and each text's max length (decoder start included)."""
        config = config or self.config
        sequences = token_ids(self.tokenizer, texts)
        limits = [config.total_max_length if budget is None else
                  min(config.total_max_length, 1 + budget.new_tokens(len(ids))) for ids in sequences]
        results: list[list[int] | None] = [None] * len(texts)
        by_length = sorted(range(len(texts)), key=lambda i: -len(sequences[i]))
        for start in range(0, len(by_length), self.max_batch):
            batch = self.encode(sequences, by_length[start : start + self.max_batch])
            decoder = CachedDecoder(self.cross_kv, self.decoder, batch.hidden, batch.mask)
            rows = None if budget is None else [limits[i] for i in batch.order]
            for index, tokens in zip(batch.order, generate(decoder, len(batch.order), config, rows), strict=True):
                results[index] = tokens
        return cast("list[list[int]]", results), limits  # every text was in one batch: no None left

    # ---- post -------------------------------------------------------------------------------

    def summarize(self, texts: list[str], config: GenerationConfig | None = None,
                  budget: TokenBudget | None = None) -> list[str]:
        """Summaries as text (special tokens skipped). With `budget`, a summary that used its
        whole budget is cut back to its last complete sentence when it has one."""
        ids, limits = self._generate(texts, config, budget)
        decoded = [text.strip() for text in self.tokenizer.decode_batch(ids, skip_special_tokens=True)]
        if budget is None:
            return decoded
        return [trim_to_sentence(text) if len(tokens) >= limit else text
                for text, tokens, limit in zip(decoded, ids, limits, strict=True)]
