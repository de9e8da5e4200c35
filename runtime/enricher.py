"""The engine: load the artifacts once, enrich tickets in batches.

    enricher = Enricher.from_artifacts("artifacts")
    [result] = enricher.enrich([{"ticket_id": "T-1", "subject": "...", "body": "..."}])
    result.intent.label, result.urgency.level, result.sentiment.label, result.summary

Each stage is its own object (Embedder, SequenceClassifier, EmbeddingHead, UrgencyRules,
Summarizer); this module only wires them, times them and records who produced what.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from runtime.classify import (
    Sentiment,
    SequenceClassifier,
    combine_sentence_probs,
    polar_or_neutral,
    sentiment_from_probs,
)
from runtime.config import RuntimeConfig
from runtime.cpu import detect_cpu_features, select_variant
from runtime.embed import Embedder
from runtime.errors import RuntimeArtifactError
from runtime.extractive import Sentences, embed_sentences, pick_central
from runtime.heads import EmbeddingHead, fit_head, load_taxonomy
from runtime.manifest import FileEntry, Manifest, ModelEntry, load_manifest, verify_files
from runtime.presets import SummaryPreset, fit_to_ticket, summary_preset
from runtime.result import Enrichment, Intent
from runtime.session import SessionSettings, available_cpus
from runtime.ticket import Ticket, as_ticket
from runtime.urgency import load_rules

log = logging.getLogger("ticket_enrich.runtime")
T = TypeVar("T")


def _artifact_hash(entry: ModelEntry, variant: str) -> str:
    files = entry.variants[variant].files
    if len(files) == 1:
        return next(iter(files.values())).sha256
    joined = "\n".join(f"{role}:{files[role].sha256}" for role in sorted(files))
    return hashlib.sha256(joined.encode()).hexdigest()


class Enricher:
    def __init__(self, root: Path, manifest: Manifest, config: RuntimeConfig, variant: str,
                 settings: SessionSettings):
        self.root = root
        self.manifest = manifest
        self.config = config
        self.variant = variant
        self.settings = settings
        self.profile = config.profile or manifest.profile
        if self.profile == "full" and manifest.profile != "full":
            raise RuntimeArtifactError(
                "profile 'full' was asked for but these artifacts were exported with the offline profile "
                "(MiniLM only); re-run the export with the sentiment and summary models, or use --profile offline"
            )
        self.embedding_entry = manifest.models["embedding"]
        self.models: dict[str, dict[str, Any]] = {}
        self.sentiment_model: SequenceClassifier | None = None
        self.summarizer = None
        self.summary_preset: SummaryPreset | None = None
        if self.profile == "full":
            from runtime.summarize import GenerationConfig, Summarizer

            entry = manifest.models["summary"]
            # onnxruntime builds sessions without the GIL: the three models load side by side
            # (measured: 0.50 -> 0.40 s for the four int8 sessions on 2 cores).
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="load") as pool:
                summarizer = pool.submit(Summarizer.load, root, entry, variant, settings)
                sentiment = pool.submit(SequenceClassifier.load, root, manifest.models["sentiment"], variant, settings)
                self.embedder = Embedder.load(root, self.embedding_entry, variant, settings)
                self.summarizer, self.sentiment_model = summarizer.result(), sentiment.result()
            self.summary_preset = summary_preset(config.summary_preset, GenerationConfig.from_entry(entry),
                                                 config.summary_num_beams, config.summary_max_new_tokens)
        else:
            self.embedder = Embedder.load(root, self.embedding_entry, variant, settings)
        self.rules = load_rules(config.urgency_path)
        self.intent_head, self.intent_note = self._head("intent_head", config.intents_path)
        # offline: the sentiment; full: whether the ticket is NEUTRAL (runtime.classify.polar_or_neutral)
        self.sentiment_head, self.sentiment_note = self._head("sentiment_head", config.sentiment_examples_path)
        self.models = self._provenance()
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
        roles = ("embedding",) if profile == "offline" else ("embedding", "sentiment", "summary")
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

    def _head(self, extra: str, taxonomy_path: Path) -> tuple[EmbeddingHead, str | None]:
        taxonomy = load_taxonomy(taxonomy_path)
        entry = self.manifest.extras.get(extra)
        if entry is not None:
            head = EmbeddingHead.from_json((self.root / entry.path).read_text(encoding="utf-8"))
            if head.taxonomy_sha256 == taxonomy.sha256:
                return head, None
        note = f"fitted at start-up from {taxonomy_path} (the artifacts' head was built from other examples)"
        log.warning("%s head %s", extra, note)
        texts, targets = taxonomy.training_set()
        return fit_head(self.embedder.embed(texts), targets, taxonomy), note

    def _provenance(self) -> dict[str, dict[str, Any]]:
        emb = self.embedding_entry

        def model_info(entry: ModelEntry) -> dict[str, Any]:
            return {"model": entry.name, "variant": self.variant, "artifact_sha256": _artifact_hash(entry, self.variant),
                    "stand_in": entry.source.stand_in}

        def head_info(kind: str, extra: str, head: EmbeddingHead, note: str | None) -> dict[str, Any]:
            entry = self.manifest.extras.get(extra)
            info = {"model": f"{emb.name} + {kind} head", "variant": self.variant,
                    "artifact_sha256": _artifact_hash(emb, self.variant),
                    "head_sha256": None if note else (entry.sha256 if entry else None),
                    "taxonomy_sha256": head.taxonomy_sha256, "stand_in": emb.source.stand_in}
            if note:
                info["note"] = note
            return info

        models = {"embedding": model_info(emb),
                  "intent": head_info("intent", "intent_head", self.intent_head, self.intent_note),
                  "urgency": {"model": "rules", "artifact_sha256": self.rules.sha256, "stand_in": None}}
        if self.profile == "full":
            models["sentiment"] = model_info(self.manifest.models["sentiment"]) | {"neutral": head_info(
                "sentiment", "sentiment_head", self.sentiment_head, self.sentiment_note)}
            models["summary"] = model_info(self.manifest.models["summary"])
        else:
            models["sentiment"] = head_info("sentiment", "sentiment_head", self.sentiment_head, self.sentiment_note)
            models["summary"] = {"model": f"extractive ({emb.name} sentence centrality)", "variant": self.variant,
                                 "artifact_sha256": _artifact_hash(emb, self.variant), "stand_in": emb.source.stand_in}
        return models

    # ---- the stages -----------------------------------------------------------------------
    def embed(self, items: Iterable[str | Ticket | Mapping[str, Any]]) -> np.ndarray:
        """Unit-length embeddings, one row per text or ticket."""
        texts = [item if isinstance(item, str) else as_ticket(item).text for item in items]
        return self.embedder.embed(texts)

    def classify_intent(self, item: str | Ticket | Mapping[str, Any]) -> tuple[str, float]:
        return self.intent_head.predict(self.embed([item]))[0]

    def _sentences(self, texts: list[str]) -> Sentences | None:
        """Offline profile: every ticket's sentences and their embeddings, shared by the
        sentence-level sentiment and the extractive summary."""
        if self.profile == "full":
            return None
        return embed_sentences(texts, self.embedder.embed)

    def _sentiments(self, texts: list[str], vectors: np.ndarray, sentences: Sentences | None) -> list[Sentiment]:
        if self.sentiment_model is not None:
            probs = self.sentiment_model.probabilities(texts)
            return polar_or_neutral(probs, self.sentiment_model.labels, self.sentiment_head.probabilities(vectors),
                                    self.sentiment_head.labels, self.config.neutral_below)
        head = self.sentiment_head
        assert sentences is not None  # the offline profile embeds them
        whole = head.probabilities(vectors)
        probs = np.stack([combine_sentence_probs(w, head.probabilities(block), head.labels)
                          for w, block in zip(whole, sentences[1], strict=True)])
        return sentiment_from_probs(probs, head.labels, 0.0)

    def _summaries(self, texts: list[str], vectors: np.ndarray,
                   sentences: Sentences | None) -> tuple[list[str], list[str]]:
        short_words = self.config.summary_min_words
        # Short by words and by characters (one 99,000-character "word" is not short).
        long = [i for i, text in enumerate(texts)
                if len(text.split()) >= short_words or len(text) > 12 * max(short_words, 1)]
        summaries, kinds = list(texts), ["original"] * len(texts)
        if not long:
            return summaries, kinds
        if self.summarizer is not None and (preset := self.summary_preset) is not None:
            made = [fit_to_ticket(summary, texts[i]) for i, summary in zip(long, self.summarizer.summarize(
                [texts[i] for i in long], preset.config, preset.budget), strict=True)]
            kind = "abstractive"
        else:
            assert sentences is not None  # the offline profile embeds them
            per_text, blocks = sentences
            made = [pick_central(per_text[i], blocks[i], vectors[i], self.config.extractive_sentences,
                                 self.config.extractive_max_words) for i in long]
            kind = "extractive"
        for i, summary in zip(long, made, strict=True):
            summaries[i], kinds[i] = summary, kind
        return summaries, kinds

    def enrich(self, items: Iterable[Ticket | Mapping[str, Any]]) -> list[Enrichment]:
        """Enrich a batch (one ticket is a batch of one). Raises TicketRejected for a mapping
        that is not a ticket; validate untrusted input with ticket_schema first."""
        tickets = [as_ticket(item) for item in items]
        if not tickets:
            return []
        texts = [t.text for t in tickets]
        timings: dict[str, float] = {}

        def timed(stage: str, fn: Callable[..., T], *args: Any) -> T:
            start = time.perf_counter()
            value = fn(*args)
            timings[stage] = (time.perf_counter() - start) * 1000.0
            return value

        vectors = timed("embed", self.embedder.embed, texts)
        sentences = timed("sentences", self._sentences, texts)
        sentiments = timed("sentiment", self._sentiments, texts, vectors, sentences)
        intents = timed("intent", self.intent_head.predict, vectors)
        urgencies = timed("urgency", lambda: [
            self.rules.assess(t.text, intent[0], (s.label, s.score), t.priority)
            for t, intent, s in zip(tickets, intents, sentiments, strict=True)
        ])
        summaries, kinds = timed("summary", self._summaries, texts, vectors, sentences)
        share = {stage: round(ms / len(tickets), 3) for stage, ms in timings.items()}
        share["total"] = round(sum(timings.values()) / len(tickets), 3)
        preset = self.summary_preset.name if self.summary_preset else None
        return [
            Enrichment(
                ticket_id=t.ticket_id,
                embedding=vectors[i],
                sentiment=sentiments[i],
                intent=Intent(*intents[i]),
                urgency=urgencies[i],
                summary=summaries[i],
                summary_kind=kinds[i],
                profile=self.profile,
                models=self.models,
                timings_ms=share,
                batch_size=len(tickets),
                stand_in_fields=self.stand_in_fields,
                summary_preset=preset if kinds[i] == "abstractive" else None,
            )
            for i, t in enumerate(tickets)
        ]

    def describe(self) -> dict[str, Any]:
        return {"profile": self.profile, "variant": self.variant, "threads": self.settings.threads,
                "summary_preset": self.summary_preset.name if self.summary_preset else None,
                "artifacts": str(self.root), "models": self.models, "stand_in_fields": list(self.stand_in_fields)}
