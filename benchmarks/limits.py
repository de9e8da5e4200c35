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


@dataclass(frozen=True)
class Macs:
    """Multiply-accumulates split by what runs them: `linear` against int8 weights (projections,
    FFN, LM head), `attention` between fp32 activations (scores and weighted values)."""

    linear: float = 0.0
    attention: float = 0.0

    def __add__(self, other: Macs) -> Macs:
        return Macs(self.linear + other.linear, self.attention + other.attention)

    @property
    def total(self) -> float:
        return self.linear + self.attention

    def bound_s(self, linear_rate: float, attention_rate: float) -> float:
        """Seconds at the given rates (MAC/s): the floor under this much work."""
        return self.linear / linear_rate + self.attention / attention_rate


def encoder_macs(tokens: int, dims: Dims) -> Macs:
    """Q, K, V, O projections and the FFN per token; scores and weighted values per token pair."""
    return Macs(linear=dims.layers * tokens * (4 * dims.d**2 + 2 * dims.d * dims.ffn),
                attention=dims.layers * 2 * tokens**2 * dims.d)


def decoder_step_macs(step: int, source: int, dims: Dims) -> Macs:
    """One cached decoder step for one row: self-attention (4 projections) over `step` positions,
    cross-attention (Q and O projections; K and V are cached) over `source`, FFN, LM head."""
    return Macs(linear=dims.decoder_layers * (6 * dims.d**2 + 2 * dims.d * dims.ffn) + dims.d * dims.vocab,
                attention=dims.decoder_layers * 2 * (step + source) * dims.d)


def summary_macs(source: int, new_tokens: int, dims: Dims) -> dict[str, Macs]:
    """The encoder pass with the cross-attention K/V projections (once per ticket), then the steps."""
    decoder = Macs()
    for step in range(1, new_tokens + 1):
        decoder = decoder + decoder_step_macs(step, source, dims)
    return {"encoder": encoder_macs(source, dims) + Macs(linear=dims.decoder_layers * 2 * dims.d**2 * source),
            "decoder": decoder}


def decoder_bytes_per_ticket(source: int, new_tokens: int, batch: int, dims: Dims, weight_bytes: int = 1,
                             cache_bytes: int = 2) -> float:
    """Bytes a greedy decode reads per ticket: the decoder weights once per step for the whole
    batch (int8: 1 byte each), and per row its own self- and cross-attention caches every step
    (float16 on the int8 variants: 2 bytes each; no padding is read)."""
    weights = dims.decoder_layers * (6 * dims.d**2 + 2 * dims.d * dims.ffn) + dims.d * dims.vocab
    cache = sum(dims.decoder_layers * 2 * (step + source) * dims.d * cache_bytes for step in range(1, new_tokens + 1))
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


def machine_rates(threads: int, k: int = 1024, n: int = 4096, repeats: int = 30) -> dict[str, float]:
    """GMAC/s of onnxruntime MatMul fp32 and dynamically quantized int8 (what our int8 graphs run),
    at encoder-like (2,048 rows) and decode-like (10 rows) shapes; memory copy bandwidth. The best
    of `repeats` runs: a bound is what the machine can do, and on a shared VM the spread is wide
    (int8 at 2,048 rows measured anywhere from 500 to 1,130 GMAC/s on the same machine)."""
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
    source = np.ones(256 * 1024 * 1024 // 8, dtype=np.float64)  # 256 MiB, far beyond the caches
    target = np.empty_like(source)
    np.copyto(target, source)
    best = min(_copy_time(target, source, threads) for _ in range(5))
    rates[COPY] = round(2 * source.nbytes / best / 1e9, 1)
    return rates


COPY = "copy GB/s (read+write, same threads)"


def _copy_time(target: np.ndarray, source: np.ndarray, threads: int) -> float:
    """numpy releases the GIL while copying: one slice per thread."""
    from concurrent.futures import ThreadPoolExecutor

    bounds = np.linspace(0, source.size, threads + 1).astype(int)
    with ThreadPoolExecutor(threads) as pool:
        start = time.perf_counter()
        list(pool.map(lambda i: np.copyto(target[bounds[i]:bounds[i + 1]], source[bounds[i]:bounds[i + 1]]),
                      range(threads)))
        return time.perf_counter() - start
