"""One model, start to finish: convert -> check fp32 -> calibrate -> quantize -> check -> place.

Returns the manifest's ModelEntry; any missed parity gate raises ParityError before anything
reaches the artifacts folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from export import metadata
from export.artifacts import place_variant
from export.calibrate import collect_absmax
from export.checkpoints import Checkpoint
from export.errors import ExportError
from export.optimize import move_weights_out, optimize_offline
from export.quantize import PRESETS, QuantPreset, quantize_file
from export.texts import CALIBRATION_TEXTS
from runtime.manifest import ModelEntry, Variant, file_entry, sha256_file


def planned_variants(spec) -> dict[str, dict | None]:
    """variant -> its Variant.quantization, in export order (fp32, the reference, first)."""
    planned: dict[str, dict | None] = {"fp32": None}
    for make in PRESETS:
        preset = make()
        planned[preset.variant] = preset.describe(spec.outliers, spec.keep_fp32, spec.int8_cache)
    return planned


def convert(checkpoint: Checkpoint, work: Path) -> Path:
    """The checkpoint as fp32 ONNX graphs in `work`: Optimum's export, or our own BART graphs."""
    if checkpoint.spec.writer == "bart":
        from export.bart_graphs import write_bart_graphs

        write_bart_graphs(checkpoint.path, work)
        return work
    from optimum.exporters.onnx import main_export

    try:
        main_export(
            str(checkpoint.path),
            str(work),
            task=checkpoint.spec.task,
            library_name="transformers",
            do_validation=False,  # export/parity.py checks against PyTorch, with our gates
            local_files_only=True,
        )
    except Exception as exc:  # torch/safetensors/optimum raise many types for a broken checkpoint
        raise ExportError(f"converting {checkpoint.spec.role} from {checkpoint.path} failed: {exc}") from exc
    missing = [name for name, _ in checkpoint.spec.files if not (work / name).is_file()]
    if missing:
        raise ExportError(f"Optimum's export of {checkpoint.spec.role} produced no {', '.join(missing)}")
    return work


