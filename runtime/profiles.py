"""A profile is the models it loads and the list of its stages (runtime/stages.py), chosen once
when the Enricher starts; `enrich` runs the stages in order and knows no profile.

    full     embed, domain, sentiment (SST-2 + the MiniLM head's NEUTRAL), intent, urgency,
             summary (DistilBART)
    offline  embed, sentences, domain, sentiment (the MiniLM head on the ticket and its
             sentences), intent, urgency, summary (extractive)

Adding a profile is one class here and its name in PROFILES (and in runtime.manifest.PROFILES,
which the export and the config validate against).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar, Protocol

from runtime.classify import SequenceClassifier
from runtime.config import RuntimeConfig
from runtime.domain import DomainModel
from runtime.embed import Embedder
from runtime.generate import GenerationConfig
from runtime.heads import EmbeddingHead
from runtime.manifest import Manifest
from runtime.presets import SummaryPreset, summary_preset
from runtime.provenance import Provenance
from runtime.session import SessionSettings
from runtime.stages import (
    AbstractiveSummary,
    Domain,
    Embed,
    EmbedSentences,
    ExtractiveSummary,
    HeadSentiment,
    IntentStage,
    PolarSentiment,
    Stage,
    UrgencyStage,
)
from runtime.urgency import UrgencyRules
from runtime.urgency_model import UrgencyModel

if TYPE_CHECKING:
    from runtime.summarize import Summarizer


class Parts(Protocol):
    """What the stages are built from besides the profile's own models: the Enricher's heads,
    rules and models fitted on the embeddings (loaded, or refitted at start-up, once)."""

    config: RuntimeConfig
    vocabulary: frozenset[str]
    rules: UrgencyRules
    intent_head: EmbeddingHead
    intent_note: str | None
    sentiment_head: EmbeddingHead
    sentiment_note: str | None
    domain: DomainModel | None
    domain_note: str | None
    urgency_model: UrgencyModel
    urgency_note: str | None


class Profile(ABC):
    name: ClassVar[str]
    roles: ClassVar[tuple[str, ...]]  # the manifest models it runs
    about: ClassVar[str]  # in a word, for messages
    sentiment_model: SequenceClassifier | None = None
    summarizer: Summarizer | None = None
    summary_preset: SummaryPreset | None = None

    def __init__(self, root: Path, manifest: Manifest, variant: str, settings: SessionSettings,
                 config: RuntimeConfig):
        """Load the profile's models (the embedding model here; the others in subclasses)."""
        self.manifest, self.variant = manifest, variant
        self.embedder = Embedder.load(root, manifest.models["embedding"], variant, settings)

    def common(self, parts: Parts, provenance: Provenance) -> tuple[Embed, Domain, IntentStage, UrgencyStage]:
        return (Embed(self.embedder, provenance),
                Domain(parts.domain, parts.domain_note, parts.vocabulary, provenance),
                IntentStage(parts.intent_head, parts.intent_note, parts.config, provenance),
                UrgencyStage(parts.urgency_model, parts.rules, parts.urgency_note, parts.config, provenance))

    @abstractmethod
    def stages(self, parts: Parts) -> list[Stage]:
        """The stages, in the order they run."""


class Full(Profile):
    name = "full"
    roles = ("embedding", "sentiment", "summary")
    about = "all three models"
    sentiment_model: SequenceClassifier
    summarizer: Summarizer
    summary_preset: SummaryPreset

    def __init__(self, root: Path, manifest: Manifest, variant: str, settings: SessionSettings,
                 config: RuntimeConfig):
        from runtime.summarize import Summarizer

        entry = manifest.models["summary"]
        # onnxruntime builds sessions without the GIL: the three models load side by side
        # (measured: 0.50 -> 0.40 s for the four int8 sessions on 2 cores).
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="load") as pool:
            summarizer = pool.submit(Summarizer.load, root, entry, variant, settings)
            sentiment = pool.submit(SequenceClassifier.load, root, manifest.models["sentiment"], variant, settings)
            super().__init__(root, manifest, variant, settings, config)  # the embedding model, meanwhile
            self.summarizer, self.sentiment_model = summarizer.result(), sentiment.result()
        self.summary_preset = summary_preset(config.summary_preset, GenerationConfig.from_entry(entry),
                                             config.summary_num_beams, config.summary_max_new_tokens)

    def stages(self, parts: Parts) -> list[Stage]:
        provenance = Provenance(self.manifest, self.variant)
        embed, domain, intent, urgency = self.common(parts, provenance)
        sentiment = PolarSentiment(self.sentiment_model, parts.sentiment_head, parts.sentiment_note, parts.config,
                                   provenance)
        summary = AbstractiveSummary(self.summarizer, self.summary_preset, parts.config, provenance)
        return [embed, domain, sentiment, intent, urgency, summary]


class Offline(Profile):
    name = "offline"
    roles = ("embedding",)
    about = "MiniLM only"

    def stages(self, parts: Parts) -> list[Stage]:
        provenance = Provenance(self.manifest, self.variant)
        embed, domain, intent, urgency = self.common(parts, provenance)
        sentences = EmbedSentences(self.embedder)
        sentiment = HeadSentiment(parts.sentiment_head, parts.sentiment_note, self.embedder, parts.config, provenance)
        return [embed, sentences, domain, sentiment, intent, urgency, ExtractiveSummary(parts.config, provenance)]


PROFILES: Mapping[str, type[Profile]] = MappingProxyType({profile.name: profile for profile in (Full, Offline)})
