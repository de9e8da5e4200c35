"""Quantization presets and outlier-channel splitting, on small real ONNX graphs run by
onnxruntime (no model downloads)."""

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from export.errors import ExportError  # noqa: E402
from export.quantize import (  # noqa: E402
    PRESETS,
    SPLIT_SUFFIX,
    OutlierSplit,
    QuantPreset,
    outlier_channels,
    quantize_file,
    split_outliers,
)
from runtime.session import SessionSettings, make_session  # noqa: E402

K, N = 96, 32


def activations(rows: int = 64, seed: int = 0) -> np.ndarray:
    """Transformer-like activations: a few channels 30x larger than the rest."""
    x = np.random.default_rng(seed).normal(size=(1, rows, K)).astype(np.float32)
    x[..., [5, 40, 77]] *= 30.0
    return x


def weight() -> np.ndarray:
    return np.random.default_rng(1).normal(scale=0.05, size=(K, N)).astype(np.float32)


def matmul_model(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="/dense/MatMul")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, None, K])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, None, N])],
        [numpy_helper.from_array(weight(), "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def if_model(path: Path) -> Path:
    """A graph with subgraphs: the same MatMul (outer-scope weight) in both branches of an If."""

    def branch(name):
        return helper.make_graph(
            [helper.make_node("MatMul", ["x", "w"], [f"y_{name}"], name="/dense/MatMul")],
            name,
            [],
            [helper.make_tensor_value_info(f"y_{name}", TensorProto.FLOAT, [1, None, N])],
        )

    node = helper.make_node(
        "If", ["cond"], ["y"], name="if", then_branch=branch("then"), else_branch=branch("else")
    )
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, None, K]),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, [1]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, None, N])],
        [numpy_helper.from_array(weight(), "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def run(path: Path, **feeds) -> np.ndarray:
    return make_session(path, SessionSettings(threads=1)).run(None, feeds)[0]


def ranges() -> dict[str, np.ndarray]:
    return {"/dense/MatMul": np.abs(activations(seed=3)).max(axis=(0, 1))}


def test_presets_carry_the_hardware_reasons_in_their_settings():
    presets = {make().variant: make() for make in PRESETS}
    assert not presets["avx512_vnni"].reduce_range and not presets["arm64"].reduce_range
    assert presets["avx512"].reduce_range and presets["avx2"].reduce_range  # VPMADDUBSW saturation
    assert all(p.weights == "int8" and p.per_channel for p in presets.values())
    # equal settings -> byte-identical graphs -> stored once
    assert presets["avx512"].settings_key() == presets["avx2"].settings_key()
    assert presets["avx512_vnni"].settings_key() == presets["arm64"].settings_key()
    assert presets["avx512_vnni"].settings_key() != presets["avx512"].settings_key()
    described = QuantPreset.avx512().describe(OutlierSplit(16, 6.0), ("/lm_head/MatMul",))
    assert described["variant"] == "avx512" and described["reduce_range"] is True
    assert described["outliers_fp32"] == {"max_channels": 16, "min_ratio_to_median": 6.0}
    assert described["nodes_kept_fp32"] == ["/lm_head/MatMul"]
    assert QuantPreset.avx2().describe(None)["outliers_fp32"] is None


def test_split_is_exact_in_fp32_and_routes_the_largest_channels(tmp_path):
    src = matmul_model(tmp_path / "m.onnx")
    model = onnx.load(src)
    side = split_outliers(model, ranges(), 4, 6.0)
    assert side == ["/dense/MatMul" + SPLIT_SUFFIX]
    idx = next(numpy_helper.to_array(i) for i in model.graph.initializer if i.name.endswith("_idx"))
    assert idx.tolist() == [5, 40, 77]  # only the outliers, although 4 were allowed
    onnx.save(model, tmp_path / "split.onnx")
    x = activations()
    np.testing.assert_allclose(run(tmp_path / "split.onnx", x=x), run(src, x=x), rtol=1e-5, atol=1e-4)


def test_split_refuses_a_graph_with_subgraphs(tmp_path):
    # The export writes flat graphs; a subgraph's MatMuls would silently stay unsplit.
    model = onnx.load(if_model(tmp_path / "if.onnx"))
    with pytest.raises(ExportError, match="subgraphs"):
        split_outliers(model, ranges(), 4, 6.0)


def test_split_int8_is_closer_to_fp32_than_plain_int8(tmp_path):
    src = matmul_model(tmp_path / "m.onnx")
    x = activations()
    reference = run(src, x=x)
    quantize_file(src, tmp_path / "plain.onnx", QuantPreset.avx512_vnni(), ranges(), outliers=None)
    quantize_file(
        src, tmp_path / "split.onnx", QuantPreset.avx512_vnni(), ranges(), outliers=OutlierSplit(4, 6.0)
    )
    plain = np.abs(run(tmp_path / "plain.onnx", x=x) - reference).max()
    split = np.abs(run(tmp_path / "split.onnx", x=x) - reference).max()
    assert split < plain / 3, (split, plain)
    ops = {n.op_type for n in onnx.load(tmp_path / "split.onnx").graph.node}
    assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops  # the bulk really is int8


def test_quantization_is_deterministic_and_presets_differ_where_they_should(tmp_path):
    src = matmul_model(tmp_path / "m.onnx")
    files = {}
    for make in PRESETS:
        preset = make()
        files[preset.variant] = tmp_path / f"{preset.variant}.onnx"
        quantize_file(src, files[preset.variant], preset, ranges(), outliers=OutlierSplit(4, 6.0))
    data = {v: p.read_bytes() for v, p in files.items()}
    assert data["avx512"] == data["avx2"]
    assert data["avx512_vnni"] == data["arm64"]
    assert data["avx512_vnni"] != data["avx512"]


def test_nodes_kept_fp32_are_not_quantized(tmp_path):
    src = matmul_model(tmp_path / "m.onnx")
    quantize_file(
        src,
        tmp_path / "q.onnx",
        QuantPreset.avx512_vnni(),
        ranges(),
        OutlierSplit(4),
        keep_fp32=("/dense/MatMul",),
    )
    model = onnx.load(tmp_path / "q.onnx")
    assert [n.op_type for n in model.graph.node] == ["MatMul"]
    np.testing.assert_array_equal(run(tmp_path / "q.onnx", x=activations()), run(src, x=activations()))


def test_outlier_channels_are_only_the_outliers():
    flat = np.random.default_rng(2).uniform(1.0, 2.5, size=256)  # a random model: max/median < 3
    assert outlier_channels(flat, 16, 6.0).size == 0
    spiky = flat.copy()
    spiky[[3, 200]] = 40.0
    assert outlier_channels(spiky, 16, 6.0).tolist() == [3, 200]
    assert outlier_channels(spiky, 1, 6.0).tolist() == [3]  # the largest first (ties: lower id)
    assert outlier_channels(spiky, 0, 6.0).size == 0
    assert outlier_channels(spiky[:40], 16, 6.0).size == 0  # too narrow to split 16 of


def test_inputs_shared_by_several_matmuls_are_split_and_quantized_once(tmp_path):
    """Q, K and V read one tensor: one mask, one Gather, one activation quantization; the side
    product joins after the bias Add, which stays next to its MatMul for onnxruntime to fuse."""
    nodes, inits = [], []
    for name in ("q", "k", "v"):
        nodes.append(helper.make_node("MatMul", ["x", f"w_{name}"], [f"mm_{name}"], name=f"/{name}/MatMul"))
        nodes.append(helper.make_node("Add", [f"mm_{name}", f"b_{name}"], [name], name=f"/{name}/Add"))
        inits += [
            numpy_helper.from_array(weight(), f"w_{name}"),
            numpy_helper.from_array(np.ones(N, np.float32), f"b_{name}"),
        ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, None, K])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, None, N]) for n in ("q", "k", "v")],
        inits,
    )
    src = tmp_path / "qkv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), src)
    calibrated = {f"/{n}/MatMul": ranges()["/dense/MatMul"] for n in ("q", "k", "v")}
    model = onnx.load(src)
    assert len(split_outliers(model, calibrated, 4, 6.0)) == 3
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Mul") == 1 and ops.count("Gather") == 1
    for node in model.graph.node:
        if node.name.endswith("/Add"):  # bias Add still reads the int8 MatMul's output directly
            assert node.input[0].startswith("mm_")
    onnx.save(model, tmp_path / "split.onnx")
    x = activations()
    split_session = make_session(tmp_path / "split.onnx", SessionSettings(threads=1))
    expected = make_session(src, SessionSettings(threads=1)).run(None, {"x": x})
    for got, want in zip(split_session.run(None, {"x": x}), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    quantize_file(src, tmp_path / "q.onnx", QuantPreset.avx512_vnni(), calibrated, OutlierSplit(4, 6.0))
    quantized_ops = [n.op_type for n in onnx.load(tmp_path / "q.onnx").graph.node]
    assert quantized_ops.count("DynamicQuantizeLinear") == 1
