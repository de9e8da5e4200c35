"""How good a classifier is on labelled data: accuracy, macro-F1, per-class precision/recall/F1,
the confusion matrix and the calibration of its confidence (expected calibration error).

Plain numpy and stdlib, shared by `ticket-enrich fit` (its cross-validated report) and the
accuracy tests (their floors), so that both speak of the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CALIBRATION_BINS = 10


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Calibration:
    """Top-label calibration: in each confidence bin, how often the predicted label was right."""

    ece: float  # expected calibration error: the bins' |accuracy - confidence|, weighted by size
    bins: tuple[tuple[float, float, int, float, float], ...]  # (low, high, count, confidence, accuracy)


@dataclass(frozen=True)
class Report:
    labels: tuple[str, ...]
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassScores]
    confusion: np.ndarray  # [gold, predicted] counts, in `labels` order
    calibration: Calibration | None
    examples: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "examples": self.examples,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_class": {
                label: {"precision": round(s.precision, 4), "recall": round(s.recall, 4), "f1": round(s.f1, 4),
                        "support": s.support}
                for label, s in self.per_class.items()
            },
            "confusion": {"labels": list(self.labels), "matrix": self.confusion.astype(int).tolist()},
            "top_confusions": self.top_confusions(),
        }
        if self.calibration is not None:
            out["ece"] = round(self.calibration.ece, 4)
            out["calibration_bins"] = [
                {"from": low, "to": high, "count": count, "confidence": round(conf, 4), "accuracy": round(acc, 4)}
                for low, high, count, conf, acc in self.calibration.bins
            ]
        out.update(self.extra)
        return out

    def top_confusions(self, count: int = 5) -> list[str]:
        pairs = [(int(self.confusion[g, p]), self.labels[g], self.labels[p])
                 for g in range(len(self.labels)) for p in range(len(self.labels)) if g != p and self.confusion[g, p]]
        return [f"{gold} -> {predicted}: {n}" for n, gold, predicted in sorted(pairs, key=lambda t: -t[0])[:count]]


def calibration(confidence: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS) -> Calibration:
    """Equal-width bins over [0, 1] of the predicted label's confidence."""
    confidence = np.asarray(confidence, np.float64)
    correct = np.asarray(correct, np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    ece = 0.0
    for b in range(bins):
        members = which == b
        count = int(members.sum())
        if not count:
            continue
        conf, acc = float(confidence[members].mean()), float(correct[members].mean())
        ece += count / len(confidence) * abs(acc - conf)
        rows.append((round(float(edges[b]), 2), round(float(edges[b + 1]), 2), count, conf, acc))
    return Calibration(ece=float(ece), bins=tuple(rows))


def evaluate(gold: Sequence[str], predicted: Sequence[str], confidence: Sequence[float] | None = None,
             labels: Sequence[str] | None = None) -> Report:
    """Scores of `predicted` against `gold`; `labels` fixes the order (default: sorted, gold first)."""
    if len(gold) != len(predicted) or not gold:
        raise ValueError(f"need as many predictions as gold labels (got {len(predicted)} and {len(gold)}), at least one")
    order = tuple(labels) if labels is not None else tuple(sorted(set(gold) | set(predicted)))
    index = {label: i for i, label in enumerate(order)}
    unknown = sorted((set(gold) | set(predicted)) - set(index))
    if unknown:
        raise ValueError(f"labels {unknown} are not among {list(order)}")
    matrix = np.zeros((len(order), len(order)), dtype=np.int64)
    for g, p in zip(gold, predicted, strict=True):
        matrix[index[g], index[p]] += 1
    per_class = {}
    for i, label in enumerate(order):
        tp, predicted_n, support = matrix[i, i], matrix[:, i].sum(), matrix[i, :].sum()
        precision = float(tp / predicted_n) if predicted_n else 0.0
        recall = float(tp / support) if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = ClassScores(precision, recall, f1, int(support))
    present = [s.f1 for s in per_class.values() if s.support]
    correct = np.asarray([g == p for g, p in zip(gold, predicted, strict=True)])
    return Report(
        labels=order,
        accuracy=float(correct.mean()),
        macro_f1=float(np.mean(present)) if present else 0.0,
        per_class=per_class,
        confusion=matrix,
        calibration=calibration(np.asarray(confidence), correct) if confidence is not None else None,
        examples=len(gold),
    )


def confusion_text(report: Report) -> str:
    """The confusion matrix as an aligned table: rows are the gold labels, columns the predictions."""
    width = max(5, *(len(label) for label in report.labels))
    cell = max(4, len(str(int(report.confusion.max(initial=0)))) + 1)
    short = [label[: cell + 6] for label in report.labels]
    cell = max(cell, *(len(s) + 1 for s in short))
    lines = [" " * width + " |" + "".join(s.rjust(cell) for s in short) + "   <- predicted"]
    lines.append("-" * len(lines[0]))
    for label, row in zip(report.labels, report.confusion, strict=True):
        lines.append(label.ljust(width) + " |" + "".join(str(int(v)).rjust(cell) for v in row))
    return "\n".join(lines)


def summary_text(report: Report, title: str) -> str:
    """A short human-readable report: headline figures, per class, confusions, calibration."""
    lines = [f"{title}: {report.examples} examples, accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}"
             + (f", ECE {report.calibration.ece:.3f}" if report.calibration else "")]
    lines.append(f"  {'label':<24}{'precision':>10}{'recall':>8}{'f1':>7}{'n':>6}")
    for label, s in report.per_class.items():
        lines.append(f"  {label:<24}{s.precision:>10.3f}{s.recall:>8.3f}{s.f1:>7.3f}{s.support:>6}")
    lines.append("")
    lines.extend("  " + line for line in confusion_text(report).splitlines())
    if report.calibration:
        lines.append("")
        lines.append("  confidence bin   n   mean confidence   accuracy")
        for low, high, count, conf, acc in report.calibration.bins:
            lines.append(f"  {low:.1f}-{high:.1f}   {count:>6}   {conf:>15.3f}   {acc:>8.3f}")
    return "\n".join(lines)
