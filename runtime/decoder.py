"""The summary's decoder as a StepDecoder (runtime.generate): one new token per row per step over
the decoder graph (export/bart_decoder.py), with both attention caches held here as numpy
buffers that onnxruntime reads and writes in place.

- Cross-attention (`CrossCache`): cross_kv's K/V for every row, padded to the longest row. A row
  reads only its own length, so the padding is never read; allocated with np.empty and filled
  row by row, it is never touched either, and costs no resident memory.
- Self-attention: one [rows, heads, capacity, head_dim] buffer per layer for K and for V. Each
  step binds a `present.*` output to the very memory of its `past_key_values.*` input, and
  GroupQueryAttention appends the new token's K/V there: nothing is copied per step. A full
  buffer is replaced by one twice as long.

The caches' dtype is the graph's (float16 on the int8 variants, float32 on fp32).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from runtime.errors import RuntimeArtifactError

DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
SELF, CROSS = ".decoder.", ".encoder."


def past_name(present: str) -> str:
    return present.replace("present.", "past_key_values.", 1)


def present_name(past: str) -> str:
    return past.replace("past_key_values.", "present.", 1)


def ortvalue(array: np.ndarray) -> ort.OrtValue:
    """An OrtValue over `array`'s own memory (CPU tensors are not copied)."""
    return ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array))


def cache_layout(decoder: ort.InferenceSession) -> tuple[list[str], list[str], type, int, int]:
    """(self-attention names, cross-attention names, cache dtype, heads, head_dim) of a decoder
    graph, checked to be the one this module drives."""
    inputs = {i.name: i for i in decoder.get_inputs()}
    pasts = [n for n in inputs if n.startswith("past_key_values.")]
    self_names = [n for n in pasts if SELF in n]
    cross_names = [n for n in pasts if CROSS in n]
    required = {"input_ids", "encoder_attention_mask", "cache_length"}
    if not self_names or not cross_names or required - set(inputs) or inputs[pasts[0]].type not in DTYPES:
        raise RuntimeArtifactError(
            "the summary decoder graph is not the one this runtime drives (input_ids, encoder_attention_mask, "
            "cache_length and float or float16 past_key_values.* expected; an export older than recipe 5?): "
            "re-run the export"
        )
    _, heads, _, head_dim = inputs[self_names[0]].shape
    return self_names, cross_names, DTYPES[inputs[pasts[0]].type], int(heads), int(head_dim)


def run_bound(session: ort.InferenceSession, binding: ort.IOBinding, what: str) -> list[ort.OrtValue]:
    try:
        session.run_with_iobinding(binding)
    except Exception as exc:  # onnxruntime's own error types
        raise RuntimeArtifactError(f"the summary {what} failed: {exc}") from exc
    outputs: list[ort.OrtValue] = binding.get_outputs()
    return outputs


class CrossCache:
    """Cross-attention K/V of `rows` inputs, each [rows, heads, width, head_dim], filled in
    chunks of rows; `lengths` are the rows' source lengths (a row reads only that much)."""

    def __init__(self, names: list[str], dtype: type, heads: int, head_dim: int, lengths: np.ndarray):
        self.names = names
        self.lengths = np.asarray(lengths, dtype=np.int64)
        width = int(self.lengths.max()) if self.lengths.size else 0
        shape = (len(self.lengths), heads, width, head_dim)
        self.values: dict[str, np.ndarray] = {name: np.empty(shape, dtype=dtype) for name in names}

    def fill(self, rows: list[int], outputs: dict[str, np.ndarray]) -> None:
        """Copy cross_kv's outputs (each [len(rows), heads, run width, head_dim]) into `rows`."""
        for name, value in outputs.items():
            target = self.values[name]
            for offset, row in enumerate(rows):
                length = self.lengths[row]
                target[row, :, :length] = value[offset, :, :length]

    def take(self, rows: np.ndarray) -> CrossCache:
        """A cache of the given rows (repeated or reordered), only their real lengths copied."""
        first = next(iter(self.values.values()))
        taken = CrossCache(self.names, first.dtype.type, first.shape[1], first.shape[3], self.lengths[rows])
        taken.fill_from(self, rows)
        return taken

    def head(self, rows: int) -> CrossCache:
        """The first `rows` rows: views of this cache's memory, nothing copied."""
        first = CrossCache.__new__(CrossCache)
        first.names, first.lengths = self.names, self.lengths[:rows]
        first.values = {name: value[:rows] for name, value in self.values.items()}
        return first

    def fill_from(self, other: CrossCache, rows: np.ndarray) -> None:
        for name, target in self.values.items():
            source = other.values[name]
            for offset, row in enumerate(rows):
                length = other.lengths[row]
                target[offset, :, :length] = source[row, :, :length]

    @property
    def mask(self) -> np.ndarray:
        width = next(iter(self.values.values())).shape[2]
        return (np.arange(width)[None, :] < self.lengths[:, None]).astype(np.int64)


def cross_cache(cross_kv: ort.InferenceSession, decoder: ort.InferenceSession, hidden: np.ndarray,
                mask: np.ndarray) -> CrossCache:
    """The cross K/V of one batch of encoder outputs (hidden [rows, source, d_model], mask [rows, source])."""
    _, names, dtype, heads, head_dim = cache_layout(decoder)
    cache = CrossCache(names, dtype, heads, head_dim, np.asarray(mask).sum(axis=1))
    cache.fill(list(range(len(cache.lengths))), run_cross_kv(cross_kv, hidden))
    return cache


