"""BART's decoder as one ONNX graph, attention as onnxruntime's GroupQueryAttention (com.microsoft),
one new token per row per run:

    inputs   input_ids [batch, 1], encoder_attention_mask [batch, source] (right-padded),
             cache_length [1] (tokens already in the self-attention cache),
             past_key_values.<l>.decoder.* [batch, heads, capacity, head_dim]  (self-attention cache)
             past_key_values.<l>.encoder.* [batch, heads, source, head_dim]    (cross_kv's outputs)
    outputs  logits, present.<l>.decoder.*, present.<l>.encoder.*

Why GroupQueryAttention (measured on the full-size stand-in, decode steps at batch 10 and 32,
onnxruntime 1.32, CPU time on one thread; docs/PERFORMANCE.md):
- It reads each row's own length only. MultiHeadAttention reads the cross-attention K/V padded
  to the batch's longest ticket.
- Its CPU kernel takes float16 K/V (converted per head as it reads them), so the int8 variants
  keep both caches in float16 (`set_cache_type`): half the bytes a decode step reads from them.
  MultiHeadAttention on CPU takes float32 only.
- The self-attention cache is a buffer of `capacity` tokens that the kernel appends to in place
  when the caller binds each `present.*` output to its `past_key_values.*` input's memory
  (onnxruntime checks the pointers): no cache is copied or concatenated per step.

The cross-attention runs through the same op with a trick: GroupQueryAttention appends the new
token's K/V at position seqlens_k (a row's length - 1) and attends causally to positions
0..seqlens_k. Fed, as the "new" K/V, each row's own last source position (gathered from the
cross K/V, so the append rewrites a value already there) and seqlens_k = length - 1, it attends to
exactly the row's source positions: cross-attention for one query per row. With several new
tokens per row the causal mask would hide the last source positions from the earlier ones, so
the graph takes one token per run (runtime.decoder.CachedDecoder steps; teacher forcing loops).

Every graph is written in float32; the cache dtype is a Cast before each GroupQueryAttention
input and after its output (identity in float32, removed by onnxruntime's optimizer), which
`set_cache_type` turns to float16 on the int8 variants after quantization, together with the
cache inputs and outputs of the decoder and cross_kv graphs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from export.bart_graphs import (
    KV,
    MS_DOMAIN,
    TO_CACHE,
    BartShape,
    State,
    _embed,
    _feed_forward,
    _Graph,
    _identity,
    _layer_norm,
    _linear,
    _tensor,
    _weights,
    cross_name,
    self_name,
)
from export.errors import ExportError

CACHE_PREFIXES = ("past_key_values.", "present.")


def _to_cache(g: _Graph, x: str, name: str) -> str:
    from onnx import TensorProto

    return g.op("Cast", [x], name + TO_CACHE, to=TensorProto.FLOAT)


def _to_float(g: _Graph, x: str, name: str) -> str:
    from onnx import TensorProto

    return g.op("Cast", [x], name + "/to_float", to=TensorProto.FLOAT)


def _attention(g: _Graph, shape: BartShape, prefix: str, q: str, k: str, v: str, cache: list[str],
               seqlens: str, total: str) -> tuple[str, list[str]]:
    """GroupQueryAttention over `cache` (K, V buffers) appended with k, v; output in float32."""
    outputs = g.ops("GroupQueryAttention", [_to_cache(g, q, f"{prefix}/q"), k, v, *cache, seqlens, total],
                    f"{prefix}/GroupQueryAttention", 3, domain=MS_DOMAIN,
                    num_heads=shape.heads, kv_num_heads=shape.heads)  # fmt: skip
    return _to_float(g, outputs[0], f"{prefix}/attention"), outputs[1:]


def _block(g: _Graph, state: State, x: str, attention: str, prefix: str) -> str:
    """out_proj, residual, LayerNorm."""
    out = _linear(g, state, attention, f"{prefix}.out_proj")
    return _layer_norm(g, state, g.op("Add", [x, out], f"{prefix}/residual"), f"{prefix}_layer_norm")


def _lengths(g: _Graph, shape: BartShape) -> tuple[str, str, str, str, str]:
    """(self seqlens_k, self total, cross seqlens_k, cross total, index of each row's last source
    position) as GroupQueryAttention and GatherElements want them."""
    from onnx import TensorProto

    one = g.const("one_int", np.array([1], np.int64))
    rows = g.op("Shape", ["input_ids"], "decoder/rows", start=0, end=1)
    total = g.op("Add", ["cache_length", g.op("Shape", ["input_ids"], "decoder/new_tokens", start=1, end=2)],
                 "decoder/total_length")  # fmt: skip
    self_total = g.op("Cast", [g.op("Squeeze", [total], "decoder/total_scalar")], "decoder/self_total",
                      to=TensorProto.INT32)  # fmt: skip
    last = g.op("Expand", [g.op("Sub", [total, one], "decoder/last_position"), rows], "decoder/last_positions")
    self_seqlens = g.op("Cast", [last], "decoder/self_seqlens", to=TensorProto.INT32)
    source = g.op("ReduceSum", ["encoder_attention_mask", one], "decoder/source_lengths", keepdims=0)
    source_last = g.op("Sub", [source, one], "decoder/source_last")
    cross_seqlens = g.op("Cast", [source_last], "decoder/cross_seqlens", to=TensorProto.INT32)
    width = g.op("Shape", ["encoder_attention_mask"], "decoder/source_width", start=1, end=2)
    cross_total = g.op("Cast", [g.op("Squeeze", [width], "decoder/source_scalar")], "decoder/cross_total",
                       to=TensorProto.INT32)  # fmt: skip
    dims = g.const("index_dims", np.array([shape.heads, 1, shape.head_dim], np.int64))
    index_shape = g.op("Concat", [rows, dims], "decoder/index_shape", axis=0)
    column = g.op("Reshape", [source_last, g.const("column", np.array([-1, 1, 1, 1], np.int64))], "decoder/last_column")
    index = g.op("Expand", [column, index_shape], "decoder/last_index")
    return self_seqlens, self_total, cross_seqlens, cross_total, index


def _last_source_position(g: _Graph, shape: BartShape, cache: str, index: str, prefix: str) -> str:
    """[batch, heads, source, head_dim] -> each row's last real position as [batch, 1, d_model]."""
    x = g.op("GatherElements", [cache, index], f"{prefix}/GatherElements", axis=2)
    x = g.op("Transpose", [x], f"{prefix}/Transpose", perm=[0, 2, 1, 3])
    return g.op("Reshape", [x, g.const("bsd", np.array([0, 1, shape.d_model], np.int64))], f"{prefix}/Reshape")


