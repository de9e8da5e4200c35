"""ONNX vs PyTorch eager: what every architecture's parity checker shares.

The checkers themselves live with their architectures (export/architectures/): each computes
the PyTorch reference once (`__init__`), then `check(role, variant, files)` runs the exported
graphs on the same token ids and returns the figures for the manifest; a missed gate raises
ParityError listing every figure. Tolerances are the checker's class attributes. Texts run one
at a time and as one padded batch (dynamic quantization scales per batch, so both matter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from export.errors import OutputCheck, ParityError
from runtime.session import SessionSettings, available_cpus, make_session

Feed = dict[str, np.ndarray]


def open_session(path: Path) -> Any:
    """An onnxruntime InferenceSession on every CPU this process may use."""
    return make_session(path, SessionSettings(threads=available_cpus()))


def tokenize_batches(tokenizer_path: Path, texts: tuple[str, ...], pad_id: int) -> list[Feed]:
    """Each text alone, then all texts as one right-padded batch."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_padding()
    encodings = tokenizer.encode_batch(list(texts))
    batches = [[e.ids] for e in encodings] + [[e.ids for e in encodings]]
    out = []
    for ids in batches:
        width = max(len(row) for row in ids)
        input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        out.append({"input_ids": input_ids, "attention_mask": mask})
    return out


def session_feeds(session: Any, batch: Feed) -> Feed:
    """`batch` narrowed to the inputs the graph has (zero token_type_ids when it wants them)."""
    names = {i.name for i in session.get_inputs()}
    feeds = {k: v for k, v in batch.items() if k in names}
    if "token_type_ids" in names:
        feeds["token_type_ids"] = np.zeros_like(batch["input_ids"])
    return feeds


def torch_inputs(batch: Feed) -> dict[str, Any]:
    import torch

    return {k: torch.from_numpy(v) for k, v in batch.items()}


def raise_if_failed(model: str, variant: str, checks: list[OutputCheck]) -> None:
    if not all(check.passed for check in checks):
        raise ParityError(model, variant, checks)
