"""What an enrichment is: a small frozen record per ticket and its JSON shape."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from runtime.classify import Sentiment
from runtime.urgency import Urgency


def models_ref(models: dict[str, dict[str, Any]]) -> str:
    """A short name for a provenance block (which model, variant and artifact hash made each
    field): the first 12 hex digits of the sha256 of its canonical JSON. Lines that carry only
    the reference point at the block printed once beside them."""
    canonical = json.dumps(models, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def short_provenance(models: dict[str, dict[str, Any]]) -> dict[str, str]:
    """One line per field for logs and terminals: model, variant, the artifact hash's first 8 digits."""
    short = {}
    for role, info in models.items():
        parts = [str(info.get("model")), info.get("variant"), str(info.get("artifact_sha256") or "")[:8] or None]
        stand_in = " (stand-in)" if info.get("stand_in") else ""
        short[role] = " ".join(part for part in parts if part) + stand_in
    return short


@dataclass(frozen=True)
class Intent:
    label: str
    confidence: float
    uncertain: bool = False  # confidence below RuntimeConfig.intent_uncertain_below


@dataclass(frozen=True)
class Enrichment:
    ticket_id: str
    embedding: np.ndarray  # [384] float32, unit length
    sentiment: Sentiment
    intent: Intent
    urgency: Urgency
    summary: str
    summary_kind: str  # "abstractive" | "extractive" | "original" (the ticket is its own summary)
    profile: str
    models: dict[str, dict[str, Any]]
    timings_ms: dict[str, float]  # this ticket's share of each stage of its batch
    batch_size: int = 1
    stand_in_fields: tuple[str, ...] = field(default_factory=tuple)
    summary_preset: str | None = None  # the preset (runtime/presets.py) that made an abstractive summary
    in_domain: float = 1.0  # how much the text looks like an English support ticket (runtime/domain.py)

    @property
    def models_ref(self) -> str:
        return models_ref(self.models)

    def to_dict(self, models: Literal["full", "ref"] = "full") -> dict[str, Any]:
        """The JSON shape. `models="ref"` leaves the provenance block out and keeps its
        `models_ref` only, for outputs that print the block once (`ticket-enrich enrich`)."""
        enrichment: dict[str, Any] = {
            "embedding": np.round(self.embedding.astype(np.float64), 7).tolist(),
            "sentiment": {"label": self.sentiment.label, "score": round(self.sentiment.score, 4),
                          "uncertain": bool(self.sentiment.uncertain)},
            "intent": {"label": self.intent.label, "confidence": round(self.intent.confidence, 4),
                       "uncertain": bool(self.intent.uncertain)},
            "urgency": {"level": self.urgency.level, "confidence": round(self.urgency.confidence, 4),
                        "uncertain": bool(self.urgency.uncertain), "signals": list(self.urgency.signals)},
            "in_domain": round(float(self.in_domain), 4),
            "summary": self.summary,
            "summary_kind": self.summary_kind,
            "summary_preset": self.summary_preset,
            "profile": self.profile,
            "models": self.models,
            "models_ref": self.models_ref,
            "timings_ms": dict(self.timings_ms, batch_size=self.batch_size),
        }
        if models == "ref":
            del enrichment["models"]
        if self.stand_in_fields:
            enrichment["stand_in_fields"] = list(self.stand_in_fields)
            enrichment["warning"] = (
                f"{', '.join(self.stand_in_fields)} come from stand-in models with random weights: "
                "they prove the pipeline, not the answers"
            )
        return {"ticket_id": self.ticket_id, "enrichment": enrichment}
