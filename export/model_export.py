"""One model, start to finish: convert -> check fp32 -> calibrate -> quantize -> check -> place.

Returns the manifest's ModelEntry; any missed parity gate raises ParityError before anything
reaches the artifacts folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from export import metadata
from export.architectures.base import Feed
from export.artifacts import place_variant
from export.catalog import ModelSpec
from export.checkpoints import Checkpoint
from export.optimize import move_weights_out, optimize_offline
from export.quantize import PRESETS, QuantPreset, quantize_file
from export.texts import CALIBRATION_TEXTS
from runtime.manifest import ModelEntry, Variant, file_entry, sha256_file


def planned_variants(spec: ModelSpec) -> dict[str, dict[str, Any] | None]:
    """variant -> its Variant.quantization, in export order (fp32, the reference, first)."""
    planned: dict[str, dict[str, Any] | None] = {"fp32": None}
    for make in PRESETS:
        preset = make()
        planned[preset.variant] = preset.describe(spec.outliers, spec.keep_fp32)
    return planned


def _token_feeds(tokenizer_path: Path, texts: tuple[str, ...]) -> list[Feed]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    feeds = []
    for encoding in tokenizer.encode_batch(list(texts)):
        ids = np.array([encoding.ids], dtype=np.int64)
        feeds.append(
            {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        )
    return feeds


def export_model(checkpoint: Checkpoint, root: Path, work: Path, log: Callable[[str], None]) -> ModelEntry:
    spec, arch = checkpoint.spec, checkpoint.spec.arch
    config = metadata.read_config(checkpoint.path)
    tokenizer_path = root / spec.role / "tokenizer.json"
    metadata.write_tokenizer(spec, checkpoint.path, tokenizer_path)
    generation = arch.generation(checkpoint.path)

    log(f"{spec.role}: converting {checkpoint.source.ref} ({checkpoint.source.kind}) to ONNX")
    onnx_dir = work / spec.role
    arch.convert(spec, checkpoint.path, onnx_dir)
    log(f"{spec.role}: computing the PyTorch reference on the parity texts")
    checker = arch.checker(checkpoint.path, tokenizer_path, metadata.pad_token_id(config), generation)

    fp32: dict[str, Path] = {}
    for name, role in spec.files:
        fp32[role] = work / spec.role / "fp32" / f"{role}.onnx"
        fp32[role].parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(onnx_dir / name, fp32[role])
        optimize_offline(fp32[role])
    fp32 = _finish(spec, fp32)
    log(f"{spec.role}: checking fp32 against PyTorch")
    parity = {"fp32": checker.check(spec.role, "fp32", fp32)}
    variants = {"fp32": place_variant(root, spec.role, "fp32", fp32, None, {})}
    ranges = (arch.calibration_ranges(spec, onnx_dir, _token_feeds(tokenizer_path, CALIBRATION_TEXTS), config)
              if spec.outliers else {})  # fmt: skip

    made: dict[tuple[Any, ...], dict[str, Path]] = {}  # equal preset settings give equal bytes: quantize once
    checked: dict[tuple[str, ...], dict[str, Any]] = {}  # parity figures per distinct set of files
    for make in PRESETS:
        preset: QuantPreset = make()
        key = preset.settings_key()
        if key not in made:
            log(f"{spec.role}: quantizing for {preset.variant}")
            out = work / spec.role / preset.variant
            out.mkdir(parents=True, exist_ok=True)
            for name, role in spec.files:
                quantize_file(onnx_dir / name, out / f"{role}.onnx", preset, ranges.get(name, {}),
                              spec.outliers, spec.keep_fp32)  # fmt: skip
                optimize_offline(out / f"{role}.onnx")
            made[key] = _finish(spec, {role: out / f"{role}.onnx" for role in spec.file_roles})
        files = made[key]
        shas = tuple(sha256_file(path) for path in files.values())
        if shas not in checked:
            log(f"{spec.role}: checking {preset.variant} against PyTorch")
            checked[shas] = checker.check(spec.role, preset.variant, files)
        parity[preset.variant] = checked[shas]
        quantization = preset.describe(spec.outliers, spec.keep_fp32)
        variants[preset.variant] = place_variant(
            root, spec.role, preset.variant, files, quantization, variants
        )
    shutil.rmtree(work / spec.role, ignore_errors=True)

    return ModelEntry(
        role=spec.role,
        name=spec.name,
        task=spec.task,
        source=checkpoint.source,
        tokenizer=file_entry(root, tokenizer_path),
        variants=_ordered(variants),
        labels=arch.labels(config),
        settings=metadata.settings(spec, config),
        generation=generation,
        parity=parity,
    )


def _finish(spec: ModelSpec, graphs: dict[str, Path]) -> dict[str, Path]:
    """role -> file of one variant as shipped: with spec.external_data, each graph's weights
    move to its "<role>.data" file, and tensors several graphs share to "shared.data" (each
    listed, hashed and placed like the graphs themselves)."""
    if not spec.external_data:
        return graphs
    return graphs | move_weights_out(graphs)


def _ordered(variants: dict[str, Variant]) -> dict[str, Variant]:
    from runtime.manifest import VARIANTS

    return {name: variants[name] for name in VARIANTS if name in variants}
