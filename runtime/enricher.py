"""The engine: load the artifacts once, enrich tickets in batches.

    enricher = Enricher.from_artifacts("artifacts")
    [result] = enricher.enrich([{"ticket_id": "T-1", "subject": "...", "body": "..."}])
    result.intent.label, result.urgency.level, result.sentiment.label, result.summary

Each stage is its own object (Embedder, SequenceClassifier, EmbeddingHead, DomainModel,
UrgencyRules + UrgencyModel, Summarizer); this module only wires them, times them, flags the
labels whose confidence is below the configured thresholds and records who produced what.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from runtime.classify import Sentiment, SequenceClassifier, polar_or_neutral, sentiment_from_probs
from runtime.confidence import finish, pooled_sentiment
from runtime.config import RuntimeConfig
from runtime.cpu import detect_cpu_features, select_variant
from runtime.domain import DomainModel, towards_uniform
from runtime.embed import Embedder
from runtime.errors import RuntimeArtifactError
from runtime.extractive import Sentences, embed_sentences, pick_central
from runtime.fitting import URGENCY_EXAMPLES, fit_taxonomy_head, fit_urgency_model
from runtime.heads import EmbeddingHead, load_taxonomy
from runtime.manifest import FileEntry, Manifest, ModelEntry, load_manifest, verify_files
from runtime.presets import SummaryPreset, fit_to_ticket, summary_preset
from runtime.result import Enrichment, Intent
from runtime.session import SessionSettings, available_cpus
from runtime.ticket import Ticket, as_ticket
from runtime.urgency import Urgency, load_rules
from runtime.urgency_model import UrgencyEvidence, UrgencyModel

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
        # offline: the sentiment; full: whether the ticket is NEUTRAL (runtime.classify.polar_or_neutral);
        # in both profiles its three-way probabilities are one of the urgency model's inputs.
        self.sentiment_head, self.sentiment_note = self._head("sentiment_head", config.sentiment_examples_path)
        self.vocabulary = self.embedder.vocabulary()
        self.domain, self.domain_note = self._domain()
        self.urgency_model, self.urgency_note = self._urgency()
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
                    "taxonomy_sha256": head.taxonomy_sha256, "origin": head.origin, "stand_in": emb.source.stand_in}
            if note:
                info["note"] = note
            return info

        def extra_info(model: str, extra: str, note: str | None, **more: Any) -> dict[str, Any]:
            entry = self.manifest.extras.get(extra)
            info = {"model": model, "variant": self.variant, "artifact_sha256": _artifact_hash(emb, self.variant),
                    "head_sha256": None if note or entry is None else entry.sha256, **more,
                    "stand_in": emb.source.stand_in}
            if note:
                info["note"] = note
            return info

        urgency = extra_info(f"urgency model ({emb.name} + rule signals, stated priority, sentiment, intent)",
                             "urgency_model", self.urgency_note, rules_sha256=self.rules.sha256,
                             examples_sha256=self.urgency_model.examples_sha256, origin=self.urgency_model.origin)
        models = {"embedding": model_info(emb),
                  "intent": head_info("intent", "intent_head", self.intent_head, self.intent_note),
                  "urgency": urgency,
                  "domain": extra_info(f"out-of-domain model ({emb.name} nearest examples + English evidence)",
                                       "domain_model", self.domain_note)}
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
        text = item if isinstance(item, str) else as_ticket(item).text
        vectors = self.embedder.embed([text])
        [intent] = self._intents(self._intent_probs([text], vectors, self._in_domain([text], vectors)))
        return intent.label, intent.confidence

    def _in_domain(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        if self.domain is None:
            return np.ones(len(texts))
        return self.domain.scores(texts, vectors, self.vocabulary)

    def _intent_probs(self, texts: list[str], vectors: np.ndarray, in_domain: np.ndarray) -> np.ndarray:
        head = self.intent_head
        return finish(head.probabilities(vectors, texts), head.pipeline_temperature, in_domain)

    def _intents(self, probs: np.ndarray) -> list[Intent]:
        threshold = self.config.intent_uncertain_below
        return [Intent(self.intent_head.labels[int(row.argmax())], float(row.max()), bool(row.max() < threshold))
                for row in probs]

    def _sentences(self, texts: list[str]) -> Sentences | None:
        """Offline profile: every ticket's sentences and their embeddings, shared by the
        sentence-level sentiment and the extractive summary."""
        if self.profile == "full":
            return None
        return embed_sentences(texts, self.embedder.embed)

    def _sentiments(self, texts: list[str], vectors: np.ndarray, sentences: Sentences | None,
                    in_domain: np.ndarray) -> tuple[np.ndarray, list[Sentiment]]:
        """The offline head's three-way probabilities of the whole texts (an urgency input in both
        profiles) and the sentiment each enrichment reports."""
        raw = self.sentiment_head.probabilities(vectors, texts)
        whole = towards_uniform(raw, in_domain)
        if self.sentiment_model is not None:
            probs = self.sentiment_model.probabilities(texts)
            found = polar_or_neutral(probs, self.sentiment_model.labels, raw, self.sentiment_head.labels,
                                     self.config.neutral_below)
            # the reported score is pulled towards 1/3 as the other labels' probabilities are
            scores = [float(d * s.score + (1.0 - d) / 3.0) for s, d in zip(found, in_domain, strict=True)]
        else:
            head = self.sentiment_head
            assert sentences is not None  # the offline profile always splits the tickets into sentences
            probs = finish(pooled_sentiment(head, texts, vectors, sentences, self.embedder.embed),
                           head.pipeline_temperature, in_domain)
            found = sentiment_from_probs(probs, head.labels, 0.0)
            scores = [s.score for s in found]
        threshold = self.config.sentiment_uncertain_below
        return whole, [replace(s, score=float(score), uncertain=bool(score < threshold))
                       for s, score in zip(found, scores, strict=True)]

    def _urgencies(self, tickets: list[Ticket], texts: list[str], vectors: np.ndarray, intent_probs: np.ndarray,
                   sentiment_probs: np.ndarray, in_domain: np.ndarray) -> list[Urgency]:
        evidence = UrgencyEvidence(texts, vectors, [t.priority for t in tickets], intent_probs, sentiment_probs)
        threshold = self.config.urgency_uncertain_below
        return [replace(u, uncertain=bool(u.confidence < threshold))
                for u in self.urgency_model.assess(self.rules, evidence, in_domain)]

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
        in_domain = timed("domain", self._in_domain, texts, vectors)
        sentiment_probs, sentiments = timed("sentiment", self._sentiments, texts, vectors, sentences, in_domain)
        intent_probs = timed("intent", self._intent_probs, texts, vectors, in_domain)
        intents = self._intents(intent_probs)
        urgencies = timed("urgency", self._urgencies, tickets, texts, vectors, intent_probs, sentiment_probs, in_domain)
        summaries, kinds = timed("summary", self._summaries, texts, vectors, sentences)
        share = {stage: round(ms / len(tickets), 3) for stage, ms in timings.items()}
        share["total"] = round(sum(timings.values()) / len(tickets), 3)
        preset = self.summary_preset.name if self.summary_preset else None
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
                summary_preset=preset if kinds[i] == "abstractive" else None,
                in_domain=float(in_domain[i]),
            )
            for i, t in enumerate(tickets)
        ]

    def describe(self) -> dict[str, Any]:
        return {"profile": self.profile, "variant": self.variant, "threads": self.settings.threads,
                "summary_preset": self.summary_preset.name if self.summary_preset else None,
                "artifacts": str(self.root), "models": self.models, "stand_in_fields": list(self.stand_in_fields)}
