"""The export's reference search is the checkpoint's own generation config, copied whole, with
only the settings the check fixes changed: nothing is refilled from the checkpoint behind it
(the runtime's own processors are checked against transformers in test_generate_processors.py)."""

import pytest

from export.generate import reference_config

transformers = pytest.importorskip("transformers")

# distilbart-cnn-6-6's own settings, as transformers loads them from its config.json
LOADED = dict(num_beams=4, max_length=142, min_length=56, no_repeat_ngram_size=3, length_penalty=2.0,
              early_stopping=True, forced_bos_token_id=0, forced_eos_token_id=2, decoder_start_token_id=2,
              eos_token_id=2, pad_token_id=1, bos_token_id=0)


def test_reference_config_keeps_the_checkpoints_settings_and_changes_only_the_given_ones():
    loaded = transformers.GenerationConfig(**LOADED)
    config = reference_config(loaded, num_beams=1, max_length=25, min_length=25, length_penalty=1.0)
    assert (config.num_beams, config.max_length, config.min_length, config.length_penalty) == (1, 25, 25, 1.0)
    for key in ("no_repeat_ngram_size", "forced_bos_token_id", "forced_eos_token_id", "decoder_start_token_id",
                "eos_token_id", "pad_token_id", "early_stopping"):
        assert getattr(config, key) == LOADED[key], key
    assert config.do_sample is False
    assert loaded.num_beams == 4, "the checkpoint's own config is copied, not changed"


def test_an_invalid_reference_is_refused():
    with pytest.raises(ValueError):
        reference_config(transformers.GenerationConfig(**LOADED), max_new_tokens=0)
