"""Classifiers in MiniLM's embedding space: intent, and sentiment in the offline profile.

A taxonomy file (labels, descriptions, example utterances) is data a user can replace. The
head fitted from it is a ridge classifier on the examples' (centred) embeddings, its L2
strength chosen by cross-validation and its confidence calibrated by temperature scaling on
the out-of-fold scores. All plain numpy; stored as JSON (no pickle).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runtime.classify import softmax
from runtime.errors import RuntimeArtifactError

LAMBDAS = (0.3, 1.0, 3.0, 10.0)
FOLDS = 5


@dataclass(frozen=True)
class Taxonomy:
    kind: str
    labels: tuple[str, ...]
    descriptions: tuple[str, ...]
    examples: tuple[tuple[str, ...], ...]  # per label
    sha256: str

    def training_set(self) -> tuple[list[str], np.ndarray]:
        texts, targets = [], []
        for index, (description, examples) in enumerate(zip(self.descriptions, self.examples, strict=True)):
            for text in (description, *examples):
                texts.append(text)
                targets.append(index)
        return texts, np.asarray(targets, dtype=np.int64)


def load_taxonomy(path: str | Path) -> Taxonomy:
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
        raw = json.loads(raw_bytes)
        labels = raw["labels"]
        taxonomy = Taxonomy(
            kind=raw.get("kind", path.stem),
            labels=tuple(item["name"] for item in labels),
            descriptions=tuple(item.get("description", item["name"]) for item in labels),
            examples=tuple(tuple(item["examples"]) for item in labels),
            sha256=hashlib.sha256(raw_bytes).hexdigest(),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeArtifactError(
            f"taxonomy {path} is unreadable ({type(exc).__name__}: {exc}); it needs "
            '{"labels": [{"name", "description", "examples": [...]}, ...]}'
        ) from exc
    if len(taxonomy.labels) < 2 or any(len(ex) < 2 for ex in taxonomy.examples):
        raise RuntimeArtifactError(f"taxonomy {path} needs at least 2 labels with at least 2 examples each")
    if len(set(taxonomy.labels)) != len(taxonomy.labels):
        raise RuntimeArtifactError(f"taxonomy {path} repeats a label name")
    return taxonomy


@dataclass(frozen=True)
class EmbeddingHead:
    labels: tuple[str, ...]
    mean: np.ndarray  # [D] centring of the features
    weights: np.ndarray  # [D, K]
    bias: np.ndarray  # [K]
    temperature: float
    taxonomy_sha256: str
    fit_report: dict[str, Any]

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        logits = (np.asarray(embeddings, np.float64) - self.mean) @ self.weights + self.bias
        return softmax(logits / self.temperature)

    def predict(self, embeddings: np.ndarray) -> list[tuple[str, float]]:
        probs = self.probabilities(embeddings)
        return [(self.labels[int(row.argmax())], float(row.max())) for row in probs]

    def to_json(self) -> str:
        return json.dumps(
            {
                "labels": list(self.labels),
                "mean": self.mean.tolist(),
                "weights": self.weights.tolist(),
                "bias": self.bias.tolist(),
                "temperature": self.temperature,
                "taxonomy_sha256": self.taxonomy_sha256,
                "fit_report": self.fit_report,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> EmbeddingHead:
        raw = json.loads(text)
        return cls(
            labels=tuple(raw["labels"]),
            mean=np.asarray(raw["mean"], np.float64),
            weights=np.asarray(raw["weights"], np.float64),
            bias=np.asarray(raw["bias"], np.float64),
            temperature=float(raw["temperature"]),
            taxonomy_sha256=raw["taxonomy_sha256"],
            fit_report=raw.get("fit_report", {}),
        )


def _fit_ridge(x: np.ndarray, y: np.ndarray, classes: int, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Least squares to one-hot targets with an L2 penalty: one small solve, no iterations.
    On sentence embeddings it classifies as well as logistic regression (measured on the
    labelled tickets: intent 0.85 both) and is stable on any taxonomy a user brings."""
    targets = np.eye(classes)[y]
    prior = targets.mean(axis=0)
    gram = x.T @ x + lam * np.eye(x.shape[1])
    return np.linalg.solve(gram, x.T @ (targets - prior)), prior


def _folds(y: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """Stratified fold index per example."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        fold[members] = np.arange(len(members)) % folds
    return fold


def _nll(logits: np.ndarray, y: np.ndarray) -> float:
    probs = softmax(logits)
    return float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)).mean())


def fit_head(embeddings: np.ndarray, targets: np.ndarray, taxonomy: Taxonomy) -> EmbeddingHead:
    x = np.asarray(embeddings, np.float64)
    mean = x.mean(axis=0)
    x = x - mean
    classes = len(taxonomy.labels)
    fold = _folds(targets, FOLDS)
    best: tuple[float, float, np.ndarray] | None = None
    for lam in LAMBDAS:
        oof = np.zeros((len(x), classes))
        for k in range(FOLDS):
            train, held = fold != k, fold == k
            w, b = _fit_ridge(x[train], targets[train], classes, lam)
            oof[held] = x[held] @ w + b
        accuracy = float((oof.argmax(axis=1) == targets).mean())
        if best is None or accuracy > best[1] + 1e-9:
            best = (lam, accuracy, oof)
    assert best is not None, "LAMBDAS is empty"
    lam, accuracy, oof = best
    temperatures = np.exp(np.linspace(np.log(0.005), np.log(5.0), 161))
    losses = [_nll(oof / t, targets) for t in temperatures]
    temperature = float(temperatures[int(np.argmin(losses))])
    w, b = _fit_ridge(x, targets, classes, lam)
    report = {
        "examples": int(len(x)),
        "l2": lam,
        "cv_accuracy": round(accuracy, 4),
        "cv_nll_calibrated": round(float(min(losses)), 4),
        "temperature": round(temperature, 4),
    }
    return EmbeddingHead(taxonomy.labels, mean, w, b, temperature, taxonomy.sha256, report)
