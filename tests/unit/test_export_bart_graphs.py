"""export/bart_graphs.py writes BART's encoder, cross-attention K/V and decoder by hand: each is
checked here against the same tiny, seeded, random BART in PyTorch, through the runtime's own
CachedDecoder (the code that serves), with padded batches, an empty first cache, a cache grown
step by step (past its first capacity), rows dropped and reordered, embedding scaling on and off,
and the int8 variants' float16 caches."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from export.bart_decoder import set_cache_type_file  # noqa: E402
from export.bart_graphs import GRAPH_FILES, BartShape, write_bart_graphs  # noqa: E402
from export.errors import ExportError  # noqa: E402
from runtime.decoder import CachedDecoder, cross_cache  # noqa: E402
from runtime.generate import GenerationConfig, generate  # noqa: E402
from runtime.session import SessionSettings, make_session  # noqa: E402

VOCAB, PAD, EOS = 96, 1, 2
TOLERANCE = 2e-5


@pytest.fixture(scope="module", params=[False, True], ids=["unscaled", "scale_embedding"])
def tiny(request, tmp_path_factory):
    torch.manual_seed(11)
    config = transformers.BartConfig(
        vocab_size=VOCAB,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        init_std=0.3,
        pad_token_id=PAD,
        bos_token_id=0,
        eos_token_id=EOS,
        decoder_start_token_id=EOS,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
        scale_embedding=request.param,
    )
    model = transformers.BartForConditionalGeneration(config).eval()
    with torch.no_grad():
        model.final_logits_bias.normal_()  # so that a missing bias would show
    folder = tmp_path_factory.mktemp("bart")
    model.save_pretrained(folder)
    written = write_bart_graphs(folder, folder / "onnx")
    sessions = {path.stem: make_session(path, SessionSettings(threads=1)) for path in written.values()}
    return model, sessions, written


@pytest.fixture(scope="module")
def half(tiny, tmp_path_factory):
    """The same graphs with float16 caches, as the int8 variants ship them."""
    _, sessions, written = tiny
    folder = tmp_path_factory.mktemp("half")
    for name in ("cross_kv", "decoder"):
        target = folder / f"{name}.onnx"
        target.write_bytes(written[f"{name}.onnx"].read_bytes())
        set_cache_type_file(target, "float16")
    return {"encoder": sessions["encoder"]} | {
        name: make_session(folder / f"{name}.onnx", SessionSettings(threads=1)) for name in ("cross_kv", "decoder")}


def decoder_for(sessions, hidden, mask, capacity=32):
    return CachedDecoder(sessions["decoder"], cross_cache(sessions["cross_kv"], sessions["decoder"], hidden, mask),
                         capacity=capacity)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(5)
    lengths = [7, 3, 12]
    ids = np.full((len(lengths), max(lengths)), PAD, dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(4, VOCAB, size=length)
        mask[row, :length] = 1
    decoder_ids = np.concatenate([np.full((3, 1), EOS), rng.integers(4, VOCAB, size=(3, 5))], axis=1)
    return ids, mask, decoder_ids, lengths


def _reference(model, ids, mask, decoder_ids):
    with torch.inference_mode():
        out = model(
            input_ids=torch.from_numpy(ids),
            attention_mask=torch.from_numpy(mask),
            decoder_input_ids=torch.from_numpy(decoder_ids),
        )
    return out.encoder_last_hidden_state.numpy(), out.logits.numpy()


def test_files_and_shapes(tiny):
    _, sessions, _ = tiny
    assert set(sessions) == {name.removesuffix(".onnx") for name in GRAPH_FILES}
    outputs = [o.name for o in sessions["cross_kv"].get_outputs()]
    assert outputs == [f"present.{layer}.encoder.{kind}" for layer in range(2) for kind in ("key", "value")]
    inputs = {i.name: i for i in sessions["decoder"].get_inputs()}
    assert inputs["past_key_values.1.decoder.value"].shape[1:] == [4, "cache_capacity", 8]
    assert inputs["past_key_values.1.decoder.value"].type == "tensor(float)"
    assert "encoder_hidden_states" not in inputs  # the decoder reads only the cross K/V


def test_encoder_matches_torch_on_a_padded_batch(tiny, batch):
    model, sessions, _ = tiny
    ids, mask, decoder_ids, lengths = batch
    hidden = sessions["encoder"].run(None, {"input_ids": ids, "attention_mask": mask})[0]
    reference, _ = _reference(model, ids, mask, decoder_ids)
    for row, length in enumerate(lengths):  # padded positions are masked out downstream
        np.testing.assert_allclose(hidden[row, :length], reference[row, :length], atol=TOLERANCE)


def test_decoder_all_positions_at_once_and_step_by_step(tiny, batch):
    model, sessions, _ = tiny
    ids, mask, decoder_ids, _ = batch
    hidden, reference = _reference(model, ids, mask, decoder_ids)
    whole = decoder_for(sessions, hidden, mask).run(decoder_ids)
    np.testing.assert_allclose(whole, reference, atol=TOLERANCE)
    stepped = decoder_for(sessions, hidden, mask, capacity=2)  # grows twice
    for position in range(decoder_ids.shape[1]):
        np.testing.assert_allclose(
            stepped.step(decoder_ids[:, position]), reference[:, position], atol=TOLERANCE
        )


def test_rows_kept_and_reordered_keep_their_caches(tiny, batch):
    """As beam search uses them: inputs repeated into beams (keep), beams that swap histories
    (reorder: the self-attention cache moves, the cross K/V of one input's beams is the same),
    and an input that leaves (keep again: its cross K/V and mask leave with it)."""
    model, sessions, _ = tiny
    ids, mask, decoder_ids, _ = batch
    hidden = sessions["encoder"].run(None, {"input_ids": ids, "attention_mask": mask})[0]
    decoder = decoder_for(sessions, hidden, mask)
    decoder.step(decoder_ids[:, 0])
    inputs = np.array([0, 0, 1, 1, 2, 2])
    decoder.keep(inputs)
    history = np.concatenate(
        [decoder_ids[inputs, :1], np.random.default_rng(9).integers(4, VOCAB, (6, 3))], axis=1
    )
    for position in range(1, 4):
        decoder.step(history[:, position])
    source = np.array([1, 0, 3, 2, 4, 5])  # beams of inputs 0 and 1 swap
    decoder.reorder(source)
    history = history[source]
    leaving = np.array([0, 1, 4, 5])  # input 1 is done
    decoder.keep(leaving)
    inputs, history = inputs[leaving], history[leaving]
    last = np.array([[7], [8], [9], [10]])
    _, reference = _reference(model, ids[inputs], mask[inputs], np.concatenate([history, last], axis=1))
    np.testing.assert_allclose(decoder.step(last[:, 0]), reference[:, -1], atol=TOLERANCE)


def test_the_first_rows_are_kept_as_views_and_decode_as_alone(tiny, batch):
    """Greedy, longest first: the rows a per-row budget ends first are the last ones, and the
    first rows stay as views of the same buffers (nothing copied); they decode as they would alone."""
    model, sessions, _ = tiny
    ids, mask, decoder_ids, _ = batch
    hidden = sessions["encoder"].run(None, {"input_ids": ids, "attention_mask": mask})[0]
    decoder = decoder_for(sessions, hidden, mask)
    for position in range(3):
        decoder.step(decoder_ids[:, position])
    buffers = dict(decoder.buffers)
    decoder.keep(np.array([0, 1]))
    assert all(np.shares_memory(decoder.buffers[name], buffers[name]) for name in buffers)
    _, reference = _reference(model, ids[:2], mask[:2], decoder_ids[:2, :4])
    np.testing.assert_allclose(decoder.step(decoder_ids[:2, 3]), reference[:, -1], atol=TOLERANCE)


def test_per_row_budgets_in_one_batch_equal_each_row_alone(tiny, batch):
    """Each row stops at its own max length (and forced EOS lands on its own last step) inside
    one batch, exactly as it decodes alone."""
    _, sessions, _ = tiny
    ids, mask, _, lengths = batch
    config = GenerationConfig(max_new_tokens=9, min_new_tokens=9, forced_eos_token_id=EOS, decoder_start_token_id=EOS,
                              eos_token_id=EOS, pad_token_id=PAD)
    order = np.argsort([-n for n in lengths], kind="stable")  # longest first, as the Summarizer batches
    limits = [10, 6, 4]  # decoder start included: the shorter rows end first
    hidden = sessions["encoder"].run(None, {"input_ids": ids[order], "attention_mask": mask[order]})[0]
    together = generate(decoder_for(sessions, hidden, mask[order]), 3, config, limits)
    for row, limit in enumerate(limits):
        alone = generate(decoder_for(sessions, hidden[row : row + 1], mask[order][row : row + 1]), 1,
                         GenerationConfig(**{**config.__dict__, "max_new_tokens": limit - 1}))
        assert together[row] == alone[0] and len(together[row]) == limit and together[row][-1] == EOS


def test_greedy_generation_equals_transformers(tiny, batch):
    model, sessions, _ = tiny
    ids, mask, _, lengths = batch
    settings = dict(max_length=12, min_length=4, no_repeat_ngram_size=2, decoder_start_token_id=EOS,
                    eos_token_id=EOS, pad_token_id=PAD)
    hidden = sessions["encoder"].run(None, {"input_ids": ids, "attention_mask": mask})[0]
    ours = generate(decoder_for(sessions, hidden, mask), len(lengths), GenerationConfig(**settings))
    with torch.inference_mode():
        theirs = model.generate(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                                do_sample=False, num_beams=1, forced_bos_token_id=None,
                                forced_eos_token_id=None, **settings)
    for row, tokens in enumerate(ours):
        assert tokens == theirs[row, : len(tokens)].tolist()


def test_float16_caches_stay_close_and_are_what_the_graphs_take(tiny, half, batch):
    """The int8 variants' caches: the same logits within float16 rounding, cache buffers in float16."""
    model, _, _ = tiny
    ids, mask, decoder_ids, _ = batch
    hidden, reference = _reference(model, ids, mask, decoder_ids)
    decoder = decoder_for(half, hidden, mask)
    assert {buffer.dtype for buffer in decoder.buffers.values()} == {np.dtype(np.float16)}
    assert {value.dtype for value in decoder.cross.values.values()} == {np.dtype(np.float16)}
    np.testing.assert_allclose(decoder.run(decoder_ids), reference, atol=2e-2)


def test_padding_of_the_cross_cache_is_never_read(tiny, batch):
    """A row reads only its own source length: garbage in the padded positions changes nothing."""
    _, sessions, _ = tiny
    ids, mask, decoder_ids, lengths = batch
    hidden = sessions["encoder"].run(None, {"input_ids": ids, "attention_mask": mask})[0]
    clean = decoder_for(sessions, hidden, mask).run(decoder_ids)
    dirty = decoder_for(sessions, hidden, mask)
    for value in dirty.cross.values.values():
        for row, length in enumerate(lengths):
            value[row, :, length:] = 1e4
    np.testing.assert_array_equal(dirty.run(decoder_ids), clean)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"model_type": "mbart"}, "not 'bart'"),
        ({"activation_function": "relu"}, "gelu"),
        ({"normalize_before": True}, "pre-LayerNorm"),
        ({"encoder_attention_heads": 8}, "heads"),
    ],
)
def test_unsupported_configs_are_refused_plainly(change, message):
    config = {
        "model_type": "bart",
        "activation_function": "gelu",
        "d_model": 32,
        "encoder_attention_heads": 4,
        "decoder_attention_heads": 4,
        "encoder_layers": 1,
        "decoder_layers": 1,
    } | change
    with pytest.raises(ExportError, match=message):
        BartShape.from_config(config)
