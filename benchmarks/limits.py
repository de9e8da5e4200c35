"""How far each stage is from what this machine can do: multiply-accumulates and bytes moved per
ticket (from the model configs and the tickets' token counts) against the GEMM rates and memory
bandwidth measured here with onnxruntime's own int8 and fp32 kernels, same threads.

The MAC counts are the matrix products only (projections, attention scores and values, FFN, LM
head); layer norms, softmax and GELU are left out, so the bounds are optimistic.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Dims:
    layers: int
    d: int
    ffn: int
    decoder_layers: int = 0
    vocab: int = 0

    @classmethod
    def from_config(cls, config: dict) -> Dims:
        kind = config.get("model_type")
        if kind == "bert":
            return cls(config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"])
        if kind == "distilbert":
            return cls(config["n_layers"], config["dim"], config["hidden_dim"])
        if kind == "bart":
            return cls(config["encoder_layers"], config["d_model"], config["encoder_ffn_dim"],
                       config["decoder_layers"], config["vocab_size"])
        raise ValueError(f"no MAC model for model_type {kind!r}")


def encoder_macs(tokens: int, dims: Dims) -> float:
    """Q, K, V, O projections and the FFN per token; scores and weighted values per token pair."""
    return dims.layers * (tokens * (4 * dims.d**2 + 2 * dims.d * dims.ffn) + 2 * tokens**2 * dims.d)


def decoder_step_macs(step: int, source: int, dims: Dims) -> float:
    """One cached decoder step for one row: self-attention (4 projections) over `step` positions,
    cross-attention (Q and O projections; K and V are cached) over `source`, FFN, LM head."""
    per_layer = 6 * dims.d**2 + 2 * dims.d * dims.ffn + 2 * step * dims.d + 2 * source * dims.d
    return dims.decoder_layers * per_layer + dims.d * dims.vocab


def summary_macs(source: int, new_tokens: int, dims: Dims) -> dict[str, float]:
    return {"encoder": encoder_macs(source, dims),
            "cross_kv": dims.decoder_layers * 2 * dims.d**2 * source,
            "decoder": sum(decoder_step_macs(step, source, dims) for step in range(1, new_tokens + 1))}


def decoder_bytes_per_ticket(source: int, new_tokens: int, batch: int, dims: Dims, weight_bytes: int = 1) -> float:
    """Bytes a greedy decode reads per ticket: the decoder weights once per step for the whole
    batch (int8: 1 byte each), and per row the fp32 self- and cross-attention caches every step."""
    weights = dims.decoder_layers * (6 * dims.d**2 + 2 * dims.d * dims.ffn) + dims.d * dims.vocab
    cache = sum(dims.decoder_layers * 2 * (step + source) * dims.d * 4 for step in range(1, new_tokens + 1))
    return new_tokens * weights * weight_bytes / batch + cache


# ---- what this machine does ------------------------------------------------------------------


def _matmul_model(path: Path, k: int, n: int) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((k, n)).astype(np.float32) * 0.02, "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])], "matmul",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["M", k])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["M", n])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _best_rate(session, rows: int, k: int, n: int, repeats: int) -> float:
    x = np.random.default_rng(1).standard_normal((rows, k)).astype(np.float32)
    session.run(None, {"X": x})
    best = min(_timed(session, x) for _ in range(repeats))
    return rows * k * n / best / 1e9


def _timed(session, x) -> float:
    start = time.perf_counter()
    session.run(None, {"X": x})
    return time.perf_counter() - start


def machine_rates(threads: int, k: int = 1024, n: int = 4096, repeats: int = 5) -> dict[str, float]:
    """GMAC/s of onnxruntime MatMul fp32 and dynamically quantized int8 (what our int8 graphs run),
    at encoder-like (2,048 rows) and decode-like (10 rows) shapes; one-thread copy bandwidth."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        _matmul_model(fp32, k, n)
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        sessions = {name: ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
                    for name, p in (("fp32", fp32), ("int8", int8))}
        rates = {f"{name} GEMM GMAC/s ({rows} rows)": round(_best_rate(s, rows, k, n, repeats), 1)
                 for name, s in sessions.items() for rows in (2048, 10)}
    source = np.ones(64 * 1024 * 1024 // 8, dtype=np.float64)  # 64 MiB, beyond L2
    target = np.empty_like(source)
    np.copyto(target, source)
    best = min(_copy_time(target, source) for _ in range(5))
    rates["copy GB/s (1 thread, read+write)"] = round(2 * source.nbytes / best / 1e9, 1)
    return rates


def _copy_time(target, source) -> float:
    start = time.perf_counter()
    np.copyto(target, source)
    return time.perf_counter() - start
