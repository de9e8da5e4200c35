"""What the manifest records about a checkpoint besides its graphs: the config as transformers
loads it, runtime settings, the tokenizer file and the tool versions. Labels and generation
settings are the architecture's (export/architectures/)."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from export.catalog import ModelSpec
from export.errors import ExportError

# Bump when the export would produce different graphs from the same inputs (new quantization
# recipe, new conversion settings): an existing artifacts folder is then out of date.
RECIPE_VERSION = "4"  # 4: DistilBART as encoder + cross_kv + decoder, attention fused

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
    """The model config as transformers loads it (`AutoConfig`), as a plain dict: class defaults
    filled in and legacy keys translated (a Hub config.json may hold neither as we would write it)."""
    from transformers import AutoConfig

    if not (folder / "config.json").is_file():
        raise ExportError(f"cannot read {folder / 'config.json'}: no such file")
    try:
        config: dict[str, Any] = AutoConfig.from_pretrained(str(folder), local_files_only=True).to_dict()
    except Exception as exc:  # transformers raises OSError/ValueError/KeyError for broken configs
        raise ExportError(f"cannot read {folder / 'config.json'}: {exc}") from exc
    return config


def settings(spec: ModelSpec, config: dict[str, Any]) -> dict[str, Any]:
    from export.optimize import LEVEL

    # The graphs ship pre-optimized at this onnxruntime level (export/optimize.py): loading
    # them at a lower level loses nothing and starts faster.
    # vocab_size: the rows of the embedding table; the runtime refuses a tokenizer whose text
    # could produce an id past it (runtime/text.py).
    # The architecture's own come last (export/architectures: a decoder's shape and special ids).
    return {**spec.settings, "graph_optimization": LEVEL, "vocab_size": config["vocab_size"],
            **spec.arch.settings(config)}


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
