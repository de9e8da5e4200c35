"""The export's own errors. The CLI prints their message (no traceback) and exits non-zero."""

from __future__ import annotations

from dataclasses import dataclass


class ExportError(Exception):
    """The export cannot go on: a missing folder, an unreachable Hub, a corrupt checkpoint, ..."""


@dataclass(frozen=True)
class OutputCheck:
    """One parity figure against its gate, e.g. `cosine_min 0.9871 >= 0.99`."""

    output: str  # what was compared: "embedding", "logits", "greedy_tokens", ...
    figure: str  # which number: "cosine_min", "max_abs_diff", "top1_agreement", ...
    value: float
    limit: float
    higher_is_better: bool

    @property
    def passed(self) -> bool:
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def describe(self) -> str:
        op = ">=" if self.higher_is_better else "<="
        verdict = "ok" if self.passed else "FAILED"
        return f"{self.output}.{self.figure} = {self.value:.6g} (gate {op} {self.limit:g}) {verdict}"


class ParityError(ExportError):
    """An exported graph disagrees with PyTorch beyond its architecture's tolerance."""

    def __init__(self, model: str, variant: str, checks: list[OutputCheck]):
        self.model = model
        self.variant = variant
        self.checks = checks
        lines = "\n  ".join(check.describe() for check in checks)
        super().__init__(
            f"parity check failed for {model} / {variant}:\n  {lines}\n"
            "Nothing was written. A failure on fp32 points at the conversion (versions in pyproject); "
            "on an int8 variant, at its quantization preset in export/quantize.py."
        )
