"""Runtime settings: built and validated once; the environment is read here and nowhere else."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from runtime.manifest import PROFILES, VARIANTS
from runtime.presets import DEFAULT_PRESET, PRESETS

DATA_DIR = Path(__file__).parent / "data"
ENV_PREFIX = "TICKET_ENRICH_"


@dataclass(frozen=True)
class RuntimeConfig:
    profile: str | None = None  # None: the manifest's profile
    variant: str | None = None  # None: the best variant this CPU can run
    threads: int | None = None  # None: from the cgroup CPU quota and affinity
    neutral_below: float = 0.70  # sentiment below this confidence is NEUTRAL
    summary_min_words: int = 40  # shorter tickets are their own summary
    summary_preset: str = DEFAULT_PRESET  # runtime/presets.py: "ticket" (sized for a ticket) | "news"
    summary_max_new_tokens: int | None = None  # None: the preset's budget; else a fixed budget
    summary_num_beams: int | None = None  # None: the preset's
    extractive_sentences: int = 2
    extractive_max_words: int = 60
    intents_path: Path = DATA_DIR / "intents.json"
    sentiment_examples_path: Path = DATA_DIR / "sentiment.json"
    urgency_path: Path = DATA_DIR / "urgency.json"
    verify_hashes: bool = True
    # a label whose calibrated confidence is below its threshold is flagged `uncertain` (docs/LABELS.md)
    intent_uncertain_below: float = 0.60
    sentiment_uncertain_below: float = 0.60
    urgency_uncertain_below: float = 0.50

    def __post_init__(self) -> None:
        if self.profile is not None and self.profile not in PROFILES:
            raise ValueError(f"profile {self.profile!r} is not one of {', '.join(PROFILES)}")
        if self.variant is not None and self.variant not in VARIANTS:
            raise ValueError(f"variant {self.variant!r} is not one of {', '.join(VARIANTS)}")
        if self.threads is not None and self.threads < 1:
            raise ValueError("threads must be at least 1")
        if not 0.0 <= self.neutral_below <= 1.0:
            raise ValueError("neutral_below is a probability between 0 and 1")
        if self.summary_preset not in PRESETS:
            raise ValueError(f"summary preset {self.summary_preset!r} is not one of {', '.join(PRESETS)}")
        for name in ("intent_uncertain_below", "sentiment_uncertain_below", "urgency_uncertain_below"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a probability between 0 and 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> RuntimeConfig:
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return env.get(ENV_PREFIX + name) or ""

        values: dict[str, Any] = {
            "profile": get("PROFILE") or None,
            "variant": get("VARIANT") or None,
            "threads": int(get("THREADS")) if get("THREADS") else None,
            "neutral_below": float(get("NEUTRAL_BELOW")) if get("NEUTRAL_BELOW") else None,
            "summary_min_words": int(get("SUMMARY_MIN_WORDS")) if get("SUMMARY_MIN_WORDS") else None,
            "summary_preset": get("SUMMARY_PRESET") or None,
            "summary_max_new_tokens": int(get("SUMMARY_MAX_NEW_TOKENS")) if get("SUMMARY_MAX_NEW_TOKENS") else None,
            "summary_num_beams": int(get("SUMMARY_NUM_BEAMS")) if get("SUMMARY_NUM_BEAMS") else None,
            "intents_path": Path(get("INTENTS")) if get("INTENTS") else None,
            "urgency_path": Path(get("URGENCY")) if get("URGENCY") else None,
            **{f"{label}_uncertain_below": float(value) for label in ("intent", "sentiment", "urgency")
               if (value := get(f"{label.upper()}_UNCERTAIN_BELOW"))},
        }
        config = cls(**{k: v for k, v in values.items() if v is not None})
        return replace(config, **overrides) if overrides else config
