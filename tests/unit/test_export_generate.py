"""The export's parity loop applies the same logits processors as transformers' greedy search."""

import numpy as np
import pytest

from export.generate import GreedySettings, banned_ngram_tokens, process_logits

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SETTINGS = GreedySettings(
    max_length=12,
    min_length=8,
    no_repeat_ngram_size=3,
    decoder_start_token_id=2,
    eos_token_id=2,
    forced_bos_token_id=0,
    forced_eos_token_id=2,
)


def transformers_processors():
    from transformers.generation.logits_process import (
        ForcedBOSTokenLogitsProcessor,
        ForcedEOSTokenLogitsProcessor,
        LogitsProcessorList,
        MinLengthLogitsProcessor,
        NoRepeatNGramLogitsProcessor,
    )

    return LogitsProcessorList(
        [
            NoRepeatNGramLogitsProcessor(SETTINGS.no_repeat_ngram_size),
            MinLengthLogitsProcessor(SETTINGS.min_length, SETTINGS.eos_token_id),
            ForcedBOSTokenLogitsProcessor(SETTINGS.forced_bos_token_id),
            ForcedEOSTokenLogitsProcessor(SETTINGS.max_length, SETTINGS.forced_eos_token_id),
        ]
    )


def test_banned_ngrams():
    assert banned_ngram_tokens([2, 0, 5, 6, 2, 0], 3) == {5}
    assert banned_ngram_tokens([2, 0, 5, 6, 5], 3) == set()
    assert banned_ngram_tokens([2, 0, 5, 6, 5, 6], 3) == {5}
    assert banned_ngram_tokens([2, 0], 3) == set()
    assert banned_ngram_tokens([2, 0, 5, 6, 5], 0) == set()


@pytest.mark.parametrize("seed", range(6))
def test_processors_match_transformers_at_every_length(seed):
    rng = np.random.default_rng(seed)
    vocab = 9  # small, so n-gram repeats and bans happen
    processors = transformers_processors()
    tokens = [SETTINGS.decoder_start_token_id]
    while len(tokens) < SETTINGS.max_length:
        logits = rng.normal(size=vocab).astype(np.float32)
        expected = processors(torch.tensor([tokens]), torch.tensor(logits[None].copy()))[0].numpy()
        ours = process_logits(logits, tokens, SETTINGS)
        np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(expected), err_msg=f"tokens={tokens}")
        finite = ~np.isneginf(ours)
        assert int(np.argmax(ours)) == int(np.argmax(expected))
        np.testing.assert_allclose(ours[finite], expected[finite], rtol=0, atol=1e-6)
        tokens.append(int(rng.integers(0, vocab)))


def test_generate_kwargs_leave_nothing_to_the_checkpoint_config():
    kwargs = SETTINGS.generate_kwargs()
    assert kwargs["num_beams"] == 1 and kwargs["do_sample"] is False
    for key in (
        "max_length",
        "min_length",
        "no_repeat_ngram_size",
        "forced_bos_token_id",
        "forced_eos_token_id",
    ):
        assert kwargs[key] == getattr(SETTINGS, key)
