"""Dynamic int8 quantization: one named preset per CPU variant, plus outlier-channel splitting.

Dynamic quantization scales each MatMul's activations per tensor at run time. In these
transformers a handful of hidden channels carry activations 20-30x larger than the rest, so one
scale for the whole tensor leaves the ordinary channels a few quantization steps (MiniLM:
cosine 0.975 against PyTorch). `split_outliers` therefore moves the k input channels with the
largest calibrated range of every weight MatMul into a small fp32 MatMul beside the int8 one:

    y = MatMulInt8(x * mask, W with those rows zeroed) + MatMul(x[..., idx], W[idx])

which is exact in fp32 and costs a Gather, a Mul and a [.., k] x [k, n] product.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

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

    def settings_key(self) -> tuple:
        """Everything but the name: presets with equal keys produce byte-identical graphs."""
        return (self.weights, self.reduce_range, self.per_channel, self.activations, self.operators)

    def describe(self, outlier_channels: int, keep_fp32: tuple[str, ...] = ()) -> dict:
        """The manifest's Variant.quantization for this preset."""
        info = asdict(self)
        info["operators"] = list(self.operators)
        info["method"] = "onnxruntime quantize_dynamic"
        info["outlier_channels_fp32"] = outlier_channels
        info["nodes_kept_fp32"] = list(keep_fp32)
        return info


PRESETS = (QuantPreset.avx512_vnni, QuantPreset.avx512, QuantPreset.avx2, QuantPreset.arm64)


def _graphs(graph):
    """`graph` and every subgraph below it (the merged decoder's If branches)."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.g is not None and attr.type == attr.GRAPH:
                yield from _graphs(attr.g)


def split_outliers(model, absmax: dict[str, np.ndarray], k: int) -> list[str]:
    """Rewrite `model` in place (see module doc); returns the fp32 side MatMuls' names."""
    import onnx
    from onnx import helper, numpy_helper

    if k <= 0:
        return []
    top = model.graph
    inits = {init.name: init for g in _graphs(top) for init in g.initializer}
    added: set[str] = {init.name for init in top.initializer}
    rewritten: dict[str, tuple[int, ...]] = {}  # weight name -> outlier channels zeroed in it
    side_nodes: list[str] = []

    def add_init(array: np.ndarray, name: str) -> None:
        if name not in added:
            top.initializer.append(numpy_helper.from_array(array, name))
            added.add(name)

    for graph in _graphs(top):
        nodes = []
        for node in graph.node:
            ranges = absmax.get(node.name)
            weight = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
            if ranges is None or weight is None or weight.data_type != onnx.TensorProto.FLOAT:
                nodes.append(node)
                continue
            w = numpy_helper.to_array(weight)
            if w.ndim != 2 or w.shape[0] != ranges.shape[0] or w.shape[0] <= 4 * k:
                nodes.append(node)
                continue
            idx = np.sort(np.argsort(ranges, kind="stable")[-k:]).astype(np.int64)
            base = node.name.strip("/").replace("/", "_")
            w_name = node.input[1]
            if rewritten.get(w_name, tuple(idx)) != tuple(idx):  # shared weight, other channels
                w_name = f"{base}_weight"
            if w_name not in rewritten:
                zeroed = w.copy()
                zeroed[idx] = 0.0
                if w_name == node.input[1]:
                    weight.CopyFrom(numpy_helper.from_array(zeroed, w_name))
                else:
                    add_init(zeroed, w_name)
                rewritten[w_name] = tuple(idx)
            mask = np.ones(w.shape[0], dtype=np.float32)
            mask[idx] = 0.0
            add_init(mask, f"{base}_outlier_mask")
            add_init(idx, f"{base}_outlier_idx")
            add_init(w[idx], f"{base}_outlier_w")
            x, y = node.input[0], node.output[0]
            nodes.append(
                helper.make_node(
                    "Mul", [x, f"{base}_outlier_mask"], [f"{base}_x_in"], name=f"{node.name}_mask"
                )
            )
            nodes.append(
                helper.make_node(
                    "Gather",
                    [x, f"{base}_outlier_idx"],
                    [f"{base}_x_out"],
                    axis=-1,
                    name=f"{node.name}_gather",
                )
            )
            side = node.name + SPLIT_SUFFIX
            nodes.append(
                helper.make_node(
                    "MatMul", [f"{base}_x_out", f"{base}_outlier_w"], [f"{base}_y_out"], name=side
                )
            )
            del node.input[:]
            node.input.extend([f"{base}_x_in", w_name])
            node.output[0] = f"{base}_y_in"
            nodes.append(node)
            nodes.append(
                helper.make_node("Add", [f"{base}_y_in", f"{base}_y_out"], [y], name=f"{node.name}_add")
            )
            side_nodes.append(side)
        del graph.node[:]
        graph.node.extend(nodes)
    return sorted(set(side_nodes))


def quantize_file(
    src: Path,
    dst: Path,
    preset: QuantPreset,
    absmax: dict[str, np.ndarray],
    outlier_channels: int,
    keep_fp32: tuple[str, ...] = (),
) -> None:
    """fp32 graph `src` -> dynamic int8 graph `dst` for `preset`; nodes named in `keep_fp32`
    stay fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(src))
    kept = set(keep_fp32)
    side_nodes = split_outliers(model, {k: v for k, v in absmax.items() if k not in kept}, outlier_channels)
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
                "EnableSubgraph": True,  # the merged decoder's two branches
                "MatMulConstBOnly": True,
                # Type inference cannot see through some contrib ops; their outputs are float.
                "DefaultTensorType": onnx.TensorProto.FLOAT,
            },
        )
