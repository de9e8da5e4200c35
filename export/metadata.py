"""What the manifest records about a checkpoint besides its graphs: runtime settings, labels,
generation config, the tokenizer file and the tool versions."""

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
        return AutoConfig.from_pretrained(str(folder), local_files_only=True).to_dict()
    except Exception as exc:  # transformers raises OSError/ValueError/KeyError for broken configs
        raise ExportError(f"cannot read {folder / 'config.json'}: {exc}") from exc


def labels(spec: ModelSpec, config: dict[str, Any]) -> tuple[str, ...]:
    """Classifier labels in id order from config.id2label (empty for the other models)."""
    id2label = config.get("id2label") or {}
    if spec.parity != "classifier" or not id2label:
        return ()
    return tuple(id2label[key] for key in sorted(id2label, key=int))


# The generation settings the runtime's decoding reads (runtime/generate.py GenerationConfig).
GENERATION_KEYS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id", "forced_bos_token_id",
                   "forced_eos_token_id", "num_beams", "max_length", "min_length", "max_new_tokens",
                   "min_new_tokens", "no_repeat_ngram_size", "length_penalty", "early_stopping")  # fmt: skip


def generation_config(folder: Path) -> Any:
    """The checkpoint's transformers GenerationConfig, exactly as `from_pretrained` gives the
    model: generation_config.json when the folder has one, else built from config.json
    (`GenerationConfig.from_model_config`: legacy keys and class defaults included)."""
    from transformers import AutoConfig, GenerationConfig

    try:
        if (folder / "generation_config.json").is_file():
            return GenerationConfig.from_pretrained(str(folder), local_files_only=True)
        return GenerationConfig.from_model_config(AutoConfig.from_pretrained(str(folder), local_files_only=True))
    except Exception as exc:  # transformers raises OSError/ValueError for broken files
        raise ExportError(f"cannot read the generation settings in {folder}: {exc}") from exc


def generation(spec: ModelSpec, folder: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's generation settings as transformers loads them (seq2seq models only),
    never read from the raw JSON files."""
    if spec.parity != "seq2seq":
        return {}
    loaded = generation_config(folder)
    return {key: getattr(loaded, key) for key in GENERATION_KEYS if getattr(loaded, key, None) is not None}


def settings(spec: ModelSpec, config: dict[str, Any]) -> dict[str, Any]:
    from export.optimize import LEVEL

    # The graphs ship pre-optimized at this onnxruntime level (export/optimize.py): loading
    # them at a lower level loses nothing and starts faster.
    # vocab_size: the rows of the embedding table; the runtime refuses a tokenizer whose text
    # could produce an id past it (runtime/text.py).
    values = {**spec.settings, "graph_optimization": LEVEL, "vocab_size": config["vocab_size"]}
    if spec.parity == "seq2seq":
        heads = config["decoder_attention_heads"]
        values.update(
            num_layers=config["decoder_layers"],
            num_heads=heads,
            head_dim=config["d_model"] // heads,
            d_model=config["d_model"],
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
