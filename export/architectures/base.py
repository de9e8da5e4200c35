"""What one architecture contributes to the export, and the defaults most architectures share.

An architecture (Optimum's `OnnxConfig`, CTranslate2's `Loader`) is one small class, registered
by name in export/architectures/__init__.py; a catalog entry (export/catalog.py) names the one
its checkpoint is. It owns everything that differs between architectures:

    convert             the checkpoint -> fp32 ONNX graphs (the catalog entry's `files`)
    settings            what the runtime needs beyond the catalog's own settings (manifest)
    labels              class labels in id order (manifest)
    generation          decoding settings as transformers loads them (manifest)
    calibration_ranges  per-MatMul input channel ranges for the outlier split (export/quantize.py)
    checker             the parity checker against PyTorch; its tolerances are its class attributes

The defaults: one graph written by Optimum's exporter, nothing beyond the catalog's settings, no
labels, no generation settings, the graph calibrated on the token feeds as they are.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from export.calibrate import collect_absmax
from export.errors import ExportError

if TYPE_CHECKING:
    from export.catalog import ModelSpec

Feed = dict[str, np.ndarray]  # one run's inputs: input name -> array
Ranges = dict[str, np.ndarray]  # MatMul node name -> max |activation| per input channel


class ParityChecker(Protocol):
    """The PyTorch reference, computed once; `check` runs one variant's graphs against it and
    returns the manifest's figures, or raises ParityError listing every figure and its gate."""

    def check(self, role: str, variant: str, files: dict[str, Path]) -> dict[str, Any]: ...


class Architecture(ABC):
    name: ClassVar[str]  # the registry key catalog entries use

    def convert(self, spec: ModelSpec, checkpoint: Path, work: Path) -> None:
        """Write `spec.files`' graphs, in fp32, into `work`: Optimum's export for `spec.task`."""
        from optimum.exporters.onnx import main_export  # type: ignore[import-untyped]  # untyped

        try:
            main_export(
                str(checkpoint),
                str(work),
                task=spec.task,
                library_name="transformers",
                do_validation=False,  # the architecture's checker compares with PyTorch, with our gates
                local_files_only=True,
            )
        except Exception as exc:  # torch/safetensors/optimum raise many types for a broken checkpoint
            raise ExportError(f"converting {spec.role} from {checkpoint} failed: {exc}") from exc
        missing = [name for name, _ in spec.files if not (work / name).is_file()]
        if missing:
            raise ExportError(f"Optimum's export of {spec.role} produced no {', '.join(missing)}")

    def settings(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Runtime settings read from the checkpoint's config, beyond the catalog entry's own."""
        return {}

    def labels(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        return ()

    def generation(self, folder: Path) -> dict[str, Any]:
        return {}

    def calibration_ranges(self, spec: ModelSpec, onnx_dir: Path, feeds: list[Feed],
                           config: Mapping[str, Any]) -> dict[str, Ranges]:
        """Converter's file name -> its ranges, on `feeds` (input_ids, attention_mask,
        token_type_ids per calibration text): the one graph, given the inputs it has."""
        name = spec.files[0][0]
        inputs = graph_inputs(onnx_dir / name)
        return {name: collect_absmax(onnx_dir / name, [select(feed, inputs) for feed in feeds])}

    @abstractmethod
    def checker(self, checkpoint: Path, tokenizer_path: Path, pad_id: int,
                generation: Mapping[str, Any]) -> ParityChecker:
        """The parity checker for this checkpoint, its PyTorch reference already computed."""


def graph_inputs(path: Path) -> set[str]:
    import onnx

    return {i.name for i in onnx.load(str(path), load_external_data=False).graph.input}


def select(feed: Feed, names: set[str]) -> Feed:
    return {k: v for k, v in feed.items() if k in names}
