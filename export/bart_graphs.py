"""BART (DistilBART) as three ONNX graphs written directly from the checkpoint's weights.

    encoder   input_ids, attention_mask -> last_hidden_state
    cross_kv  encoder_hidden_states -> present.<l>.encoder.key/value  [batch, heads, source, head_dim]
    decoder   (export/bart_decoder.py) one new token per row, the self-attention cache (a buffer
              the kernel appends to in place) and cross_kv's outputs -> logits

Why not Optimum's graphs: its merged decoder holds every weight twice (two `If` branches, both
prepacked at load: +286 MB and 1.2 s of session creation), and its transformers 4.57 export
writes attention as loose MatMul/Softmax/Transpose nodes that onnxruntime's transformer
optimizer (model_type "bart", tried on Optimum's SDPA and eager exports) does not fuse, so every
step ran unfused fp32 attention and re-laid-out its caches. Here the encoder's attention is
onnxruntime's `MultiHeadAttention` (com.microsoft) and the decoder's `GroupQueryAttention`, with
the caches in the layout those kernels read (BNSH); the cross-attention K/V are computed once per
batch, and the same decoder runs every step. Every other op is standard ONNX; onnxruntime's
offline optimization (export/optimize.py) fuses Gelu and biases as usual, and the weight MatMuls
and embedding Gathers are what dynamic int8 quantization sees, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from export.errors import ExportError

OPSET = 17
MS_DOMAIN = "com.microsoft"
POSITION_OFFSET = 2  # BartLearnedPositionalEmbedding: position p reads row p + 2
# transformers masks with the dtype's minimum; any value whose exp underflows gives the same softmax
MASK_FILTER = -1.0e9
GRAPH_FILES = ("encoder.onnx", "cross_kv.onnx", "decoder.onnx")
KV = ("key", "value")
State = dict[str, np.ndarray]  # a checkpoint's weights by name, float32
TO_CACHE = "/to_cache"  # suffix of the Casts to the attention caches' dtype (export/bart_decoder.py)


@dataclass(frozen=True)
class BartShape:
    encoder_layers: int
    decoder_layers: int
    d_model: int
    heads: int
    embed_scale: float

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BartShape:
        problems = []
        if config.get("model_type") != "bart":
            problems.append(f"model_type is {config.get('model_type')!r}, not 'bart'")
        if config.get("activation_function", "gelu") != "gelu":
            problems.append(f"activation {config.get('activation_function')!r} (only 'gelu' is written)")
        heads = config.get("decoder_attention_heads")
        if heads != config.get("encoder_attention_heads") or config["d_model"] % heads:
            problems.append("encoder and decoder heads differ or do not divide d_model")
        if config.get("add_final_layer_norm") or config.get("normalize_before"):
            problems.append("pre-LayerNorm / final LayerNorm variants (mBART) are not written")
        if problems:
            raise ExportError("cannot write this checkpoint as BART graphs: " + "; ".join(problems))
        return cls(
            encoder_layers=config["encoder_layers"],
            decoder_layers=config["decoder_layers"],
            d_model=config["d_model"],
            heads=config["decoder_attention_heads"],  # checked above
            embed_scale=float(np.sqrt(config["d_model"])) if config.get("scale_embedding") else 1.0,
        )


class _Graph:
    """Nodes, initializers and named outputs of one graph being written."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []

    def const(self, name: str, array: np.ndarray) -> str:
        if name not in self.initializers:
            self.initializers[name] = np.ascontiguousarray(array)
        return name

    def op(self, op_type: str, inputs: list[str], name: str, domain: str = "", **attrs: Any) -> str:
        """A node with one output; returns the output's name."""
        return self.ops(op_type, inputs, name, 1, domain, **attrs)[0]

    def ops(self, op_type: str, inputs: list[str], name: str, outputs: int, domain: str = "",
            **attrs: Any) -> list[str]:
        """A node with `outputs` outputs; returns their names."""
        from onnx import helper

        names = [f"{name}_output_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, name=name, domain=domain, **attrs))
        return names

    def model(self, name: str) -> Any:
        from onnx import helper, numpy_helper

        initializers = [numpy_helper.from_array(a, n) for n, a in self.initializers.items()]
        graph = helper.make_graph(self.nodes, name, self.inputs, self.outputs, initializer=initializers)
        opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)]
        return helper.make_model(graph, opset_imports=opsets, producer_name="ticket-enrichment export")


