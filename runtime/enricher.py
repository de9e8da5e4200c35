"""The engine: load the artifacts once, enrich tickets in batches.

    enricher = Enricher.from_artifacts("artifacts")
    [result] = enricher.enrich([{"ticket_id": "T-1", "subject": "...", "body": "..."}])
    result.intent.label, result.urgency.level, result.sentiment.label, result.summary

The profile (runtime/profiles.py) loads its models and is the list of its stages
(runtime/stages.py: embed, sentences, domain, sentiment, intent, urgency, summary); this module
loads what every profile shares (the heads, the out-of-domain and urgency models, refitted at
start-up when the artifacts' do not fit), runs the stages over each batch, times them and
assembles who produced what from the stages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from runtime.classify import SequenceClassifier
from runtime.config import RuntimeConfig
from runtime.cpu import detect_cpu_features, select_variant
from runtime.domain import DomainModel
from runtime.errors import RuntimeArtifactError
from runtime.fitting import URGENCY_EXAMPLES, fit_taxonomy_head, fit_urgency_model
from runtime.heads import EmbeddingHead, load_taxonomy
from runtime.manifest import FileEntry, Manifest, load_manifest, verify_files
from runtime.presets import SummaryPreset
from runtime.profiles import PROFILES
from runtime.result import Enrichment
from runtime.session import SessionSettings, available_cpus
from runtime.stages import MODELS, TIMINGS, Batch, need
from runtime.ticket import Ticket, as_ticket
from runtime.urgency import load_rules
from runtime.urgency_model import UrgencyModel

log = logging.getLogger("ticket_enrich.runtime")
INTENT_NEEDS = ("embed", "domain", "intent")  # the stages an intent is computed from


class Enricher:
    def __init__(self, root: Path, manifest: Manifest, config: RuntimeConfig, variant: str,
                 settings: SessionSettings):
        self.root = root
        self.manifest = manifest
        self.config = config
        self.variant = variant
        self.settings = settings
        self.profile = config.profile or manifest.profile
        exported, chosen = PROFILES[manifest.profile], PROFILES[self.profile]
        lacking = [role for role in chosen.roles if role not in exported.roles]
        if lacking:
            raise RuntimeArtifactError(
                f"profile {self.profile!r} was asked for but these artifacts were exported with the {exported.name} "
                f"profile ({exported.about}); re-run the export with the {' and '.join(lacking)} models, or use "
                f"--profile {exported.name}")
        profile = chosen(root, manifest, variant, settings, config)  # loads its models
        self.embedder = profile.embedder
        self.sentiment_model: SequenceClassifier | None = profile.sentiment_model
        self.summarizer = profile.summarizer
        self.summary_preset: SummaryPreset | None = profile.summary_preset
        self.rules = load_rules(config.urgency_path)
        self.intent_head, self.intent_note = self._head("intent_head", config.intents_path)
        # offline: the sentiment; full: whether the ticket is NEUTRAL (runtime.classify.polar_or_neutral);
        # in both profiles its three-way probabilities are one of the urgency model's inputs.
        self.sentiment_head, self.sentiment_note = self._head("sentiment_head", config.sentiment_examples_path)
        self.vocabulary = self.embedder.vocabulary()
        self.domain, self.domain_note = self._domain()
        self.urgency_model, self.urgency_note = self._urgency()
        self.stages = profile.stages(self)
        found = {name: info for stage in self.stages for name, info in stage.provenance().items()}
        self.models = {name: found[name] for name in (*MODELS, *found) if name in found}
        self.stand_in_fields = tuple(
            sorted(field for field, info in self.models.items() if info.get("stand_in"))
        )
        log.info("profile %s: %s", self.profile, ", ".join(f"{k}={v['model']}" for k, v in self.models.items()))
        if self.stand_in_fields:
            log.warning("stand-in weights (random, not meaningful) produce: %s", ", ".join(self.stand_in_fields))

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_artifacts(cls, path: str | Path, config: RuntimeConfig | None = None, **overrides: Any) -> Enricher:
        """Read and verify the manifest, pick the CPU variant, load the models of the profile."""
        root = Path(path)
        config = config or RuntimeConfig.from_env(**overrides)
        manifest = load_manifest(root)
        profile = config.profile or manifest.profile
        roles = PROFILES[profile].roles
        missing = [role for role in roles if role not in manifest.models]
        if missing:
            raise RuntimeArtifactError(f"the manifest has no {', '.join(missing)} model for profile {profile!r}")
        common = set.intersection(*(set(manifest.models[r].variants) for r in roles))
        variant = select_variant(detect_cpu_features(), sorted(common), config.variant)
        log.info("variant %s (available: %s)", variant, ", ".join(sorted(common)))
        settings = SessionSettings(threads=config.threads or available_cpus())
        if config.verify_hashes:
            needed: list[FileEntry] = list(manifest.extras.values())
            for role in roles:
                entry = manifest.models[role]
                needed.append(entry.tokenizer)
                needed.extend(entry.variants[variant].files.values())
            verify_files(root, needed, workers=settings.threads)
        return cls(root, manifest, config, variant, settings)

    def _extra(self, name: str) -> str | None:
        entry = self.manifest.extras.get(name)
        return None if entry is None else (self.root / entry.path).read_text(encoding="utf-8")

    def _head(self, extra: str, taxonomy_path: Path) -> tuple[EmbeddingHead, str | None]:
        """The artifacts' head if it was fitted from this taxonomy, or fitted by `ticket-enrich fit`
        on a team's own labels (used as it is); else refitted from the taxonomy, loudly."""
        stored = self._extra(extra)
        head = EmbeddingHead.from_json(stored) if stored is not None else None
        if head is not None and head.origin.get("kind") == "fit":
            return head, None
        taxonomy = load_taxonomy(taxonomy_path)
        if head is not None and head.taxonomy_sha256 == taxonomy.sha256:
            return head, None
        note = f"fitted at start-up from {taxonomy_path} (the artifacts' head was built from other examples)"
        log.warning("%s head %s", extra, note)
        return fit_taxonomy_head(self.embedder.embed, taxonomy), note

    def _domain(self) -> tuple[DomainModel | None, str | None]:
        stored = self._extra("domain_model")
        if stored is None:
            note = ("these artifacts have no out-of-domain model (re-run the export): confidence is not lowered "
                    "for content-free, off-topic or non-English text")
            log.warning(note)
            return None, note
        return DomainModel.from_json(stored), None

    def _urgency(self) -> tuple[UrgencyModel, str | None]:
        """The artifacts' urgency model if it was fitted with these rules and heads' label sets;
        else refitted at start-up from the shipped example tickets, loudly."""
        stored = self._extra("urgency_model")
        model = UrgencyModel.from_json(stored) if stored is not None else None
        if model is not None and model.fits(self.rules, self.intent_head.labels, self.sentiment_head.labels):
            return model, None
        if model is not None and model.origin.get("kind") == "fit":
            raise RuntimeArtifactError(
                "the urgency model fitted by `ticket-enrich fit` does not match these urgency rules or these intent "
                "and sentiment heads' labels; re-run `ticket-enrich fit` with the rules and heads you serve")
        reason = "the artifacts have none" if model is None else "its rules or label sets differ from these"
        note = f"fitted at start-up from {URGENCY_EXAMPLES.name} ({reason})"
        log.warning("urgency model %s", note)
        return fit_urgency_model(self.embedder.embed, self.rules, self.intent_head, self.sentiment_head), note

    # ---- the stages -----------------------------------------------------------------------
    def embed(self, items: Iterable[str | Ticket | Mapping[str, Any]]) -> np.ndarray:
        """Unit-length embeddings, one row per text or ticket."""
        texts = [item if isinstance(item, str) else as_ticket(item).text for item in items]
        return self.embedder.embed(texts)

    def classify_intent(self, item: str | Ticket | Mapping[str, Any]) -> tuple[str, float]:
        """The intent of one text or ticket: the stages it needs (embed, domain, intent) only."""
        text = item if isinstance(item, str) else as_ticket(item).text
        batch = Batch([text], [None])
        for stage in self.stages:
            if stage.name in INTENT_NEEDS:
                stage.run(batch)
        [intent] = need(batch.intents, "intents")
        return intent.label, intent.confidence

    def enrich(self, items: Iterable[Ticket | Mapping[str, Any]]) -> list[Enrichment]:
        """Enrich a batch (one ticket is a batch of one). Raises TicketRejected for a mapping
        that is not a ticket; validate untrusted input with ticket_schema first."""
        tickets = [as_ticket(item) for item in items]
        if not tickets:
            return []
        batch = Batch([t.text for t in tickets], [t.priority for t in tickets])
        timings = dict.fromkeys(TIMINGS, 0.0)  # the same keys in every profile
        for stage in self.stages:
            start = time.perf_counter()
            stage.run(batch)
            timings[stage.name] = timings.get(stage.name, 0.0) + (time.perf_counter() - start) * 1000.0
        share = {stage: round(ms / len(tickets), 3) for stage, ms in timings.items()}
        share["total"] = round(sum(timings.values()) / len(tickets), 3)
        vectors, in_domain = need(batch.vectors, "embeddings"), need(batch.in_domain, "out-of-domain scores")
        sentiments, intents = need(batch.sentiments, "sentiments"), need(batch.intents, "intents")
        urgencies, summaries = need(batch.urgencies, "urgencies"), need(batch.summaries, "summaries")
        kinds, presets = need(batch.summary_kinds, "summary kinds"), need(batch.summary_presets, "summary presets")
        return [
            Enrichment(
                ticket_id=t.ticket_id,
                embedding=vectors[i],
                sentiment=sentiments[i],
                intent=intents[i],
                urgency=urgencies[i],
                summary=summaries[i],
                summary_kind=kinds[i],
                profile=self.profile,
                models=self.models,
                timings_ms=share,
                batch_size=len(tickets),
                stand_in_fields=self.stand_in_fields,
                summary_preset=presets[i],
                in_domain=float(in_domain[i]),
            )
            for i, t in enumerate(tickets)
        ]

    def describe(self) -> dict[str, Any]:
        return {"profile": self.profile, "variant": self.variant, "threads": self.settings.threads,
                "summary_preset": self.summary_preset.name if self.summary_preset else None,
                "artifacts": str(self.root), "models": self.models, "stand_in_fields": list(self.stand_in_fields)}
