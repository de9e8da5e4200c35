"""One module per engine family. Every factory returns `Engine`s whose `run(texts)` does the
whole stage, text in, product out (tokenization and post-processing included):

    embed      -> float32 [n, dim], unit length
    sentiment  -> float64 [n, labels], probabilities
    summary    -> list of token-id lists: the new tokens after the decoder start token
                  (texts are decoded inside the timed call, as the product needs them)
    end_to_end -> whatever the pipeline returns; only timed
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

FAMILIES = ("reference", "ours", "peer")


@dataclass
class Engine:
    name: str  # "pytorch", "ours-fp32", "ours-avx512_vnni", "optimum-int8", "ct2-int8", ...
    family: str  # reference | ours | peer
    run: Callable[[list[str]], Any]
    load_s: float = 0.0
    detail: str = ""  # what exactly runs, for the tables
    # Outputs must match the reference's (like-for-like). Off for the peers' own int8 recipes:
    # their accuracy is theirs, and their fp32 runs already prove the configuration matches.
    gated: bool = True

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family {self.family!r} is not one of {FAMILIES}")


def loaded(name: str, family: str, detail: str, build: Callable[[], Callable[[list[str]], Any]],
           gated: bool = True) -> Engine:
    """Build an engine and time its loading (files to first-callable, warm page cache)."""
    start = time.perf_counter()
    run = build()
    return Engine(name=name, family=family, run=run, load_s=time.perf_counter() - start, detail=detail,
                  gated=gated)


# The peers' post-processing, in numpy. Not runtime's own helpers: importing the runtime package
# would load onnxruntime into a peer's cold-start process (benchmarks/child.py).
def mean_pool_normalized(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling over the unmasked tokens, then L2 normalisation."""
    weights = mask[..., None].astype(hidden.dtype)
    pooled = (hidden * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
    return pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)
