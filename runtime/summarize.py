"""Abstractive summaries with the exported encoder, cross-attention K/V graph and decoder
(export/bart_graphs.py, export/bart_decoder.py).

pre:  tokenize with `tokenizers`; inputs longest first, decoded together in batches of up to
      `max_batch` rows (and `cross_tokens` source tokens in all), so that each decode step reads
      the decoder's weights once for many rows.
core: per decode batch, the encoder and `cross_kv` run over small length-sorted runs
      (runtime.embed.plan_runs: activations that stay in cache) and fill the batch's
      cross-attention cache row by row; then `runtime.generate` drives the decoder one token at a
      time (runtime.decoder.CachedDecoder).
post: token ids -> text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from runtime.decoder import CachedDecoder, CrossCache, cache_layout, run_cross_kv
from runtime.embed import plan_runs
from runtime.errors import RuntimeArtifactError
from runtime.generate import GenerationConfig, generate
from runtime.manifest import ModelEntry
from runtime.presets import TokenBudget, trim_to_sentence
from runtime.session import SessionSettings, make_sessions, release_free_memory
from runtime.text import load_tokenizer, token_ids

__all__ = ["GenerationConfig", "Summarizer", "CachedDecoder"]

FILES = ("encoder", "cross_kv", "decoder")
# Rows decoded together (a beam is a row). A step reads the decoder's int8 weights (135 MB on
# DistilBART-6-6) once for all its rows and each row's own cross-attention K/V (~25 KB a source
# token in float16): measured per row and step, 32 rows cost ~0.7x what 10 do.
MAX_BATCH = 32
# Source tokens in one decode batch, beams counted: bounds the cross-attention cache (~200 MB in
# float16, twice that on fp32).
CROSS_TOKENS = 8192


def decode_batches(lengths: list[int], max_batch: int, cross_tokens: int) -> list[list[int]]:
    """Indices longest first, cut into batches of at most `max_batch` rows and `cross_tokens`
    source tokens (one row always fits)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for index in order:
        if batches and len(batches[-1]) < max_batch and sum(lengths[i] for i in batches[-1]) + lengths[index] <= cross_tokens:
            batches[-1].append(index)
        else:
            batches.append([index])
    return batches


class Summarizer:
    def __init__(self, encoder: ort.InferenceSession, cross_kv: ort.InferenceSession,
                 decoder: ort.InferenceSession, tokenizer: Tokenizer, config: GenerationConfig, pad_id: int = 1,
                 max_batch: int = MAX_BATCH, cross_tokens: int = CROSS_TOKENS):
        self.encoder = encoder
        self.cross_kv = cross_kv
        self.decoder = decoder
        self.tokenizer = tokenizer
        self.config = config
        self.pad_id = pad_id
        self.max_batch = max_batch  # rows decoded together; an input has a row per beam
        self.cross_tokens = cross_tokens
        _, self.cross_names, self.cache_dtype, self.heads, self.head_dim = cache_layout(decoder)

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
            encoder,
            cross_kv,
            decoder,
            tokenizer,
            GenerationConfig.from_entry(entry),
            pad_id=int(entry.settings.get("pad_token_id", 1)),
            max_batch=int(entry.settings.get("max_batch", MAX_BATCH)),
        )

    # ---- pre + encoder ----------------------------------------------------------------------

    def encode(self, sequences: list[list[int]], indices: list[int]) -> CrossCache:
        """The cross-attention cache for `indices` of `sequences` (rows in that order): the
        encoder and cross_kv over small runs of similar length, copied in row by row."""
        cache = CrossCache(self.cross_names, self.cache_dtype, self.heads, self.head_dim,
                           np.array([len(sequences[i]) for i in indices]))
        lengths = [len(sequences[i]) for i in indices]
        for run in plan_runs(lengths, max_batch=len(indices)):
            width = max(lengths[j] for j in run)
            ids = np.full((len(run), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(run), width), dtype=np.int64)
            for offset, position in enumerate(run):
                ids[offset, : lengths[position]] = sequences[indices[position]]
                mask[offset, : lengths[position]] = 1
            try:
                (hidden,) = self.encoder.run(None, {"input_ids": ids, "attention_mask": mask})
            except Exception as exc:  # onnxruntime's own error types
                raise RuntimeArtifactError(f"the summary encoder failed on a {ids.shape} batch: {exc}") from exc
            cache.fill(run, run_cross_kv(self.cross_kv, hidden))
        return cache

    # ---- core -------------------------------------------------------------------------------

    def generate(self, texts: list[str], config: GenerationConfig | None = None,
                 budget: TokenBudget | None = None) -> list[list[int]]:
        """Token ids per text: decoder start token first, EOS last when reached, no padding.
        With `budget`, each text gets its own new-token budget from its token count."""
        return self._generate(texts, config, budget)[0]

    def _generate(self, texts: list[str], config: GenerationConfig | None,
                  budget: TokenBudget | None) -> tuple[list[list[int]], list[int]]:
        """The token ids and each text's max length (decoder start included). A row leaves its
        decode batch at EOS or at its own max length (runtime.generate); longest first, the rows
        that a budget ends first are the batch's last ones (CachedDecoder.keep: a view, no copy)."""
        config = config or self.config
        sequences = token_ids(self.tokenizer, texts)
        limits = [config.total_max_length if budget is None else
                  min(config.total_max_length, 1 + budget.new_tokens(len(ids))) for ids in sequences]
        results: list[list[int]] = [[] for _ in texts]
        beams = config.num_beams
        for batch in decode_batches([len(s) for s in sequences], max(self.max_batch // beams, 1),
                                    self.cross_tokens // beams):
            cross = self.encode(sequences, batch)
            release_free_memory()  # the encoder's activations, before the decode holds its caches
            rows = [limits[i] for i in batch]
            decoder = CachedDecoder(self.decoder, cross, capacity=max(rows))
            for index, tokens in zip(batch, generate(decoder, len(batch), config, None if budget is None else rows),
                                     strict=True):
                results[index] = tokens
            del decoder, cross
            release_free_memory()
        return results, limits

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