def _tensor(name: str, elem_type: int, dims: list[Any]) -> Any:
    from onnx import helper

    return helper.make_tensor_value_info(name, elem_type, dims)


def _weights(state: dict[str, np.ndarray], key: str) -> np.ndarray:
    try:
        return state[key]
    except KeyError as exc:
        raise ExportError(f"the BART checkpoint has no {key!r}") from exc


def _linear(g: _Graph, state: State, x: str, name: str) -> str:
    """x @ W.T + b for the torch Linear `name` (its .weight and .bias). Q, K and V stay three
    MatMuls on one input: the quantizer quantizes that input once for the three, and no Split
    copies a fused product apart (measured: as fast, simpler)."""
    w = g.const(f"{name}.weight", _weights(state, f"{name}.weight").T)
    y = g.op("MatMul", [x, w], f"{name}/MatMul")
    return g.op("Add", [y, g.const(f"{name}.bias", _weights(state, f"{name}.bias"))], f"{name}/Add")


def _layer_norm(g: _Graph, state: State, x: str, prefix: str) -> str:
    w = g.const(f"{prefix}.weight", _weights(state, f"{prefix}.weight"))
    b = g.const(f"{prefix}.bias", _weights(state, f"{prefix}.bias"))
    return g.op("LayerNormalization", [x, w, b], f"{prefix}/LayerNormalization", axis=-1, epsilon=1e-5)


def _feed_forward(g: _Graph, state: State, x: str, prefix: str) -> str:
    """fc2(gelu(fc1(x))) + x, LayerNorm; gelu exact (erf), written the way onnxruntime fuses it."""
    h = _linear(g, state, x, f"{prefix}.fc1")
    scaled = g.op("Div", [h, g.const("sqrt2", np.array(np.sqrt(2.0), np.float32))], f"{prefix}/gelu/Div")
    erf = g.op("Erf", [scaled], f"{prefix}/gelu/Erf")
    plus = g.op("Add", [erf, g.const("one", np.array(1.0, np.float32))], f"{prefix}/gelu/Add")
    h = g.op("Mul", [h, plus], f"{prefix}/gelu/Mul")
    h = g.op("Mul", [h, g.const("half", np.array(0.5, np.float32))], f"{prefix}/gelu/Mul_1")
    h = _linear(g, state, h, f"{prefix}.fc2")
    return _layer_norm(g, state, g.op("Add", [x, h], f"{prefix}/ffn_residual"), f"{prefix}.final_layer_norm")


def _embed(g: _Graph, state: State, shape: BartShape, ids: str, side: str, start: str) -> str:
    """Token embedding (x embed_scale) + learned positions from `start` ([1] int64) on, LayerNorm."""
    table = g.const("shared.weight", _weights(state, "model.shared.weight"))
    x = g.op("Gather", [table, ids], f"{side}.embed_tokens/Gather")
    if shape.embed_scale != 1.0:
        scale = g.const("embed_scale", np.array(shape.embed_scale, np.float32))
        x = g.op("Mul", [x, scale], f"{side}.embed_tokens/Mul")
    offset = g.const("position_offset", np.array([POSITION_OFFSET], np.int64))
    first = g.op("Add", [start, offset], f"{side}/first_position")
    end = g.op("Add", [first, g.op("Shape", [ids], f"{side}/length", start=1, end=2)], f"{side}/end_position")
    table = g.const(f"{side}.embed_positions.weight", _weights(state, f"model.{side}.embed_positions.weight"))
    axis = g.const("axis0", np.array([0], np.int64))
    positions = g.op("Slice", [table, first, end, axis], f"{side}.embed_positions/Slice")
    return _layer_norm(g, state, g.op("Add", [x, positions], f"{side}/embed_sum"), f"model.{side}.layernorm_embedding")


def _attention_block(g: _Graph, state: State, x: str, prefix: str, attention: list[str], **attrs: Any) -> str:
    """MultiHeadAttention on `attention` inputs, out_proj, residual, LayerNorm."""
    out = g.op("MultiHeadAttention", attention, f"{prefix}/MultiHeadAttention", domain=MS_DOMAIN,
               mask_filter_value=MASK_FILTER, **attrs)
    out = _linear(g, state, out, f"{prefix}.out_proj")
    return _layer_norm(g, state, g.op("Add", [x, out], f"{prefix}/residual"), f"{prefix}_layer_norm")