def decoder_graph(state: State, shape: BartShape) -> Any:
    from onnx import TensorProto

    g = _Graph()
    batch, source, capacity = "batch_size", "encoder_sequence_length", "cache_capacity"
    g.inputs = [
        _tensor("input_ids", TensorProto.INT64, [batch, "decoder_sequence_length"]),
        _tensor("encoder_attention_mask", TensorProto.INT64, [batch, source]),
        _tensor("cache_length", TensorProto.INT64, [1]),
    ]
    for name_of, length in ((self_name, capacity), (cross_name, source)):
        dims = [batch, shape.heads, length, shape.head_dim]
        for layer in range(shape.decoder_layers):
            g.inputs += [_tensor(name_of("past_key_values", layer, kind), TensorProto.FLOAT, dims) for kind in KV]
    x = _embed(g, state, shape, "input_ids", "decoder", "cache_length")
    self_seqlens, self_total, cross_seqlens, cross_total, last_index = _lengths(g, shape)
    for layer in range(shape.decoder_layers):
        prefix = f"model.decoder.layers.{layer}"
        q, k, v = (_linear(g, state, x, f"{prefix}.self_attn.{p}") for p in ("q_proj", "k_proj", "v_proj"))
        k, v = _to_cache(g, k, f"{prefix}.self_attn/k"), _to_cache(g, v, f"{prefix}.self_attn/v")
        cache = [self_name("past_key_values", layer, kind) for kind in KV]
        attended, presents = _attention(g, shape, f"{prefix}.self_attn", q, k, v, cache, self_seqlens, self_total)
        x = _block(g, state, x, attended, f"{prefix}.self_attn")
        q = _linear(g, state, x, f"{prefix}.encoder_attn.q_proj")
        cross = [cross_name("past_key_values", layer, kind) for kind in KV]
        k, v = (_last_source_position(g, shape, c, last_index, f"{prefix}.encoder_attn/{kind}_last")
                for c, kind in zip(cross, KV, strict=True))  # fmt: skip
        attended, cross_presents = _attention(g, shape, f"{prefix}.encoder_attn", q, k, v, cross, cross_seqlens,
                                              cross_total)  # fmt: skip
        x = _block(g, state, x, attended, f"{prefix}.encoder_attn")
        x = _feed_forward(g, state, x, prefix)
        for produced, name_of, length in ((presents, self_name, capacity), (cross_presents, cross_name, source)):
            for value, kind in zip(produced, KV, strict=True):
                g.nodes.append(_identity(value, name_of("present", layer, kind)))
                g.outputs.append(_tensor(name_of("present", layer, kind), TensorProto.FLOAT,
                                         [batch, shape.heads, length, shape.head_dim]))  # fmt: skip
    head = state.get("lm_head.weight", _weights(state, "model.shared.weight"))
    logits = g.op("MatMul", [x, g.const("lm_head.weight", head.T)], "lm_head/MatMul")
    bias = g.const("final_logits_bias", _weights(state, "final_logits_bias").reshape(-1))
    g.nodes.append(_identity(g.op("Add", [logits, bias], "lm_head/Add"), "logits"))
    g.outputs.insert(0, _tensor("logits", TensorProto.FLOAT, [batch, "decoder_sequence_length", head.shape[0]]))
    return g.model("bart_decoder")


CACHE_TYPES = {"float32": 1, "float16": 10}  # onnx TensorProto.FLOAT, FLOAT16


def set_cache_type(model: Any, elem_type: int) -> int:
    """Rewrite a decoder or cross_kv graph (in place) to keep its attention caches in `elem_type`
    (onnx TensorProto, e.g. FLOAT16): the cache inputs and outputs and the Casts that feed
    GroupQueryAttention. Returns how many tensors and casts changed (0: nothing to rewrite)."""
    changed = 0
    for value in [*model.graph.input, *model.graph.output]:
        if value.name.startswith(CACHE_PREFIXES):
            value.type.tensor_type.elem_type = elem_type
            changed += 1
    for node in model.graph.node:
        if node.op_type == "Cast" and node.name.endswith(TO_CACHE):
            for attr in node.attribute:
                if attr.name == "to":
                    attr.i = elem_type
                    changed += 1
    if changed:  # intermediate types recorded by the quantizer's shape inference are stale now
        del model.graph.value_info[:]
    return changed


def set_cache_type_file(path: Path, dtype: str) -> None:
    """`set_cache_type` to `dtype` ("float16", "float32") on a graph file, saved in place (weights
    inline, as the quantizer wrote them)."""
    import onnx

    if dtype not in CACHE_TYPES:
        raise ExportError(f"attention cache dtype {dtype!r} is not one of {', '.join(CACHE_TYPES)}")
    model = onnx.load(str(path))
    if set_cache_type(model, CACHE_TYPES[dtype]):
        onnx.save(model, str(path))
