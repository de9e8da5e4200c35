"""What the manifest records about a checkpoint besides its graphs: runtime settings, labels,
generation config, the tokenizer file and the tool versions."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from export.catalog import ModelSpec
from export.errors import ExportError

# Bump when the export would produce different graphs from the same inputs (new quantization
# recipe, new conversion settings): an existing artifacts folder is then out of date.
RECIPE_VERSION = "5"  # 5: DistilBART decoder on GroupQueryAttention, int8 caches float16 (4: three graphs)

_TOOLS = ("torch", "transformers", "optimum", "optimum-onnx", "onnx", "onnxruntime", "tokenizers")


def tool_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "ticket-enrichment-export-recipe": RECIPE_VERSION}
    for dist in _TOOLS:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def read_config(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot read {folder / 'config.json'}: {exc}") from exc


def labels(spec: ModelSpec, config: dict[str, Any]) -> tuple[str, ...]:
    """Classifier labels in id order from config.id2label (empty for the other models)."""
    id2label = config.get("id2label") or {}
    if spec.parity != "classifier" or not id2label:
        return ()
    return tuple(id2label[key] for key in sorted(id2label, key=int))


def generation(spec: ModelSpec, folder: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's generation config as a plain dict (seq2seq models only)."""
    if spec.parity != "seq2seq":
        return {}
    path = folder / "generation_config.json"
    found = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    keys = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id", "forced_bos_token_id",
            "forced_eos_token_id", "num_beams", "max_length", "min_length", "no_repeat_ngram_size",
            "length_penalty", "early_stopping")  # fmt: skip
    merged = {key: config[key] for key in keys if config.get(key) is not None}
    merged.update({k: v for k, v in found.items() if not k.startswith("_") and k != "transformers_version"})
    return dict(sorted(merged.items()))


def settings(spec: ModelSpec, config: dict[str, Any]) -> dict[str, Any]:
    from export.optimize import LEVEL

    # The graphs ship pre-optimized at this onnxruntime level (export/optimize.py): loading
    # them at a lower level loses nothing and starts faster.
    values = {**spec.settings, "graph_optimization": LEVEL}
    if spec.parity == "seq2seq":
        heads = config["decoder_attention_heads"]
        values.update(
            num_layers=config["decoder_layers"],
            num_heads=heads,
            head_dim=config["d_model"] // heads,
            d_model=config["d_model"],
            vocab_size=config["vocab_size"],
            pad_token_id=config["pad_token_id"],
            bos_token_id=config["bos_token_id"],
            eos_token_id=config["eos_token_id"],
            decoder_start_token_id=config["decoder_start_token_id"],
        )
    return values


def pad_token_id(config: dict[str, Any]) -> int:
    return int(config.get("pad_token_id") or 0)


def write_tokenizer(spec: ModelSpec, folder: Path, target: Path) -> None:
    """The checkpoint's fast tokenizer as one tokenizer.json, truncating at the model's
    maximum and with padding off (the runtime pads each batch to its longest text)."""
    from transformers import AutoTokenizer

    try:
        backend = AutoTokenizer.from_pretrained(str(folder), use_fast=True).backend_tokenizer
    except Exception as exc:  # transformers raises OSError/ValueError/... for broken tokenizer files
        raise ExportError(f"cannot load the tokenizer in {folder}: {exc}") from exc
    backend.no_padding()
    backend.enable_truncation(max_length=spec.tokenizer_max_length)
    target.parent.mkdir(parents=True, exist_ok=True)
    backend.save(str(target))