def encoder_graph(state: State, shape: BartShape) -> Any:
    from onnx import TensorProto

    g = _Graph()
    g.inputs = [
        _tensor("input_ids", TensorProto.INT64, ["batch_size", "encoder_sequence_length"]),
        _tensor("attention_mask", TensorProto.INT64, ["batch_size", "encoder_sequence_length"]),
    ]
    zero = g.const("zero_int", np.array([0], np.int64))
    x = _embed(g, state, shape, "input_ids", "encoder", zero)
    mask = g.op("Cast", ["attention_mask"], "encoder/mask_int32", to=TensorProto.INT32)
    for layer in range(shape.encoder_layers):
        prefix = f"model.encoder.layers.{layer}"
        q, k, v = (_linear(g, state, x, f"{prefix}.self_attn.{p}") for p in ("q_proj", "k_proj", "v_proj"))
        x = _attention_block(g, state, x, f"{prefix}.self_attn", [q, k, v, "", mask], num_heads=shape.heads)
        x = _feed_forward(g, state, x, prefix)
    g.nodes.append(_identity(x, "last_hidden_state"))
    dims = ["batch_size", "encoder_sequence_length", shape.d_model]
    g.outputs = [_tensor("last_hidden_state", TensorProto.FLOAT, dims)]
    return g.model("bart_encoder")


def cross_kv_graph(state: State, shape: BartShape) -> Any:
    """Every decoder layer's cross-attention K and V, each written straight into the layout
    GroupQueryAttention reads ([batch, heads, source, head_dim]) in the cache dtype; one GEMM per
    output (they share one quantized input), so no Split copies a fused product apart (measured
    slower: two copies of the whole cache)."""
    from onnx import TensorProto

    g = _Graph()
    dims = ["batch_size", "encoder_sequence_length", shape.d_model]
    g.inputs = [_tensor("encoder_hidden_states", TensorProto.FLOAT, dims)]
    heads = g.const("heads_shape", np.array([0, 0, shape.heads, shape.head_dim], np.int64))
    dims = ["batch_size", shape.heads, "encoder_sequence_length", shape.head_dim]
    for layer in range(shape.decoder_layers):
        for kind in KV:
            prefix = f"model.decoder.layers.{layer}.encoder_attn.{kind[0]}_proj"
            y = _linear(g, state, "encoder_hidden_states", prefix)
            y = g.op("Reshape", [y, heads], f"{prefix}/Reshape")
            y = g.op("Cast", [y], f"{prefix}{TO_CACHE}", to=TensorProto.FLOAT)  # the cache dtype (bart_decoder)
            name = cross_name("present", layer, kind)
            g.nodes.append(_transpose(y, name))
            g.outputs.append(_tensor(name, TensorProto.FLOAT, dims))
    return g.model("bart_cross_kv")


def self_name(kind: str, layer: int, which: str) -> str:
    return f"{kind}.{layer}.decoder.{which}"


def cross_name(kind: str, layer: int, which: str) -> str:
    return f"{kind}.{layer}.encoder.{which}"


def _identity(x: str, name: str) -> Any:
    from onnx import helper

    return helper.make_node("Identity", [x], [name], name=f"{name}/Identity")


def _transpose(x: str, name: str) -> Any:
    """[batch, length, heads, head_dim] -> [batch, heads, length, head_dim], written as `name`."""
    from onnx import helper

    return helper.make_node("Transpose", [x], [name], name=f"{name}/Transpose", perm=[0, 2, 1, 3])


def checkpoint_state(folder: Path) -> tuple[State, dict[str, Any]]:
    """The checkpoint's weights as float32 numpy arrays (tied weights resolved by transformers)."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    try:
        model = AutoModelForSeq2SeqLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    except Exception as exc:  # torch/safetensors/transformers raise many types for a broken checkpoint
        raise ExportError(f"cannot load the BART checkpoint in {folder}: {exc}") from exc
    state = {k: v.detach().numpy().astype(np.float32, copy=True) for k, v in model.state_dict().items()}
    return state, model.config.to_dict()


def write_bart_graphs(folder: Path, out: Path) -> dict[str, Path]:
    """encoder.onnx, cross_kv.onnx and decoder.onnx (fp32) for the checkpoint in `folder`."""
    import onnx

    state, config = checkpoint_state(folder)
    shape = BartShape.from_config(config)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    from export.bart_decoder import decoder_graph

    for file, build in zip(GRAPH_FILES, (encoder_graph, cross_kv_graph, decoder_graph), strict=True):
        model = build(state, shape)
        onnx.checker.check_model(model)
        onnx.save(model, str(out / file))
        written[file] = out / file
    return written
