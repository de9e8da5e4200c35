"""The artifacts folder: byte-identical variants stored once, the up-to-date check, refusals,
and the all-or-nothing swap. Plain files and real manifests, no models."""

from dataclasses import replace
from pathlib import Path

import pytest

from export.artifacts import commit, existing_state, inputs_of_manifest, place_variant, staging_dir
from export.errors import ExportError
from runtime.manifest import Manifest, ModelEntry, Source, file_entry, load_manifest


def produce(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def manifest_for(root: Path, weights: str = "a" * 64) -> Manifest:
    tokenizer = produce(root / "embedding", "tokenizer.json", b"{}")
    fp32 = place_variant(
        root, "embedding", "fp32", {"model": produce(root / "_w", "f.onnx", b"fp32")}, None, {}
    )
    variants = {"fp32": fp32}
    for variant, data, reduce in (
        ("avx512_vnni", b"s8", False),
        ("avx512", b"s7", True),
        ("avx2", b"s7", True),
    ):
        quant = {"variant": variant, "reduce_range": reduce}
        produced = {"model": produce(root / "_w", f"{variant}.onnx", data)}
        variants[variant] = place_variant(root, "embedding", variant, produced, quant, variants)
    entry = ModelEntry(
        role="embedding",
        name="m",
        task="feature-extraction",
        source=Source("pypi", "pkg", weights),
        tokenizer=file_entry(root, tokenizer),
        variants=variants,
        settings={"dim": 384},
    )
    return Manifest(profile="offline", models={"embedding": entry}, tools={"onnx": "1"})


def test_identical_bytes_are_stored_once(tmp_path):
    manifest = manifest_for(tmp_path)
    variants = manifest.models["embedding"].variants
    assert variants["avx2"].same_as == "avx512"
    assert variants["avx2"].files == variants["avx512"].files
    assert variants["avx2"].quantization == {"variant": "avx2", "reduce_range": True}  # its own preset
    assert variants["avx512"].same_as is None and variants["avx512_vnni"].same_as is None
    assert not (tmp_path / "embedding" / "avx2").exists()
    assert variants["avx512"].files["model"].path == "embedding/avx512/model.onnx"
    assert (tmp_path / "embedding/avx512/model.onnx").read_bytes() == b"s7"


def export_folder(tmp_path: Path, **kwargs) -> tuple[Path, Manifest]:
    out = tmp_path / "artifacts"
    staging = staging_dir(out)
    manifest = manifest_for(staging, **kwargs)
    commit(staging, out, manifest)
    return out, manifest


def test_commit_swaps_in_a_verified_folder(tmp_path):
    out, manifest = export_folder(tmp_path)
    assert load_manifest(out) == manifest
    assert [p.name for p in tmp_path.iterdir()] == ["artifacts"]  # no staging or old folder left


def test_same_inputs_are_up_to_date_even_with_force(tmp_path):
    out, manifest = export_folder(tmp_path)
    planned = inputs_of_manifest(manifest)
    assert existing_state(out, planned, force=False) == "current"
    assert existing_state(out, planned, force=True) == "current"


def test_a_different_export_is_refused_with_what_differs(tmp_path):
    out, _ = export_folder(tmp_path)
    other = inputs_of_manifest(manifest_for(tmp_path / "other", weights="b" * 64))
    with pytest.raises(ExportError) as excinfo:
        existing_state(out, other, force=False)
    message = str(excinfo.value)
    assert "models.embedding.source.weights_sha256" in message and "--force" in message
    assert existing_state(out, other, force=True) == "replace"


def test_a_changed_quantization_is_a_different_export(tmp_path):
    out, manifest = export_folder(tmp_path)
    entry = manifest.models["embedding"]
    variants = dict(entry.variants)
    variants["avx512"] = replace(
        variants["avx512"], quantization={"variant": "avx512", "reduce_range": False}
    )
    changed = replace(manifest, models={"embedding": replace(entry, variants=variants)})
    with pytest.raises(ExportError, match="variants.avx512.reduce_range"):
        existing_state(out, inputs_of_manifest(changed), force=False)


def test_damaged_files_are_not_up_to_date(tmp_path):
    out, manifest = export_folder(tmp_path)
    (out / "embedding/avx512/model.onnx").write_bytes(b"s6")
    with pytest.raises(ExportError, match="damaged"):
        existing_state(out, inputs_of_manifest(manifest), force=False)


def test_a_foreign_folder_is_refused(tmp_path):
    out = tmp_path / "artifacts"
    produce(out, "notes.txt", b"mine")
    with pytest.raises(ExportError, match="holds no manifest.json"):
        existing_state(out, {}, force=False)
    assert existing_state(tmp_path / "missing", {}, force=False) == "empty"


def test_commit_refuses_a_manifest_that_does_not_match_its_files(tmp_path):
    out = tmp_path / "artifacts"
    staging = staging_dir(out)
    manifest = manifest_for(staging)
    (staging / "embedding/fp32/model.onnx").write_bytes(b"FP32")
    with pytest.raises(ExportError, match="sha256 mismatch"):
        commit(staging, out, manifest)
    assert not out.exists()
