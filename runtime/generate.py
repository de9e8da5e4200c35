"""Decoding for the summary model as plain numpy: the generation settings, the logits
processors, greedy search and beam search bookkeeping.

Everything here reproduces `transformers` 4.57 `generate()` for an encoder-decoder model
whose decoder prompt is the single `decoder_start_token_id`: the same processors in the same
order (no-repeat n-grams, min length, forced BOS, forced EOS), greedy on the processed logits,
and the vectorised beam search of `GenerationMixin._beam_search` (top 2*num_beams candidates,
length-penalised finished hypotheses, the early-stopping heuristic). Scores stay float32 as
there. The model itself is behind `StepDecoder`, so these loops run on any backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol, cast

import numpy as np

from runtime.manifest import ModelEntry
from runtime.topk import top_k

# transformers marks impossible beams with this score instead of -inf.
BIG = np.float32(-1.0e9)


@dataclass(frozen=True)
class GenerationConfig:
    num_beams: int = 1
    max_length: int = 20  # counts the decoder start token, as in transformers
    min_length: int = 0
    max_new_tokens: int | None = None  # takes precedence over max_length
    min_new_tokens: int | None = None  # takes precedence over min_length
    no_repeat_ngram_size: int = 0
    length_penalty: float = 1.0
    early_stopping: bool | str = False  # True | False | "never"
    forced_bos_token_id: int | None = None
    forced_eos_token_id: int | None = None
    decoder_start_token_id: int = 2
    eos_token_id: int = 2
    pad_token_id: int = 1

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.num_beams <= 16:
            problems.append(f"num_beams must be between 1 and 16, got {self.num_beams}")
        if self.early_stopping not in (True, False, "never"):
            problems.append(f"early_stopping must be True, False or 'never', got {self.early_stopping!r}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            problems.append(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.max_new_tokens is None and self.max_length < 2:
            problems.append(f"max_length must be >= 2 (it counts the decoder start token), got {self.max_length}")
        if self.no_repeat_ngram_size < 0 or self.min_length < 0 or (self.min_new_tokens or 0) < 0:
            problems.append("no_repeat_ngram_size, min_length and min_new_tokens must not be negative")
        if problems:
            raise ValueError("invalid GenerationConfig: " + "; ".join(problems))

    @property
    def total_max_length(self) -> int:
        """Longest output, decoder start token included."""
        return self.max_new_tokens + 1 if self.max_new_tokens is not None else self.max_length

    @property
    def total_min_length(self) -> int:
        """Below this length (decoder start token included) EOS is forbidden."""
        return self.min_new_tokens + 1 if self.min_new_tokens is not None else self.min_length

    @classmethod
    def from_mapping(cls, values: dict[str, Any], **overrides: Any) -> GenerationConfig:
        """Build from a transformers-style generation config dict; keys this decoder does not
        use (bos_token_id, do_sample=False, ...) are ignored, overrides win."""
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown generation settings {sorted(unknown)}; valid: {sorted(known)}")
        merged = {k: v for k, v in values.items() if k in known and v is not None} | overrides
        if isinstance(merged.get("eos_token_id"), (list, tuple)):
            eos = list(merged["eos_token_id"])
            if len(eos) != 1:
                raise ValueError(f"one eos_token_id is supported, the model lists {eos}")
            merged["eos_token_id"] = eos[0]
        return cls(**merged)

    @classmethod
    def from_entry(cls, entry: ModelEntry, **overrides: Any) -> GenerationConfig:
        """Defaults from a manifest ModelEntry (its `generation`, ids from its `settings`)."""
        ids = {k: v for k, v in entry.settings.items() if k.endswith("_token_id")}
        return cls.from_mapping(ids | dict(entry.generation), **overrides)


# ---- logits processors ---------------------------------------------------------------------


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """float32 log-softmax over the last axis in torch's order of operations: (x - max) - log(sum exp)."""
    shifted: np.ndarray = logits - logits.max(axis=-1, keepdims=True)
    total = np.exp(shifted).sum(axis=-1, keepdims=True, dtype=np.float32)
    shifted -= np.log(total)
    return shifted


