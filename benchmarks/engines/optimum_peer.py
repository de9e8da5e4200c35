"""Optimum's ORTModel classes, the way their documentation runs them: `main_export` from the
checkpoint, dynamic int8 with the `avx512_vnni` preset (per-tensor, Optimum's default), the
transformers tokenizer, transformers' generate() for the seq2seq model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from benchmarks.engines import Engine, loaded, mean_pool_normalized, softmax
from benchmarks.engines.torch_ref import MINILM_MAX_TOKENS, prepare_generation, summary_runner, torch_threads
from benchmarks.peers import cached_build, checkpoint_key

TASKS = {"embedding": "feature-extraction", "sentiment": "text-classification",
         "summary": "text2text-generation-with-past"}
FILES = {"embedding": ("model.onnx",), "sentiment": ("model.onnx",),
         "summary": ("encoder_model.onnx", "decoder_model_merged.onnx")}


def folder(models, role: str, precision: str) -> Path:
    return models.settings.peers / "optimum" / f"{role}-{precision}"


def file_name(name: str, precision: str) -> str:
    return name if precision == "fp32" else name.replace(".onnx", "_quantized.onnx")


def prepare(models, role: str, precision: str) -> Path:
    if precision == "fp32":
        def build(out: Path) -> None:
            from optimum.exporters.onnx import main_export

            main_export(str(models.checkpoint(role)), out, task=TASKS[role], library_name="transformers",
                        do_validation=False)
            for extra in ("decoder_model.onnx", "decoder_with_past_model.onnx"):  # the merged one runs
                (out / extra).unlink(missing_ok=True)
    else:
        source = prepare(models, role, "fp32")

        def build(out: Path) -> None:
            from optimum.onnxruntime import ORTQuantizer
            from optimum.onnxruntime.configuration import AutoQuantizationConfig

            config = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=False)
            for name in FILES[role]:
                ORTQuantizer.from_pretrained(source, file_name=name).quantize(config, save_dir=out)
            for item in source.iterdir():
                if item.suffix != ".onnx" and not (out / item.name).exists():
                    shutil.copy(item, out / item.name)

    return cached_build(folder(models, role, precision), checkpoint_key(models, role, precision=precision), build)


def _options(threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return options


def _name(precision: str) -> str:
    return f"optimum-{precision}"


def embedder(models, precision: str, threads: int) -> Engine:
    path = prepare(models, "embedding", precision)

    def build():
        from optimum.onnxruntime import ORTModelForFeatureExtraction
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        model = ORTModelForFeatureExtraction.from_pretrained(
            path, file_name=file_name("model.onnx", precision), session_options=_options(threads))

        def run(texts: list[str]) -> np.ndarray:
            enc = tokenizer(texts, padding=True, truncation=True, max_length=MINILM_MAX_TOKENS, return_tensors="np")
            return mean_pool_normalized(np.asarray(model(**enc).last_hidden_state), enc["attention_mask"])

        return run

    return loaded(_name(precision), "peer", f"ORTModelForFeatureExtraction {precision}", build,
                  gated=precision == "fp32")


def classifier(models, precision: str, threads: int) -> Engine:
    path = prepare(models, "sentiment", precision)

    def build():
        from optimum.onnxruntime import ORTModelForSequenceClassification
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        model = ORTModelForSequenceClassification.from_pretrained(
            path, file_name=file_name("model.onnx", precision), session_options=_options(threads))

        def run(texts: list[str]) -> np.ndarray:
            enc = tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="np")
            return softmax(np.asarray(model(**enc).logits, dtype=np.float64))

        return run

    return loaded(_name(precision), "peer", f"ORTModelForSequenceClassification {precision}", build,
                  gated=precision == "fp32")


def load_summarizer(path: Path, precision: str, threads: int, new_tokens: int, beams: int):
    torch = torch_threads(threads)
    from optimum.onnxruntime import ORTModelForSeq2SeqLM
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    # No file names: passing decoder_file_name makes Optimum look for the unmerged decoders. The
    # folder holds one encoder and one merged decoder (fp32, or *_quantized), found by pattern.
    model = ORTModelForSeq2SeqLM.from_pretrained(path, use_merged=True, session_options=_options(threads))
    prepare_generation(model, new_tokens, beams)
    return summary_runner(model, tokenizer, torch)


def summarizer(models, precision: str, threads: int, new_tokens: int, beams: int = 1) -> Engine:
    path = prepare(models, "summary", precision)
    return loaded(_name(precision), "peer", f"ORTModelForSeq2SeqLM {precision} (merged decoder), beams={beams}",
                  lambda: load_summarizer(path, precision, threads, new_tokens, beams), gated=precision == "fp32")
