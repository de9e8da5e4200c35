"""The export asks transformers for exactly the search the runtime runs (the runtime's own
processors are checked against transformers in test_generate_processors.py)."""

import pytest

from export.generate import reference_kwargs
from runtime.generate import GenerationConfig

CONFIG = GenerationConfig(max_length=12, min_length=8, no_repeat_ngram_size=3, decoder_start_token_id=2,
                          eos_token_id=2, forced_bos_token_id=0, forced_eos_token_id=2)


def test_reference_kwargs_leave_nothing_to_the_checkpoint_config():
    kwargs = reference_kwargs(CONFIG)
    assert kwargs["num_beams"] == 1 and kwargs["do_sample"] is False
    for key in ("no_repeat_ngram_size", "forced_bos_token_id", "forced_eos_token_id", "decoder_start_token_id",
                "eos_token_id"):
        assert kwargs[key] == getattr(CONFIG, key)
    assert (kwargs["max_length"], kwargs["min_length"]) == (12, 8)


def test_new_token_counts_become_total_lengths():
    kwargs = reference_kwargs(GenerationConfig(max_new_tokens=30, min_new_tokens=30))
    assert (kwargs["max_length"], kwargs["min_length"]) == (31, 31)


def test_reference_kwargs_are_accepted_by_transformers():
    transformers = pytest.importorskip("transformers")
    config = transformers.GenerationConfig(**reference_kwargs(CONFIG))
    config.validate()
