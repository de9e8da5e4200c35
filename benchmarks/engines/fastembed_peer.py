"""fastembed, loading a local ONNX folder through `TextEmbedding.add_custom_model` and
`specific_model_path`. The folder holds Optimum's MiniLM export (fp32, or Optimum's int8) and the
MiniLM tokenizer files, with `model_max_length` 256: fastembed truncates at the tokenizer config's
limit, and MiniLM is compared at sentence-transformers' 256 tokens everywhere."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from benchmarks.engines import Engine, loaded, optimum_peer
from benchmarks.engines.torch_ref import MINILM_MAX_TOKENS
from benchmarks.peers import cached_build, checkpoint_key

TOKENIZER_FILES = ("tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json")


def folder(models, precision: str) -> Path:
    return models.settings.peers / "fastembed" / f"minilm-{precision}"


def prepare(models, precision: str) -> Path:
    onnx_dir = optimum_peer.prepare(models, "embedding", precision)
    checkpoint = models.checkpoint("embedding")

    def build(out: Path) -> None:
        source = onnx_dir / optimum_peer.file_name("model.onnx", precision)
        try:
            os.link(source, out / "model.onnx")
        except OSError:
            shutil.copy(source, out / "model.onnx")
        for name in TOKENIZER_FILES:
            shutil.copy(checkpoint / name, out / name)
        config = json.loads((out / "tokenizer_config.json").read_text())
        config["model_max_length"] = MINILM_MAX_TOKENS
        config.pop("max_length", None)
        (out / "tokenizer_config.json").write_text(json.dumps(config))

    return cached_build(folder(models, precision), checkpoint_key(models, "embedding", precision=precision), build)


def embedder(models, precision: str, threads: int) -> Engine:
    path = prepare(models, precision)

    def build():
        from fastembed import TextEmbedding
        from fastembed.common.model_description import ModelSource, PoolingType

        name = f"ticket-enrichment-bench/all-MiniLM-L6-v2-{precision}"
        if not any(m["model"] == name for m in TextEmbedding.list_supported_models()):
            TextEmbedding.add_custom_model(model=name, pooling=PoolingType.MEAN, normalization=True,
                                           sources=ModelSource(hf=name), dim=384, model_file="model.onnx")
        model = TextEmbedding(model_name=name, specific_model_path=str(path), threads=threads,
                              providers=["CPUExecutionProvider"], local_files_only=True)

        def run(texts: list[str]) -> np.ndarray:
            return np.stack(list(model.embed(texts, batch_size=len(texts))))

        return run

    return loaded(f"fastembed-{precision}", "peer", f"fastembed TextEmbedding, custom local model, {precision}", build,
                  gated=precision == "fp32")
