"""The numpy logits processors and generation settings, checked against transformers' own."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.generate import GenerationConfig, ban_repeated_ngrams, log_softmax, process_scores
from runtime.manifest import FileEntry, ModelEntry, Source

torch = pytest.importorskip("torch")
lp = pytest.importorskip("transformers.generation.logits_process")


def random_case(seed: int, rows: int = 5, length: int = 12, vocab: int = 9):
    rng = np.random.default_rng(seed)
    sequences = rng.integers(0, 4, size=(rows, length))  # few distinct tokens: many repeated n-grams
    scores = rng.normal(size=(rows, vocab)).astype(np.float32)
    return sequences, scores


@pytest.mark.parametrize("size", [1, 2, 3, 4])
@pytest.mark.parametrize("length", [0, 1, 2, 3, 5, 12])
def test_no_repeat_ngram_matches_transformers(size, length):
    for seed in range(5):
        sequences, scores = random_case(seed, length=length)
        expected = lp.NoRepeatNGramLogitsProcessor(size)(torch.from_numpy(sequences), torch.from_numpy(scores.copy()))
        ours = scores.copy()
        ban_repeated_ngrams(ours, sequences, size)
        np.testing.assert_array_equal(ours, expected.numpy())


def test_no_repeat_ngram_bans_the_token_that_would_repeat():
    scores = np.zeros((1, 10), dtype=np.float32)
    ban_repeated_ngrams(scores, np.array([[2, 5, 6, 7, 5, 6]]), 3)  # "5 6" was followed by 7
    assert np.isneginf(scores[0, 7]) and np.isfinite(np.delete(scores[0], 7)).all()


def hf_processors(config: GenerationConfig) -> lp.LogitsProcessorList:
    """What transformers' _get_logits_processor builds for these settings, in its order."""
    eos = torch.tensor([config.eos_token_id])
    processors = lp.LogitsProcessorList()
    if config.no_repeat_ngram_size:
        processors.append(lp.NoRepeatNGramLogitsProcessor(config.no_repeat_ngram_size))
    if config.total_min_length > 0:
        processors.append(lp.MinLengthLogitsProcessor(config.total_min_length, eos))
    if config.min_new_tokens:
        processors.append(lp.MinNewTokensLengthLogitsProcessor(1, config.min_new_tokens, eos))
    if config.forced_bos_token_id is not None:
        processors.append(lp.ForcedBOSTokenLogitsProcessor(config.forced_bos_token_id))
    if config.forced_eos_token_id is not None:
        processors.append(lp.ForcedEOSTokenLogitsProcessor(config.total_max_length, config.forced_eos_token_id))
    return processors


CONFIGS = [
    GenerationConfig(max_length=8, min_length=5, no_repeat_ngram_size=2, forced_bos_token_id=0, forced_eos_token_id=2),
    GenerationConfig(max_new_tokens=6, min_new_tokens=4, no_repeat_ngram_size=3, forced_eos_token_id=2),
    GenerationConfig(max_length=3, min_length=9, forced_eos_token_id=2),  # forced EOS beats min length
    GenerationConfig(max_length=2, forced_bos_token_id=0, forced_eos_token_id=2),  # both on step 1: EOS last
    GenerationConfig(max_length=10),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_process_scores_matches_transformers(config):
    for length in range(1, config.total_max_length):
        sequences, scores = random_case(length, length=length)
        sequences[:, 0] = config.decoder_start_token_id
        expected = hf_processors(config)(torch.from_numpy(sequences), torch.from_numpy(scores.copy()))
        ours = process_scores(scores.copy(), sequences, config)
        np.testing.assert_array_equal(ours, expected.numpy(), err_msg=f"cur_len {length}")


def test_log_softmax_matches_torch():
    rng = np.random.default_rng(0)
    logits = (rng.normal(size=(4, 50264)) * 6).astype(np.float32)
    expected = torch.log_softmax(torch.from_numpy(logits), dim=-1).numpy()
    ours = log_softmax(logits)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=0, atol=2e-5)
    np.testing.assert_array_equal(ours.argmax(-1), expected.argmax(-1))


def test_log_softmax_keeps_minus_inf():
    logits = np.array([[0.0, -np.inf, 1.0]], dtype=np.float32)
    out = log_softmax(logits)
    assert np.isneginf(out[0, 1]) and np.isclose(np.exp(out).sum(), 1.0)


def test_lengths_count_the_decoder_start_token():
    config = GenerationConfig(max_length=142, min_length=56)
    assert (config.total_max_length, config.total_min_length) == (142, 56)
    config = GenerationConfig(max_length=142, min_length=56, max_new_tokens=30, min_new_tokens=30)
    assert (config.total_max_length, config.total_min_length) == (31, 31)


@pytest.mark.parametrize(
    "bad",
    [dict(num_beams=0), dict(early_stopping="sometimes"), dict(max_length=1), dict(max_new_tokens=0),
     dict(no_repeat_ngram_size=-1)],
)
def test_invalid_settings_raise_when_built(bad):
    with pytest.raises(ValueError, match="invalid GenerationConfig"):
        GenerationConfig(**bad)


def summary_entry(generation: dict, settings: dict) -> ModelEntry:
    tokenizer = FileEntry(path="summary/tokenizer.json", sha256="0" * 64, size=1)
    return ModelEntry(role="summary", name="distilbart", task="text2text-generation-with-past",
                      source=Source(kind="stand-in", ref="BartForConditionalGeneration", weights_sha256="0" * 64),
                      tokenizer=tokenizer, variants={}, settings=settings, generation=generation)


def test_from_entry_takes_the_checkpoint_defaults_and_overrides():
    generation = {"num_beams": 4, "max_length": 142, "min_length": 56, "no_repeat_ngram_size": 3,
                  "length_penalty": 2.0, "early_stopping": True, "forced_bos_token_id": 0,
                  "forced_eos_token_id": 2, "decoder_start_token_id": 2, "eos_token_id": [2],
                  "bos_token_id": 0, "pad_token_id": 1, "transformers_version": "4.57.6"}
    entry = summary_entry(generation, {"max_length": 1024, "pad_token_id": 1})
    config = GenerationConfig.from_entry(entry)
    assert (config.num_beams, config.max_length, config.min_length, config.eos_token_id) == (4, 142, 56, 2)
    assert config.early_stopping is True and config.length_penalty == 2.0
    greedy = GenerationConfig.from_entry(entry, num_beams=1, max_new_tokens=30, min_new_tokens=30)
    assert (greedy.num_beams, greedy.total_max_length, greedy.total_min_length) == (1, 31, 31)
    with pytest.raises(TypeError, match="unknown generation settings"):
        GenerationConfig.from_entry(entry, beams=2)