def ban_repeated_ngrams(scores: np.ndarray, sequences: np.ndarray, size: int) -> None:
    """Set to -inf every token that would repeat an n-gram of `size` already in a row.
    scores [rows, vocab] (changed in place), sequences [rows, cur_len]."""
    rows, cur_len = sequences.shape
    if size <= 0 or cur_len + 1 < size or cur_len == 0:
        return
    if size == 1:
        scores[np.repeat(np.arange(rows), cur_len), sequences.ravel()] = -np.inf
        return
    starts = cur_len - size + 1  # n-grams beginning at 0 .. cur_len - size
    if starts <= 0:
        return
    windows = np.lib.stride_tricks.sliding_window_view(sequences, size - 1, axis=1)[:, :starts]
    prefix = sequences[:, cur_len - size + 1 :]
    row, start = np.nonzero((windows == prefix[:, None, :]).all(axis=-1))
    scores[row, sequences[row, start + size - 1]] = -np.inf


def force_token(scores: np.ndarray, token: int) -> None:
    scores[:] = -np.inf
    scores[:, token] = 0.0


def process_scores(scores: np.ndarray, sequences: np.ndarray, config: GenerationConfig,
                   max_lengths: np.ndarray | None = None) -> np.ndarray:
    """Apply transformers' processors in its order. `sequences` [rows, cur_len] are the tokens
    so far (decoder start included); scores are changed in place and returned. `max_lengths`
    [rows]: each row's own total max length (forced EOS lands on the last step of each);
    None: config.total_max_length for every row."""
    cur_len = sequences.shape[1]
    ban_repeated_ngrams(scores, sequences, config.no_repeat_ngram_size)
    if cur_len < config.total_min_length:
        scores[:, config.eos_token_id] = -np.inf
    if config.forced_bos_token_id is not None and cur_len == 1:
        force_token(scores, config.forced_bos_token_id)
    if config.forced_eos_token_id is not None:
        if max_lengths is None:
            if cur_len == config.total_max_length - 1:
                force_token(scores, config.forced_eos_token_id)
        elif (last := max_lengths == cur_len + 1).any():
            rows = np.flatnonzero(last)
            scores[rows] = -np.inf
            scores[rows, config.forced_eos_token_id] = 0.0
    return scores


# ---- the model behind the loops -------------------------------------------------------------


class StepDecoder(Protocol):
    """A decoder holding its own cache, one row per hypothesis."""

    def step(self, tokens: np.ndarray) -> np.ndarray:
        """Feed the last token of every row ([rows] int64), return [rows, vocab] float32 logits."""

    def keep(self, rows: np.ndarray) -> None:
        """Keep (and repeat or reorder) the given rows of everything cached."""

    def reorder(self, rows: np.ndarray) -> None:
        """Reorder rows among the beams of each input; the encoder-side cache, identical across
        one input's beams, may stay as it is."""


def row_limits(config: GenerationConfig, batch: int, max_lengths: Sequence[int] | np.ndarray | None) -> np.ndarray | None:
    """Per-input total max lengths, checked: each at least 2 and at most config.total_max_length."""
    if max_lengths is None:
        return None
    limits = np.asarray(max_lengths, dtype=np.int64).reshape(-1)
    if limits.shape != (batch,) or limits.min(initial=2) < 2 or limits.max(initial=2) > config.total_max_length:
        raise ValueError(f"max_lengths must give {batch} lengths between 2 and {config.total_max_length} "
                         f"(decoder start token included), got {limits.tolist()}")
    return limits


def greedy_search(decoder: StepDecoder, batch: int, config: GenerationConfig,
                  max_lengths: Sequence[int] | np.ndarray | None = None) -> list[list[int]]:
    """Greedy decoding; a row that reaches EOS, or its own max length, leaves the batch (its
    result cannot change)."""
    limits = row_limits(config, batch, max_lengths)
    max_length = config.total_max_length if limits is None else int(limits.max())
    sequences = np.full((batch, max_length), config.pad_token_id, dtype=np.int64)
    sequences[:, 0] = config.decoder_start_token_id
    lengths = np.ones(batch, dtype=np.int64)
    active = np.arange(batch)
    cur_len = 1
    while active.size:
        logits = decoder.step(sequences[active, cur_len - 1])
        scores = process_scores(logits.astype(np.float32, copy=False), sequences[active, :cur_len], config,
                                None if limits is None else limits[active])
        sequences[active, cur_len] = scores.argmax(axis=-1)
        cur_len += 1
        lengths[active] = cur_len
        if cur_len >= max_length:
            break
        running = sequences[active, cur_len - 1] != config.eos_token_id
        if limits is not None:
            running &= limits[active] > cur_len
        if not running.all():
            active = active[running]
            if active.size:
                decoder.keep(np.flatnonzero(running))
    return [sequences[row, : lengths[row]].tolist() for row in range(batch)]


