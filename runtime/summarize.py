"""Abstractive summaries with the exported encoder and merged decoder (Optimum's
`decoder_model_merged.onnx`, which switches on `use_cache_branch`).

pre:  tokenize with `tokenizers`, length-sorted batches, encoder buckets padded to little waste.
core: one encoder pass per bucket, then `runtime.generate` drives the decoder one token at a
      time. The decoder's cache lives in onnxruntime OrtValues bound with IO binding: each
      step's `present.*` outputs are the next step's `past_key_values.*` inputs without a copy,
      and the cross-attention cache is computed once, on the first step.
post: token ids -> text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from runtime.errors import RuntimeArtifactError
from runtime.generate import GenerationConfig, generate
from runtime.manifest import ModelEntry
from runtime.session import SessionSettings, make_session
from runtime.text import load_tokenizer, plan_batches, token_ids

__all__ = ["GenerationConfig", "Summarizer", "CachedDecoder"]


def _ortvalue(array: np.ndarray) -> ort.OrtValue:
    return ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array))


class CachedDecoder:
    """The merged decoder with its KV cache for one batch of encoded inputs (a StepDecoder)."""

    def __init__(self, session: ort.InferenceSession, hidden: np.ndarray, mask: np.ndarray):
        self.session = session
        inputs = {i.name: i for i in session.get_inputs()}
        self.self_names = [n for n in inputs if n.startswith("past_key_values.") and ".decoder." in n]
        self.cross_names = [n for n in inputs if n.startswith("past_key_values.") and ".encoder." in n]
        if not self.self_names or "use_cache_branch" not in inputs:
            raise RuntimeArtifactError(
                "the summary decoder is not an Optimum merged decoder with past_key_values and "
                "use_cache_branch inputs: re-export with --task text2text-generation-with-past"
            )
        _, heads, _, head_dim = inputs[self.self_names[0]].shape
        self.empty_shape = (heads, 0, head_dim)
        self.hidden = _ortvalue(hidden.astype(np.float32, copy=False))
        self.mask = _ortvalue(mask.astype(np.int64, copy=False))
        self.rows = hidden.shape[0]
        self.cache: dict[str, ort.OrtValue] = {}

    @staticmethod
    def present(name: str) -> str:
        return name.replace("past_key_values.", "present.", 1)

    def step(self, tokens: np.ndarray) -> np.ndarray:
        first = not self.cache
        binding = self.session.io_binding()
        binding.bind_ortvalue_input("input_ids", _ortvalue(tokens.astype(np.int64).reshape(-1, 1)))
        binding.bind_ortvalue_input("encoder_hidden_states", self.hidden)
        binding.bind_ortvalue_input("encoder_attention_mask", self.mask)
        binding.bind_ortvalue_input("use_cache_branch", _ortvalue(np.array([not first])))
        if first:
            empty = _ortvalue(np.zeros((self.rows, *self.empty_shape), dtype=np.float32))
            for name in self.self_names + self.cross_names:
                binding.bind_ortvalue_input(name, empty)
        else:
            for name in self.self_names + self.cross_names:
                binding.bind_ortvalue_input(name, self.cache[name])
        wanted = self.self_names + (self.cross_names if first else [])
        binding.bind_output("logits", "cpu")
        for name in wanted:
            binding.bind_output(self.present(name), "cpu")
        try:
            self.session.run_with_iobinding(binding)
        except Exception as exc:  # onnxruntime's own error types
            raise RuntimeArtifactError(f"the summary decoder failed on {tokens.size} rows: {exc}") from exc
        logits, *presents = binding.get_outputs()
        self.cache.update(zip(wanted, presents, strict=True))
        return logits.numpy()[:, -1, :]

    def _take(self, names: list[str], rows: np.ndarray) -> None:
        for name in names:
            self.cache[name] = _ortvalue(np.take(self.cache[name].numpy(), rows, axis=0))

    def keep(self, rows: np.ndarray) -> None:
        self._take(self.self_names + self.cross_names, rows)
        self.hidden = _ortvalue(np.take(self.hidden.numpy(), rows, axis=0))
        self.mask = _ortvalue(np.take(self.mask.numpy(), rows, axis=0))
        self.rows = len(rows)

    def reorder(self, rows: np.ndarray) -> None:
        self._take(self.self_names, rows)


@dataclass(frozen=True)
class EncodedBatch:
    """Encoder output for a batch, rows in `order` (indices into the caller's texts)."""

    order: list[int]
    hidden: np.ndarray  # [rows, longest, d_model] float32, zeros past each row's length
    mask: np.ndarray  # [rows, longest] int64


class Summarizer:
    def __init__(self, encoder: ort.InferenceSession, decoder: ort.InferenceSession, tokenizer,
                 config: GenerationConfig, pad_id: int = 1, max_batch: int = 16):
        self.encoder = encoder
        self.decoder = decoder
        self.tokenizer = tokenizer
        self.config = config
        self.pad_id = pad_id
        self.max_batch = max_batch  # inputs decoded together (beam search multiplies the rows)

    @classmethod
    def load(cls, root: Path, entry: ModelEntry, variant: str, settings: SessionSettings) -> Summarizer:
        root = Path(root)
        chosen = entry.variants[variant]
        files = chosen.files or entry.variants[chosen.same_as].files
        missing = {"encoder", "decoder"} - set(files)
        if missing:
            raise RuntimeArtifactError(
                f"summary model {entry.name!r} variant {variant!r} lacks {sorted(missing)} files; "
                "the manifest needs 'encoder' and 'decoder': re-run the export"
            )
        max_input = entry.settings.get("max_input_length", entry.settings.get("max_length", 1024))
        tokenizer = load_tokenizer(root / entry.tokenizer.path, int(max_input))
        return cls(
            make_session(root / files["encoder"].path, settings),
            make_session(root / files["decoder"].path, settings),
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
        return EncodedBatch(order=order, hidden=hidden, mask=mask)

    # ---- core -------------------------------------------------------------------------------

    def generate(self, texts: list[str], config: GenerationConfig | None = None) -> list[list[int]]:
        """Token ids per text: decoder start token first, EOS last when reached, no padding."""
        config = config or self.config
        sequences = token_ids(self.tokenizer, texts)
        results: list[list[int] | None] = [None] * len(texts)
        by_length = sorted(range(len(texts)), key=lambda i: -len(sequences[i]))
        for start in range(0, len(by_length), self.max_batch):
            batch = self.encode(sequences, by_length[start : start + self.max_batch])
            decoder = CachedDecoder(self.decoder, batch.hidden, batch.mask)
            for index, tokens in zip(batch.order, generate(decoder, len(batch.order), config), strict=True):
                results[index] = tokens
        return results

    # ---- post -------------------------------------------------------------------------------

    def summarize(self, texts: list[str], config: GenerationConfig | None = None) -> list[str]:
        decoded = self.tokenizer.decode_batch(self.generate(texts, config), skip_special_tokens=True)
        return [text.strip() for text in decoded]
