"""What an enrichment is: a small frozen record per ticket and its JSON shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runtime.classify import Sentiment
from runtime.urgency import Urgency


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

    def to_dict(self) -> dict[str, Any]:
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
            "timings_ms": dict(self.timings_ms, batch_size=self.batch_size),
        }
        if self.stand_in_fields:
            enrichment["stand_in_fields"] = list(self.stand_in_fields)
            enrichment["warning"] = (
                f"{', '.join(self.stand_in_fields)} come from stand-in models with random weights: "
                "they prove the pipeline, not the answers"
            )
        return {"ticket_id": self.ticket_id, "enrichment": enrichment}