def run_cross_kv(cross_kv: ort.InferenceSession, hidden: np.ndarray) -> dict[str, np.ndarray]:
    """cross_kv's outputs for `hidden`, keyed by the decoder's past_key_values.* names."""
    try:
        outputs = cross_kv.run(None, {"encoder_hidden_states": hidden.astype(np.float32, copy=False)})
    except Exception as exc:  # onnxruntime's own error types
        raise RuntimeArtifactError(f"the summary cross_kv graph failed on {hidden.shape}: {exc}") from exc
    return {past_name(o.name): value for o, value in zip(cross_kv.get_outputs(), outputs, strict=True)}


class CachedDecoder:
    """The decoder with its caches for one batch of encoded inputs (a StepDecoder)."""

    def __init__(self, decoder: ort.InferenceSession, cross: CrossCache, capacity: int = 32):
        self.session = decoder
        self.self_names, cross_names, self.dtype, self.heads, self.head_dim = cache_layout(decoder)
        if set(cross_names) != set(cross.names):
            raise RuntimeArtifactError(
                "the summary decoder and cross_kv graphs do not fit together (every cross_kv output as "
                "past_key_values.*.encoder.* expected): re-run the export"
            )
        self.length = 0  # tokens in the self-attention cache
        self.binding = decoder.io_binding()  # the caches stay bound from step to step
        self.binding.bind_output("logits", "cpu")  # first: get_outputs()[0]
        self._set_cross(cross)
        rows = len(cross.lengths)
        shape = (rows, self.heads, max(int(capacity), 1), self.head_dim)
        self._set_self({name: np.empty(shape, dtype=self.dtype) for name in self.self_names})

    def _set_cross(self, cross: CrossCache) -> None:
        self.cross = cross
        self.rows = len(cross.lengths)
        self.binding.bind_ortvalue_input("encoder_attention_mask", ortvalue(cross.mask))
        self._bind({name: ortvalue(value) for name, value in cross.values.items()})

    def _set_self(self, buffers: dict[str, np.ndarray]) -> None:
        self.buffers = buffers
        self._bind({name: ortvalue(value) for name, value in buffers.items()})

    def _bind(self, values: dict[str, ort.OrtValue]) -> None:
        """Each cache as input and as its own output: appended to in place (self-attention) or
        left as it is (cross-attention). The OrtValues hold our arrays' memory, not copies."""
        for name, value in values.items():
            self.binding.bind_ortvalue_input(name, value)
            self.binding.bind_ortvalue_output(present_name(name), value)

    @property
    def capacity(self) -> int:
        return int(next(iter(self.buffers.values())).shape[2])

    def _grow(self) -> None:
        grown = {}
        for name, buffer in self.buffers.items():
            bigger = np.empty(buffer.shape[:2] + (2 * buffer.shape[2],) + buffer.shape[3:], dtype=buffer.dtype)
            bigger[:, :, : self.length] = buffer[:, :, : self.length]
            grown[name] = bigger
        self._set_self(grown)

    def step(self, tokens: np.ndarray) -> np.ndarray:
        """Feed one token per row ([rows] int64); [rows, vocab] float32 logits."""
        if self.length >= self.capacity:
            self._grow()
        self.binding.bind_ortvalue_input("input_ids", ortvalue(np.asarray(tokens, dtype=np.int64).reshape(-1, 1)))
        self.binding.bind_ortvalue_input("cache_length", ortvalue(np.array([self.length], dtype=np.int64)))
        self.binding.bind_output("logits", "cpu")  # rebound: a new array each step, not the last one overwritten
        logits = run_bound(self.session, self.binding, f"decoder on {self.rows} rows")[0]
        self.length += 1
        values: np.ndarray = logits.numpy()[:, -1, :]
        return values

    def run(self, tokens: np.ndarray) -> np.ndarray:
        """Feed `tokens` [rows, T] one position at a time after what is cached; logits [rows, T, vocab]."""
        return np.stack([self.step(tokens[:, position]) for position in range(tokens.shape[1])], axis=1)

    def keep(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if np.array_equal(rows, np.arange(len(rows))):
            # The first rows stay (greedy, longest first: the rows a per-row budget ends first are
            # the last ones): views of the same memory, nothing copied.
            self._set_self({name: buffer[: len(rows)] for name, buffer in self.buffers.items()})
            self._set_cross(self.cross.head(len(rows)))
            return
        kept = {}
        for name, buffer in self.buffers.items():
            kept[name] = np.empty((len(rows),) + buffer.shape[1:], dtype=buffer.dtype)
            kept[name][:, :, : self.length] = buffer[rows, :, : self.length]
        self._set_self(kept)
        self._set_cross(self.cross.take(rows))

    def reorder(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        moved = np.flatnonzero(rows != np.arange(len(rows)))  # a beam that continues itself stays put
        for buffer in self.buffers.values():  # in place: the bound OrtValues stay valid
            buffer[moved, :, : self.length] = buffer[rows[moved], :, : self.length]
