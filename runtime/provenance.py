"""Who produced each field of an enrichment: the `models` block every record carries. Each stage
(runtime/stages.py) describes its own field with these helpers; the Enricher assembles them."""

from __future__ import annotations

import hashlib
from typing import Any

from runtime.heads import EmbeddingHead
from runtime.manifest import Manifest, ModelEntry


def artifact_hash(entry: ModelEntry, variant: str) -> str:
    """The variant's one file's sha256; of its files' digests, by role, when it has several."""
    files = entry.variants[variant].files
    if len(files) == 1:
        return next(iter(files.values())).sha256
    joined = "\n".join(f"{role}:{files[role].sha256}" for role in sorted(files))
    return hashlib.sha256(joined.encode()).hexdigest()


class Provenance:
    def __init__(self, manifest: Manifest, variant: str):
        self.manifest = manifest
        self.variant = variant
        self.embedding = manifest.models["embedding"]  # what every head and extra reads

    def model(self, entry: ModelEntry) -> dict[str, Any]:
        """A model of the manifest, run as it is."""
        return {"model": entry.name, "variant": self.variant, "artifact_sha256": artifact_hash(entry, self.variant),
                "stand_in": entry.source.stand_in}

    def embedding_derived(self, model: str) -> dict[str, Any]:
        """Computed from the embedding model's outputs alone (the extractive summary)."""
        emb = self.embedding
        return {"model": model, "variant": self.variant, "artifact_sha256": artifact_hash(emb, self.variant),
                "stand_in": emb.source.stand_in}

    def head(self, kind: str, extra: str, head: EmbeddingHead, note: str | None) -> dict[str, Any]:
        """A head on the embeddings; `note` says why it was fitted at start-up (no head file then)."""
        emb, entry = self.embedding, self.manifest.extras.get(extra)
        info = {"model": f"{emb.name} + {kind} head", "variant": self.variant,
                "artifact_sha256": artifact_hash(emb, self.variant),
                "head_sha256": None if note else (entry.sha256 if entry else None),
                "taxonomy_sha256": head.taxonomy_sha256, "origin": head.origin, "stand_in": emb.source.stand_in}
        if note:
            info["note"] = note
        return info

    def extra(self, model: str, extra: str, note: str | None, **more: Any) -> dict[str, Any]:
        """Another model fitted on the embeddings (out-of-domain, urgency), from the manifest's extras."""
        emb, entry = self.embedding, self.manifest.extras.get(extra)
        info = {"model": model, "variant": self.variant, "artifact_sha256": artifact_hash(emb, self.variant),
                "head_sha256": None if note or entry is None else entry.sha256, **more,
                "stand_in": emb.source.stand_in}
        if note:
            info["note"] = note
        return info