def _token_feeds(tokenizer_path: Path, texts: tuple[str, ...]) -> list[dict[str, np.ndarray]]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    feeds = []
    for encoding in tokenizer.encode_batch(list(texts)):
        ids = np.array([encoding.ids], dtype=np.int64)
        feeds.append(
            {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        )
    return feeds


def calibration_ranges(spec, onnx_dir: Path, tokenizer_path: Path, config: dict) -> dict[str, dict]:
    """file name (the converter's) -> per-MatMul input channel ranges on CALIBRATION_TEXTS."""
    feeds = _token_feeds(tokenizer_path, CALIBRATION_TEXTS)
    if spec.parity != "seq2seq":
        name = spec.files[0][0]
        session_inputs = _input_names(onnx_dir / name)
        return {name: collect_absmax(onnx_dir / name, [_select(f, session_inputs) for f in feeds])}
    return _seq2seq_ranges(spec, onnx_dir, feeds, config)


def _seq2seq_ranges(spec, onnx_dir: Path, feeds: list[dict[str, np.ndarray]], config: dict) -> dict[str, dict]:
    """Encoder, cross_kv and decoder ranges: the decoder teacher-forced on the text itself,
    shifted right (activations on ticket-like tokens), one token per step from an empty
    self-attention cache, as it runs when serving."""
    from export.calibrate import AbsmaxProbe
    from runtime.decoder import past_name, present_name
    from runtime.session import SessionSettings, available_cpus, make_session

    files = {role: name for name, role in spec.files}
    settings = SessionSettings(threads=available_cpus())
    encoder = make_session(onnx_dir / files["encoder"], settings)
    cross_kv = make_session(onnx_dir / files["cross_kv"], settings)
    decoder = AbsmaxProbe(onnx_dir / files["decoder"])
    self_inputs = {i.name: i for i in decoder.session.get_inputs() if i.name.startswith("past_key_values.")
                   and ".decoder." in i.name}  # fmt: skip
    encoder_feeds = [_select(f, {"input_ids", "attention_mask"}) for f in feeds]
    hidden_feeds = []
    for feed in encoder_feeds:
        hidden = {"encoder_hidden_states": encoder.run(None, feed)[0]}
        cross = {past_name(o.name): v for o, v in zip(cross_kv.get_outputs(), cross_kv.run(None, hidden), strict=True)}
        tokens = [config["decoder_start_token_id"], *feed["input_ids"][0, :-1].tolist()]
        cache = {name: np.zeros((1, info.shape[1], len(tokens), info.shape[3]), dtype=np.float32)
                 for name, info in self_inputs.items()}  # fmt: skip
        for position, token in enumerate(tokens):
            outputs = decoder.run({"input_ids": np.array([[token]], dtype=np.int64),
                                   "encoder_attention_mask": feed["attention_mask"],
                                   "cache_length": np.array([position], dtype=np.int64), **cache, **cross})  # fmt: skip
            cache = {name: outputs[present_name(name)] for name in cache}
        hidden_feeds.append(hidden)
    return {
        files["encoder"]: collect_absmax(onnx_dir / files["encoder"], encoder_feeds),
        files["cross_kv"]: collect_absmax(onnx_dir / files["cross_kv"], hidden_feeds),
        files["decoder"]: decoder.absmax,
    }


def _input_names(path: Path) -> set[str]:
    import onnx

    return {i.name for i in onnx.load(str(path), load_external_data=False).graph.input}


def _select(feed: dict[str, np.ndarray], names: set[str]) -> dict[str, np.ndarray]:
    return {k: v for k, v in feed.items() if k in names}


def export_model(
    checkpoint: Checkpoint, root: Path, work: Path, checker_factory: Callable, log: Callable[[str], None]
) -> ModelEntry:
    spec = checkpoint.spec
    config = metadata.read_config(checkpoint.path)
    tokenizer_path = root / spec.role / "tokenizer.json"
    metadata.write_tokenizer(spec, checkpoint.path, tokenizer_path)
    generation = metadata.generation(spec, checkpoint.path, config)

    log(f"{spec.role}: converting {checkpoint.source.ref} ({checkpoint.source.kind}) to ONNX")
    onnx_dir = convert(checkpoint, work / spec.role)
    log(f"{spec.role}: computing the PyTorch reference on the parity texts")
    checker = checker_factory(
        spec, checkpoint.path, tokenizer_path, metadata.pad_token_id(config), generation
    )

    fp32 = {}
    for name, role in spec.files:
        fp32[role] = work / spec.role / "fp32" / f"{role}.onnx"
        fp32[role].parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(onnx_dir / name, fp32[role])
        optimize_offline(fp32[role])
    fp32 = _finish(spec, fp32)
    log(f"{spec.role}: checking fp32 against PyTorch")
    parity = {"fp32": checker.check(spec.role, "fp32", fp32)}
    variants = {"fp32": place_variant(root, spec.role, "fp32", fp32, None, {})}
    ranges = calibration_ranges(spec, onnx_dir, tokenizer_path, config) if spec.outliers else {}

    made: dict[tuple, dict[str, Path]] = {}  # equal preset settings give equal bytes: quantize once
    checked: dict[tuple[str, ...], dict] = {}  # parity figures per distinct set of files
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
                if spec.int8_cache:
                    from export.bart_decoder import set_cache_type_file

                    set_cache_type_file(out / f"{role}.onnx", spec.int8_cache)
                optimize_offline(out / f"{role}.onnx")
            made[key] = _finish(spec, {role: out / f"{role}.onnx" for role in spec.file_roles})
        files = made[key]
        shas = tuple(sha256_file(path) for path in files.values())
        if shas not in checked:
            log(f"{spec.role}: checking {preset.variant} against PyTorch")
            checked[shas] = checker.check(spec.role, preset.variant, files)
        parity[preset.variant] = checked[shas]
        quantization = preset.describe(spec.outliers, spec.keep_fp32, spec.int8_cache)
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
        labels=metadata.labels(spec, config),
        settings=metadata.settings(spec, config),
        generation=generation,
        parity=parity,
    )


def _finish(spec, graphs: dict[str, Path]) -> dict[str, Path]:
    """role -> file of one variant as shipped: with spec.external_data, each graph's weights
    move to its "<role>.data" file, and tensors several graphs share to "shared.data" (each
    listed, hashed and placed like the graphs themselves)."""
    if not spec.external_data:
        return graphs
    return graphs | move_weights_out(graphs)


def _ordered(variants: dict[str, Variant]) -> dict[str, Variant]:
    from runtime.manifest import VARIANTS

    return {name: variants[name] for name in VARIANTS if name in variants}
