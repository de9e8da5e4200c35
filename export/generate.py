"""What the export's seq2seq parity needs beyond the runtime: the same search asked of
`transformers` generate(), and teacher-forced logits.

The greedy tokens on the ONNX side come from the runtime's own decoding (runtime.generate's
processors and greedy search over runtime.decoder's cached decoder), and the teacher-forced
logits from the same decoder class, so the export checks the code that serves, not a second loop.
"""

from __future__ import annotations

import numpy as np

from runtime.decoder import CachedDecoder, cross_cache
from runtime.generate import GenerationConfig, greedy_search


def reference_kwargs(config: GenerationConfig) -> dict:
    """The same greedy search for `transformers` generate(), every knob explicit: a partial
    config would be refilled from the checkpoint's generation config (num_beams 4, ...)."""
    return {
        "do_sample": False,
        "num_beams": 1,
        "max_length": config.total_max_length,
        "min_length": config.total_min_length,
        "no_repeat_ngram_size": config.no_repeat_ngram_size,
        "decoder_start_token_id": config.decoder_start_token_id,
        "eos_token_id": config.eos_token_id,
        "forced_bos_token_id": config.forced_bos_token_id,
        "forced_eos_token_id": config.forced_eos_token_id,
        "repetition_penalty": 1.0,
        "length_penalty": 1.0,
        "early_stopping": False,
        "use_cache": True,
    }


def encode(encoder, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    return encoder.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]


def greedy(sessions: dict, input_ids: np.ndarray, attention_mask: np.ndarray, config: GenerationConfig) -> list[int]:
    """One text ([1, S] arrays) -> its greedy token ids, decoder start token first.
    `sessions`: the "encoder", "cross_kv" and "decoder" InferenceSessions."""
    decoder = cached_decoder(sessions, input_ids, attention_mask, config.total_max_length)
    return greedy_search(decoder, 1, config)[0]


def teacher_forced_logits(sessions: dict, input_ids, attention_mask, decoder_input_ids) -> np.ndarray:
    """Logits for every position of `decoder_input_ids` [1, T], fed one position at a time from
    an empty self-attention cache (the decoder graph takes one new token per run)."""
    decoder = cached_decoder(sessions, input_ids, attention_mask, decoder_input_ids.shape[1])
    return decoder.run(decoder_input_ids)


def cached_decoder(sessions: dict, input_ids: np.ndarray, attention_mask: np.ndarray, capacity: int) -> CachedDecoder:
    hidden = encode(sessions["encoder"], input_ids, attention_mask)
    cross = cross_cache(sessions["cross_kv"], sessions["decoder"], hidden, attention_mask)
    return CachedDecoder(sessions["decoder"], cross, capacity=capacity)