# ---- beam search ----------------------------------------------------------------------------


def _gather(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values [items, n, ...] indexed along axis 1 by index [items, m]."""
    return np.take_along_axis(values, index.reshape(index.shape + (1,) * (values.ndim - 2)), axis=1)


class BeamState:
    """transformers' beam search tensors, [items, beams, ...], for the items still searching."""

    def __init__(self, items: int, beams: int, config: GenerationConfig, max_lengths: np.ndarray | None = None):
        max_length = config.total_max_length
        self.config = config
        self.beams = beams
        self.per_item = max_lengths is not None  # each input its own max length
        self.max_lengths = np.full(items, max_length, dtype=np.int64) if max_lengths is None else max_lengths
        self.running = np.full((items, beams, max_length), config.pad_token_id, dtype=np.int64)
        self.running[:, :, 0] = config.decoder_start_token_id
        self.running_scores = np.zeros((items, beams), dtype=np.float32)
        self.running_scores[:, 1:] = BIG  # only the first beam is live at the start
        self.finished = self.running.copy()
        self.finished_scores = np.full((items, beams), BIG, dtype=np.float32)
        self.finished_lengths = np.ones((items, beams), dtype=np.int64)
        self.is_finished = np.zeros((items, beams), dtype=bool)
        self.improvable = np.ones(items, dtype=bool)  # is_early_stop_heuristic_unsatisfied
        self.hits = np.zeros((items, beams), dtype=bool)

    def take(self, keep: np.ndarray) -> None:
        for name in ("running", "running_scores", "finished", "finished_scores", "finished_lengths",
                     "is_finished", "improvable", "hits", "max_lengths"):
            setattr(self, name, getattr(self, name)[keep])

    def best(self, item: int) -> list[int]:
        ids: list[int] = self.finished[item, 0, : self.finished_lengths[item, 0]].tolist()
        return ids

    def step(self, log_probs: np.ndarray, cur_len: int) -> np.ndarray:
        """One step of `_beam_search` on processed log-probs [items*beams, vocab] for sequences of
        `cur_len` tokens. Returns, per new running beam, the decoder row it continues."""
        config, beams = self.config, self.beams
        items, vocab = self.running_scores.shape[0], log_probs.shape[-1]
        scores = (log_probs.reshape(items, beams, vocab) + self.running_scores[:, :, None]).reshape(items, -1)
        # _get_top_k_continuations: 2 * beams candidates, so that `beams` of them survive an EOS each
        top_scores, top_index = top_k(scores, 2 * beams)
        top_beam, top_token = np.divmod(top_index, vocab)
        candidates = _gather(self.running, top_beam)
        candidates[:, :, cur_len] = top_token
        self.hits = (top_token == config.eos_token_id) | (cur_len + 1 >= self.max_lengths[:, None])
        # _get_running_beams_for_next_iteration
        alive_scores = top_scores + self.hits.astype(np.float32) * BIG
        pick = top_k(alive_scores, beams)[1]
        self.running = _gather(candidates, pick)
        self.running_scores = _gather(alive_scores, pick)
        source = _gather(top_beam, pick) + np.arange(items)[:, None] * beams
        self._update_finished(candidates, top_scores, cur_len)
        self._update_improvable(cur_len + 1)
        return source.reshape(-1)

    def _update_finished(self, candidates: np.ndarray, top_scores: np.ndarray, cur_len: int) -> None:
        config, beams = self.config, self.beams
        just_finished = self.hits & (np.arange(top_scores.shape[1]) < beams)[None, :]
        scores = top_scores / ((cur_len + 1 - 1) ** config.length_penalty)
        full = self.is_finished.all(axis=1, keepdims=True) & (config.early_stopping is True)
        scores = scores + full.astype(np.float32) * BIG
        scores = scores + (~self.improvable[:, None]).astype(np.float32) * BIG
        scores = scores + (~just_finished).astype(np.float32) * BIG
        merged_scores = np.concatenate([self.finished_scores, scores], axis=1)
        pick = top_k(merged_scores, beams)[1]
        self.finished = _gather(np.concatenate([self.finished, candidates], axis=1), pick)
        self.finished_scores = _gather(merged_scores, pick)
        lengths = np.full(top_scores.shape, cur_len + 1, dtype=np.int64)
        self.finished_lengths = _gather(np.concatenate([self.finished_lengths, lengths], axis=1), pick)
        self.is_finished = _gather(np.concatenate([self.is_finished, just_finished], axis=1), pick)

    def _update_improvable(self, cur_len: int) -> None:
        """_check_early_stop_heuristic: can a running beam still beat the worst finished one?"""
        config = self.config
        if config.early_stopping == "never" and config.length_penalty > 0.0:
            best_length = (self.max_lengths - 1)[:, None]
        else:
            best_length = np.full((len(self.max_lengths), 1), cur_len - 1)
        # the divisor as transformers has it: a float64 power, then the float32 scores' dtype
        divisor = (best_length.astype(np.float64) ** config.length_penalty).astype(np.float32)
        best_running = self.running_scores[:, :1] / divisor
        worst = np.where(self.is_finished, self.finished_scores.min(axis=1, keepdims=True), BIG)
        self.improvable &= (best_running > worst).any(axis=1)

    def searching(self) -> bool:
        """_beam_search_has_unfinished_sequences, over the items still here."""
        open_beam = not (self.is_finished.all() and self.config.early_stopping is True)
        return bool(self.improvable.any()) and open_beam and not bool(self.hits.all())

    def settled(self, cur_len: int) -> np.ndarray:
        """Items whose best hypothesis can no longer change (`cur_len`: tokens so far): with
        per-input max lengths, also those that have reached their own."""
        full = self.is_finished.all(axis=1) & (self.config.early_stopping is True)
        done = ~self.improvable | full
        return done | (self.max_lengths <= cur_len) if self.per_item else done


def beam_search(decoder: StepDecoder, batch: int, config: GenerationConfig,
                max_lengths: Sequence[int] | np.ndarray | None = None) -> list[list[int]]:
    """transformers' beam search; settled inputs leave the decoder batch early. With
    `max_lengths`, each input is searched as if alone with its own max length."""
    beams = config.num_beams
    state = BeamState(batch, beams, config, row_limits(config, batch, max_lengths))
    items = np.arange(batch)
    results: list[list[int] | None] = [None] * batch
    # Every beam of an input starts identical: run the first step once per input, then repeat.
    logits = decoder.step(np.full(batch, config.decoder_start_token_id, dtype=np.int64))
    logits = np.repeat(logits, beams, axis=0)
    decoder.keep(np.repeat(np.arange(batch), beams))
    cur_len = 1
    while True:
        flat = state.running[:, :, :cur_len].reshape(-1, cur_len)
        limits = np.repeat(state.max_lengths, beams) if state.per_item else None
        scores = process_scores(log_softmax(logits.astype(np.float32, copy=False)), flat, config, limits)
        source = state.step(scores, cur_len)
        cur_len += 1
        settled = state.settled(cur_len)
        if not state.searching() or settled.all():
            break
        if settled.any():
            for index in map(int, np.flatnonzero(settled)):
                results[items[index]] = state.best(index)
            keep = ~settled
            items = items[keep]
            state.take(keep)
            decoder.keep(source.reshape(-1, beams)[keep].reshape(-1))
        elif not np.array_equal(source, np.arange(source.size)):
            decoder.reorder(source)
        logits = decoder.step(state.running[:, :, cur_len - 1].reshape(-1))
    for index, item in enumerate(items):
        results[item] = state.best(index)
    return cast("list[list[int]]", results)  # every input settled: no None left


def generate(decoder: StepDecoder, batch: int, config: GenerationConfig,
             max_lengths: Sequence[int] | np.ndarray | None = None) -> list[list[int]]:
    """Token ids per input, decoder start token first, EOS (if reached) last, no padding.

    `max_lengths` (optional, one per input, decoder start included, each at most
    config.total_max_length): every input decodes exactly as it would alone with
    `max_new_tokens = max_lengths[i] - 1`, inside one batch."""
    if config.num_beams == 1:
        return greedy_search(decoder, batch, config, max_lengths)
    return beam_search(decoder, batch, config, max_lengths)
