"""Dynamic int8 quantization: one named preset per CPU variant, plus outlier-channel splitting.

Dynamic quantization scales each MatMul's activations per tensor at run time. In these
transformers a handful of hidden channels carry activations 20-30x larger than the rest, so one
scale for the whole tensor leaves the ordinary channels a few quantization steps (MiniLM:
cosine 0.975 against PyTorch). `split_outliers` therefore moves the k input channels with the
largest calibrated range of a weight MatMul, when they are outliers (>= ratio x the median
channel's range), into a small fp32 MatMul beside the int8 one:

    y = MatMulInt8(x * mask, W with those rows zeroed) + MatMul(x[..., idx], W[idx])

which is exact in fp32 and costs a Gather, a Mul and a [.., k] x [k, n] product.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from export.errors import ExportError

SPLIT_SUFFIX = "_outliers_fp32"


@dataclass(frozen=True)
class QuantPreset:
    variant: str
    weights: str  # "int8" | "uint8"
    reduce_range: bool  # 7-bit weights
    per_channel: bool = True
    activations: str = "uint8 per-tensor, dynamic"
    operators: tuple[str, ...] = ("MatMul", "Gather")

    @classmethod
    def avx512_vnni(cls) -> QuantPreset:
        # VNNI's VPDPBUSD multiplies u8 activations by s8 weights straight into int32 lanes:
        # no intermediate saturation, so the full 8-bit weight range is safe.
        return cls("avx512_vnni", weights="int8", reduce_range=False)

    @classmethod
    def avx512(cls) -> QuantPreset:
        # Without VNNI the u8 x s8 product goes through VPMADDUBSW, which adds pairs into int16
        # and saturates; 7-bit weights (reduce_range) keep every pair sum in range.
        return cls("avx512", weights="int8", reduce_range=True)

    @classmethod
    def avx2(cls) -> QuantPreset:
        # AVX2's u8 x s8 kernel is the same VPMADDUBSW pair-add as AVX512 without VNNI:
        # same int16 saturation, same 7-bit weights. (Byte-identical to avx512; stored once.)
        return cls("avx2", weights="int8", reduce_range=True)

    @classmethod
    def arm64(cls) -> QuantPreset:
        # ARM64 kernels (SDOT/UDOT, SMMLA) accumulate u8 x s8 in int32 without saturation:
        # full range, as on VNNI. (Byte-identical to avx512_vnni; stored once.)
        return cls("arm64", weights="int8", reduce_range=False)

    def settings_key(self) -> tuple[Any, ...]:
        """Everything but the name: presets with equal keys produce byte-identical graphs."""
        return (self.weights, self.reduce_range, self.per_channel, self.activations, self.operators)

    def describe(self, outliers: OutlierSplit | None, keep_fp32: tuple[str, ...] = (),
                 attention_cache: str | None = None) -> dict[str, Any]:
        """The manifest's Variant.quantization for this preset."""
        info = asdict(self)
        info["operators"] = list(self.operators)
        info["method"] = "onnxruntime quantize_dynamic"
        info["outliers_fp32"] = outliers.describe() if outliers else None
        info["nodes_kept_fp32"] = list(keep_fp32)
        if attention_cache:
            info["attention_cache"] = attention_cache
        return info


@dataclass(frozen=True)
class OutlierSplit:
    """Which input channels of a weight MatMul stay fp32 (see the module doc)."""

    max_channels: int = 16
    ratio: float = 6.0  # a channel is an outlier when its range is >= ratio x the median range

    def describe(self) -> dict[str, Any]:
        return {"max_channels": self.max_channels, "min_ratio_to_median": self.ratio}


PRESETS = (QuantPreset.avx512_vnni, QuantPreset.avx512, QuantPreset.avx2, QuantPreset.arm64)


def _safe(name: str) -> str:
    return name.strip("/").replace("/", "_").replace(":", "_")


def outlier_channels(ranges: np.ndarray, max_channels: int, ratio: float) -> np.ndarray:
    """Input channels whose calibrated range is at least `ratio` x the median channel's, the
    `max_channels` largest of them, sorted. Empty when the activations have no outliers."""
    if max_channels <= 0 or len(ranges) <= 4 * max_channels:
        return np.zeros(0, dtype=np.int64)
    largest = np.argsort(-ranges, kind="stable")[:max_channels]  # ties: the lower channel first
    chosen = largest[ranges[largest] >= ratio * np.median(ranges)]
    return np.sort(chosen).astype(np.int64)


