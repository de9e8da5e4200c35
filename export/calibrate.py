"""Per-channel activation ranges at the input of every weight MatMul of an fp32 graph.

The quantizer uses them only to pick, per MatMul, the few input channels whose activations
dwarf the rest (export/quantize.py); quantization itself stays dynamic. Ranges are keyed by
node name. Only top-level MatMuls are measured: the graphs the export writes are flat (the
summary's three included), and the outlier split refuses a graph with subgraphs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from runtime.session import SessionSettings, available_cpus, make_session


def weight_matmuls(graph: Any) -> list[Any]:
    """MatMul nodes whose second input is a constant weight of `graph` (top level only)."""
    weights = {init.name for init in graph.initializer}
    return [node for node in graph.node if node.op_type == "MatMul" and node.input[1] in weights]


class AbsmaxProbe:
    """A session over the graph at `model_path` that also outputs the input of every weight
    MatMul; each `run` returns the graph's own outputs and widens `absmax` (node name -> max
    |activation| per input channel of that MatMul). For graphs fed step by step, whose next feed
    depends on the last outputs (the summary decoder's cache)."""

    def __init__(self, model_path: Path):
        import onnx

        model = onnx.load(str(model_path))
        self.by_tensor: dict[str, list[str]] = {}
        for node in weight_matmuls(model.graph):
            self.by_tensor.setdefault(node.input[0], []).append(node.name)
        self.outputs = [out.name for out in model.graph.output]
        for tensor in self.by_tensor:
            if tensor not in self.outputs:
                model.graph.output.append(
                    onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None)
                )
        with tempfile.TemporaryDirectory(dir=Path(model_path).parent) as tmp:
            augmented = Path(tmp) / "calibration.onnx"
            onnx.save(model, str(augmented))
            # Calibration reads the graph's own tensors, so nothing may be fused away.
            self.session = make_session(augmented, SessionSettings(threads=available_cpus(), optimization="disable"))
        self.absmax: dict[str, np.ndarray] = {}

    def run(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        tensors = list(self.by_tensor)
        values = self.session.run(self.outputs + tensors, dict(feed))
        for tensor, value in zip(tensors, values[len(self.outputs) :], strict=True):
            channel_max = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
            for name in self.by_tensor[tensor]:
                known = self.absmax.get(name)
                self.absmax[name] = channel_max if known is None else np.maximum(known, channel_max)
        return dict(zip(self.outputs, values[: len(self.outputs)], strict=True))


def collect_absmax(model_path: Path, feeds: Iterable[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """node name -> max |activation| per input channel of that MatMul, over all `feeds`."""
    probe = AbsmaxProbe(model_path)
    for feed in feeds:
        probe.run(feed)
    return probe.absmax
