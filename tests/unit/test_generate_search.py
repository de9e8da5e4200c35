"""Greedy and beam search in runtime.generate against transformers' own generate().

Both sides run the same tiny, seeded, random BART in PyTorch: transformers through
`generate()`, ours through a StepDecoder over the same model. Equal logits in, so the token
sequences must be identical; any difference is in the search. EOS gets a bias so that
hypotheses finish at many different lengths, which exercises finishing, early stopping,
the length penalty and the dropping of settled rows.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from runtime.generate import GenerationConfig, generate  # noqa: E402

VOCAB, PAD, BOS, EOS = 96, 1, 0, 2
pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(7)
    config = transformers.BartConfig(
        vocab_size=VOCAB, d_model=32, encoder_layers=1, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
        init_std=0.3, pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS, decoder_start_token_id=EOS,
        forced_bos_token_id=None, forced_eos_token_id=None,
    )
    bart = transformers.BartForConditionalGeneration(config).eval()
    with torch.no_grad():
        bart.final_logits_bias[0, EOS] = 2.5  # finish at varied lengths
    return bart


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(3)
    lengths = [5, 17, 9, 30, 2, 12]
    ids = np.full((len(lengths), max(lengths)), PAD, dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(4, VOCAB, size=length)
        mask[row, :length] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


class TorchDecoder:
    """StepDecoder over a transformers BART, cache handled by transformers' Cache object."""

    def __init__(self, bart, ids, mask):
        self.bart = bart
        with torch.no_grad():
            self.hidden = bart.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state
        self.mask = mask
        self.past = None
        self.calls: list[str] = []

    def step(self, tokens: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = self.bart(
                encoder_outputs=(self.hidden,), attention_mask=self.mask,
                decoder_input_ids=torch.from_numpy(tokens.reshape(-1, 1)), past_key_values=self.past, use_cache=True,
            )
        self.past = out.past_key_values
        return out.logits[:, -1].float().numpy()

    def keep(self, rows: np.ndarray) -> None:
        self.calls.append("keep")
        index = torch.from_numpy(np.asarray(rows, dtype=np.int64))
        self.past.reorder_cache(index)
        self.hidden = self.hidden.index_select(0, index)
        self.mask = self.mask.index_select(0, index)

    def reorder(self, rows: np.ndarray) -> None:
        self.calls.append("reorder")
        self.past.reorder_cache(torch.from_numpy(np.asarray(rows, dtype=np.int64)))


def reference(bart, ids, mask, settings: dict) -> list[list[int]]:
    """transformers generate() with every setting explicit and no model defaults refilled.
    (Avoid max_length=20 here: transformers takes 20 for its default and adds the prompt.)"""
    config = transformers.GenerationConfig(
        do_sample=False, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD, decoder_start_token_id=EOS, **settings
    )
    with torch.no_grad():
        return bart.generate(input_ids=ids, attention_mask=mask, generation_config=config, use_model_defaults=False).tolist()


def assert_same(ours: list[list[int]], theirs: list[list[int]]) -> None:
    """Ours are unpadded; transformers pads every row to the longest with pad_token_id."""
    assert len(ours) == len(theirs)
    for row, (mine, ref) in enumerate(zip(ours, theirs, strict=True)):
        assert mine == ref[: len(mine)] and all(t == PAD for t in ref[len(mine) :]), (row, mine, ref)


CASES = {
    "greedy": dict(num_beams=1, max_length=24, min_length=0, no_repeat_ngram_size=0),
    "greedy-min-length-ngram": dict(num_beams=1, max_length=30, min_length=8, no_repeat_ngram_size=2),
    "greedy-new-tokens-forced": dict(num_beams=1, max_new_tokens=12, min_new_tokens=4, no_repeat_ngram_size=3,
                                     forced_bos_token_id=BOS, forced_eos_token_id=EOS),
    "beam-early-stopping": dict(num_beams=4, max_length=26, min_length=3, no_repeat_ngram_size=3,
                                length_penalty=2.0, early_stopping=True),
    "beam-heuristic": dict(num_beams=3, max_length=26, min_length=0, length_penalty=1.0, early_stopping=False),
    "beam-never-negative-penalty": dict(num_beams=4, max_length=22, min_length=5, no_repeat_ngram_size=2,
                                        length_penalty=-0.5, early_stopping="never"),
    "beam-never-forced": dict(num_beams=2, max_length=19, min_length=6, length_penalty=1.5, early_stopping="never",
                              forced_bos_token_id=BOS, forced_eos_token_id=EOS),
    "beam-distilbart-settings": dict(num_beams=4, max_length=40, min_length=12, no_repeat_ngram_size=3,
                                     length_penalty=2.0, early_stopping=True,
                                     forced_bos_token_id=BOS, forced_eos_token_id=EOS),
}

# Cases where rows must finish at different lengths (the others run to max_length by design).
VARIED = {"greedy", "greedy-min-length-ngram", "beam-early-stopping", "beam-heuristic", "beam-distilbart-settings"}


@pytest.mark.parametrize("name", list(CASES))
def test_search_matches_transformers(model, inputs, name):
    settings = CASES[name]
    ids, mask = inputs
    config = GenerationConfig(decoder_start_token_id=EOS, eos_token_id=EOS, pad_token_id=PAD, **settings)
    decoder = TorchDecoder(model, ids, mask)
    ours = generate(decoder, ids.shape[0], config)
    assert_same(ours, reference(model, ids, mask, settings))
    if name in VARIED:
        lengths = {len(seq) for seq in ours}
        assert len(lengths) > 1, f"all rows ended at {lengths}: the test no longer reaches early finishes"


def test_greedy_drops_finished_rows(model, inputs):
    ids, mask = inputs
    decoder = TorchDecoder(model, ids, mask)
    ours = generate(decoder, ids.shape[0], GenerationConfig(max_length=30))
    assert "keep" in decoder.calls  # some row finished before the others and left the batch
    assert any(seq[-1] == EOS and len(seq) < 30 for seq in ours)


def test_beam_search_batch_equals_one_by_one(model, inputs):
    """Batching inputs (and dropping the settled ones) changes nothing per input."""
    ids, mask = inputs
    config = GenerationConfig(**CASES["beam-early-stopping"])
    decoder = TorchDecoder(model, ids, mask)
    batched = generate(decoder, ids.shape[0], config)
    assert decoder.calls.count("keep") > 1  # beyond the first step's expansion: settled inputs left
    assert "reorder" in decoder.calls
    for row in range(ids.shape[0]):
        length = int(mask[row].sum())
        alone = generate(TorchDecoder(model, ids[row : row + 1, :length], mask[row : row + 1, :length]), 1, config)
        assert alone == [batched[row]]


@pytest.mark.parametrize("name", ["greedy-new-tokens-forced", "greedy-min-length-ngram", "beam-heuristic",
                                  "beam-never-forced", "beam-distilbart-settings"])
def test_each_input_its_own_max_length_in_one_batch(model, inputs, name):
    """A per-ticket budget: every row decodes exactly as transformers decodes it alone with
    that max length, while sharing the batch with rows of other budgets."""
    settings = CASES[name]
    ids, mask = inputs
    config = GenerationConfig(decoder_start_token_id=EOS, eos_token_id=EOS, pad_token_id=PAD, **settings)
    top = config.total_max_length
    limits = [top, 2, top - 5, 6, top - 1, 9]  # 20 avoided: see reference()
    ours = generate(TorchDecoder(model, ids, mask), ids.shape[0], config, limits)
    alone = {k: v for k, v in settings.items() if k not in ("max_length", "max_new_tokens")}
    for row, limit in enumerate(limits):
        length = int(mask[row].sum())
        theirs = reference(model, ids[row : row + 1, :length], mask[row : row + 1, :length], alone | {"max_length": limit})
        assert_same([ours[row]], theirs)
        assert len(ours[row]) <= limit


def test_per_input_max_lengths_are_checked():
    config = GenerationConfig(max_new_tokens=8)
    with pytest.raises(ValueError, match="between 2 and 9"):
        generate(None, 2, config, [3, 10])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must give 2 lengths"):
        generate(None, 2, config, [3])  # type: ignore[arg-type]
