"""A small greedy loop over the exported encoder + merged decoder, for parity checks only.

It follows `transformers` greedy search with the processors our generation settings use
(min length, no-repeat n-grams, forced BOS, forced EOS), so on the fp32 graphs it must
reproduce `generate()` token for token. The first decoder step runs with
`use_cache_branch=False` and empty past tensors (it also returns the cross-attention KV,
computed once); later steps feed one token and the cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GreedySettings:
    max_length: int  # decoder tokens including the start token
    min_length: int
    no_repeat_ngram_size: int
    decoder_start_token_id: int
    eos_token_id: int
    forced_bos_token_id: int | None
    forced_eos_token_id: int | None

    def generate_kwargs(self) -> dict:
        """The same search for `transformers` generate(), every knob explicit (a partial
        config would be refilled from the checkpoint's generation config)."""
        return {
            "do_sample": False,
            "num_beams": 1,
            "max_length": self.max_length,
            "min_length": self.min_length,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
            "decoder_start_token_id": self.decoder_start_token_id,
            "eos_token_id": self.eos_token_id,
            "forced_bos_token_id": self.forced_bos_token_id,
            "forced_eos_token_id": self.forced_eos_token_id,
            "repetition_penalty": 1.0,
            "length_penalty": 1.0,
            "early_stopping": False,
            "use_cache": True,
        }


def banned_ngram_tokens(tokens: list[int], n: int) -> set[int]:
    if n <= 0 or len(tokens) + 1 < n:
        return set()
    prefix = tuple(tokens[len(tokens) - n + 1 :])
    return {tokens[i + n - 1] for i in range(len(tokens) - n + 1) if tuple(tokens[i : i + n - 1]) == prefix}


def process_logits(logits: np.ndarray, tokens: list[int], settings: GreedySettings) -> np.ndarray:
    scores = logits.astype(np.float32).copy()
    cur_len = len(tokens)
    if cur_len < settings.min_length:
        scores[settings.eos_token_id] = -np.inf
    for token in banned_ngram_tokens(tokens, settings.no_repeat_ngram_size):
        scores[token] = -np.inf
    if settings.forced_bos_token_id is not None and cur_len == 1:
        scores[:] = -np.inf
        scores[settings.forced_bos_token_id] = 0.0
    if settings.forced_eos_token_id is not None and cur_len == settings.max_length - 1:
        scores[:] = -np.inf
        scores[settings.forced_eos_token_id] = 0.0
    return scores


def _empty_past(decoder, batch: int) -> dict[str, np.ndarray]:
    past = {}
    for inp in decoder.get_inputs():
        if inp.name.startswith("past_key_values."):
            heads, head_dim = inp.shape[1], inp.shape[3]
            past[inp.name] = np.zeros((batch, heads, 0, head_dim), dtype=np.float32)
    return past


def encode(encoder, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    return encoder.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]


def teacher_forced_logits(encoder, decoder, input_ids, attention_mask, decoder_input_ids) -> np.ndarray:
    """Logits for every position of `decoder_input_ids` [1, T] in one uncached decoder run."""
    hidden = encode(encoder, input_ids, attention_mask)
    feeds = {
        "input_ids": decoder_input_ids,
        "encoder_hidden_states": hidden,
        "encoder_attention_mask": attention_mask,
        "use_cache_branch": np.array([False]),
        **_empty_past(decoder, decoder_input_ids.shape[0]),
    }
    return decoder.run(["logits"], feeds)[0]


def greedy(
    encoder, decoder, input_ids: np.ndarray, attention_mask: np.ndarray, settings: GreedySettings
) -> list[int]:
    """One text ([1, S] arrays) -> its greedy token ids, starting with the decoder start token."""
    hidden = encode(encoder, input_ids, attention_mask)
    outputs = [o.name for o in decoder.get_outputs()]
    tokens = [settings.decoder_start_token_id]
    past = _empty_past(decoder, 1)
    cross: dict[str, np.ndarray] = {}
    while len(tokens) < settings.max_length:
        first = len(tokens) == 1
        feeds = {
            "input_ids": np.array([tokens] if first else [tokens[-1:]], dtype=np.int64),
            "encoder_hidden_states": hidden,
            "encoder_attention_mask": attention_mask,
            "use_cache_branch": np.array([not first]),
            **past,
        }
        values = dict(zip(outputs, decoder.run(outputs, feeds), strict=True))
        if first:  # the cross-attention KV, computed once from the encoder output
            cross = {
                k.replace("present.", "past_key_values."): v for k, v in values.items() if ".encoder." in k
            }
        past = {k.replace("present.", "past_key_values."): v for k, v in values.items() if ".decoder." in k}
        past.update(cross)
        token = int(np.argmax(process_logits(values["logits"][0, -1], tokens, settings)))
        tokens.append(token)
        if token == settings.eos_token_id:
            break
    return tokens
