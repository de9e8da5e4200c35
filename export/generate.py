"""What the export's seq2seq parity needs beyond the runtime: the reference search asked of
`transformers` generate() with the checkpoint's own loaded generation config, and teacher-forced
logits.

The greedy tokens on the ONNX side come from the runtime's own decoding (runtime.generate's
processors and greedy search over runtime.decoder's cached decoder), and the teacher-forced
logits from the same decoder class, so the export checks the code that serves, not a second loop.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from runtime.decoder import CachedDecoder, cross_cache
from runtime.generate import GenerationConfig, greedy_search


def reference_config(loaded: Any, **settings: Any) -> Any:
    """A whole copy of the checkpoint's own transformers GenerationConfig (`model.generation_config`,
    as `from_pretrained` loaded it) with `settings` changed. Pass it to generate() with
    `use_model_defaults=False`: transformers 4.57 refills a setting left at its global default
    (num_beams 1, length_penalty 1.0, ...) from the checkpoint's otherwise."""
    config = copy.deepcopy(loaded)
    config.do_sample = False
    for key, value in settings.items():
        setattr(config, key, value)
    config.validate()
    return config


def transformers_generate(model: Any, inputs: dict[str, Any], config: Any) -> Any:
    """`model.generate` with exactly `config` (a whole GenerationConfig), nothing refilled."""
    return model.generate(**inputs, generation_config=config, use_model_defaults=False)


def encode(encoder: Any, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    hidden: np.ndarray = encoder.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]
    return hidden


def greedy(sessions: dict[str, Any], input_ids: np.ndarray, attention_mask: np.ndarray, config: GenerationConfig) -> list[int]:
    """One text ([1, S] arrays) -> its greedy token ids, decoder start token first.
    `sessions`: the "encoder", "cross_kv" and "decoder" InferenceSessions."""
    decoder = cached_decoder(sessions, input_ids, attention_mask, config.total_max_length)
    return greedy_search(decoder, 1, config)[0]


def teacher_forced_logits(sessions: dict[str, Any], input_ids: np.ndarray, attention_mask: np.ndarray,
                          decoder_input_ids: np.ndarray) -> np.ndarray:
    """Logits for every position of `decoder_input_ids` [1, T], fed one position at a time from
    an empty self-attention cache (the decoder graph takes one new token per run)."""
    decoder = cached_decoder(sessions, input_ids, attention_mask, decoder_input_ids.shape[1])
    return decoder.run(decoder_input_ids)


def cached_decoder(sessions: dict[str, Any], input_ids: np.ndarray, attention_mask: np.ndarray, capacity: int) -> CachedDecoder:
    hidden = encode(sessions["encoder"], input_ids, attention_mask)
    cross = cross_cache(sessions["cross_kv"], sessions["decoder"], hidden, attention_mask)
    return CachedDecoder(sessions["decoder"], cross, capacity=capacity)