def split_outliers(model: Any, absmax: dict[str, np.ndarray], max_channels: int, ratio: float) -> list[str]:
    """Rewrite `model` in place (see module doc); returns the fp32 side MatMuls' names.

    Kept cheap at run time: MatMuls that read the same tensor (Q, K, V) share one mask and one
    Gather, so onnxruntime still quantizes that tensor once for all three; and the side product
    is added after the bias Add, so onnxruntime can still fuse the bias into the int8 MatMul."""
    from onnx import TensorProto, helper, numpy_helper

    if max_channels <= 0:
        return []
    top = model.graph
    if any(attr.type in (attr.GRAPH, attr.GRAPHS) for node in top.node for attr in node.attribute):
        raise ExportError(f"graph {top.name!r} has subgraphs (If, Loop or Scan): the outlier split handles flat "
                          "graphs only, as the export writes them (export/bart_graphs.py for the summary)")
    inits = {init.name: init for init in top.initializer}
    added: set[str] = {init.name for init in top.initializer}
    zeroed: dict[str, tuple[int, ...]] = {}  # weight name -> outlier rows zeroed in it
    side_nodes: list[str] = []

    def add_init(array: np.ndarray, name: str) -> str:
        if name not in added:
            top.initializer.append(numpy_helper.from_array(array, name))
            added.add(name)
        return name

    def plan(node: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """(weight array, outlier channels) for a MatMul worth splitting, else None."""
        ranges = absmax.get(node.name)
        weight = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if ranges is None or weight is None or weight.data_type != TensorProto.FLOAT:
            return None
        w = numpy_helper.to_array(weight)
        if w.ndim != 2 or w.shape[0] != ranges.shape[0]:
            return None
        idx = outlier_channels(ranges, max_channels, ratio)
        return (w, idx) if len(idx) else None

    graph = top
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    split_inputs: dict[tuple[str, tuple[int, ...]], tuple[str, str]] = {}
    after: dict[int, list[Any]] = {}  # id(node) -> nodes to emit right after it
    nodes = []
    for node in graph.node:
        planned = plan(node)
        if planned is not None:
            w, idx = planned
            x, y, base = node.input[0], node.output[0], _safe(node.name)
            key = (x, tuple(idx.tolist()))
            if key not in split_inputs:  # one mask + Gather per input tensor
                tag = f"{_safe(x)}_outliers{len(idx)}_{hashlib.sha256(idx.tobytes()).hexdigest()[:8]}"
                mask = np.ones(w.shape[0], dtype=np.float32)
                mask[idx] = 0.0
                split_inputs[key] = (f"{tag}_in", f"{tag}_out")
                nodes.append(
                    helper.make_node(
                        "Mul", [x, add_init(mask, f"{tag}_mask")], [f"{tag}_in"], name=f"{tag}_mask"
                    )
                )
                nodes.append(
                    helper.make_node("Gather", [x, add_init(idx, f"{tag}_idx")], [f"{tag}_out"], axis=-1, name=f"{tag}_gather")
                )  # fmt: skip
            x_in, x_out = split_inputs[key]
            w_name = node.input[1]
            if zeroed.get(w_name, tuple(idx)) != tuple(idx):  # a weight shared with other channels
                w_name = f"{base}_weight"
            if w_name not in zeroed:
                rest = w.copy()
                rest[idx] = 0.0
                if w_name == node.input[1]:
                    inits[w_name].CopyFrom(numpy_helper.from_array(rest, w_name))
                else:
                    add_init(rest, w_name)
                zeroed[w_name] = tuple(idx)
            side = node.name + SPLIT_SUFFIX
            side_nodes.append(side)
            nodes.append(
                helper.make_node(
                    "MatMul", [x_out, add_init(w[idx], f"{base}_outlier_w")], [f"{base}_y_out"], name=side
                )
            )
            del node.input[:]
            node.input.extend([x_in, w_name])
            users = consumers.get(y, [])
            bias = users[0] if len(users) == 1 and users[0].op_type == "Add" else None
            if bias is not None and any(i in inits for i in bias.input if i != y):
                target = bias.output[0]
                bias.output[0] = f"{base}_biased"
                after.setdefault(id(bias), []).append(
                    helper.make_node(
                        "Add",
                        [f"{base}_biased", f"{base}_y_out"],
                        [target],
                        name=f"{node.name}_add_outliers",
                    )
                )
            else:
                node.output[0] = f"{base}_y_in"
                after.setdefault(id(node), []).append(
                    helper.make_node(
                        "Add", [f"{base}_y_in", f"{base}_y_out"], [y], name=f"{node.name}_add_outliers"
                    )
                )
        nodes.append(node)
        nodes.extend(after.pop(id(node), []))
    del graph.node[:]
    graph.node.extend(nodes)
    return sorted(set(side_nodes))


def quantize_file(
    src: Path,
    dst: Path,
    preset: QuantPreset,
    absmax: dict[str, np.ndarray],
    outliers: OutlierSplit | None,
    keep_fp32: tuple[str, ...] = (),
) -> None:
    """fp32 graph `src` -> dynamic int8 graph `dst` for `preset`; nodes named in `keep_fp32`
    stay fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(src))
    side_nodes = []
    if outliers is not None:
        ranges = {name: r for name, r in absmax.items() if name not in keep_fp32}
        side_nodes = split_outliers(model, ranges, outliers.max_channels, outliers.ratio)
    with tempfile.TemporaryDirectory(dir=dst.parent) as tmp:
        staged = Path(tmp) / "split.onnx"
        onnx.save(model, str(staged))
        del model
        quantize_dynamic(
            staged,
            dst,
            op_types_to_quantize=list(preset.operators),
            per_channel=preset.per_channel,
            reduce_range=preset.reduce_range,
            weight_type=QuantType.QInt8 if preset.weights == "int8" else QuantType.QUInt8,
            nodes_to_exclude=side_nodes + list(keep_fp32),
            extra_options={
                "MatMulConstBOnly": True,
                # Type inference cannot see through some contrib ops; their outputs are float.
                "DefaultTensorType": onnx.TensorProto.FLOAT,
            },
        )
