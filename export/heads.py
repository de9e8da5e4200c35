"""Fit the embedding-space models at export time (intent and sentiment heads, the out-of-domain
model, the urgency model), so that a worker starts without embedding hundreds of examples."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from runtime.config import DATA_DIR
from runtime.embed import Embedder
from runtime.fitting import (
    OUT_OF_DOMAIN,
    URGENCY_EXAMPLES,
    calibrate_heads,
    cross_fit_taxonomy_head,
    fit_domain_model,
    fit_urgency_model,
    read_urgency_examples,
)
from runtime.heads import load_taxonomy
from runtime.manifest import FileEntry, ModelEntry, file_entry
from runtime.session import SessionSettings, available_cpus
from runtime.urgency import load_rules

# extras key -> the taxonomy file it is fitted from
HEADS = {
    "intent_head": DATA_DIR / "intents.json",
    "sentiment_head": DATA_DIR / "sentiment.json",
}


# Bump when the fitting changes what it writes: the export then refits instead of calling old heads current.
FITTING_VERSION = 4


def data_fingerprint() -> str:
    """One sha256 over every data file the export fits from, and the fitting's version."""
    digest = hashlib.sha256(f"fitting v{FITTING_VERSION}".encode())
    for path in (*HEADS.values(), DATA_DIR / "urgency.json", URGENCY_EXAMPLES, OUT_OF_DOMAIN):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def memoised(embed: Callable[[list[str]], np.ndarray]) -> Callable[[list[str]], np.ndarray]:
    """Embed each distinct text once (the domain model re-reads every training text)."""
    cache: dict[str, np.ndarray] = {}

    def run(texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            cache.update(zip(missing, embed(missing), strict=True))
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 0), np.float32)

    return run


def build_heads(out_dir: Path, manifest_models: dict[str, ModelEntry]) -> dict[str, FileEntry]:
    """Embed every example with the fp32 embedding model and fit the models.

    They are fitted on fp32 embeddings; the int8 variants stay within cosine 0.99 of them (the
    export's parity gate), which moves no decision boundary that matters.
    """
    out_dir = Path(out_dir)
    embedder = Embedder.load(out_dir, manifest_models["embedding"], "fp32", SessionSettings(threads=available_cpus()))
    embed = memoised(embedder.embed)
    heads_dir = out_dir / "heads"
    heads_dir.mkdir(parents=True, exist_ok=True)
    entries: dict[str, FileEntry] = {}
    examples = read_urgency_examples()
    fits = {}
    in_domain: list[str] = []
    for name, taxonomy_path in HEADS.items():
        taxonomy = load_taxonomy(taxonomy_path)
        fits[name] = fitted = cross_fit_taxonomy_head(embed, taxonomy, examples)
        if name == "intent_head":  # the sentiment examples hold short replies ("ok, noted") on purpose
            in_domain += taxonomy.training_set()[0]
        print(f"  {name}: {len(taxonomy.labels)} labels, {len(fitted.rows)} example tickets, "
              f"{fitted.fit.head.fit_report}", flush=True)
    urgency = fit_urgency_model(embed, load_rules(DATA_DIR / "urgency.json"), fits["intent_head"].fit.head,
                                fits["sentiment_head"].fit.head)
    entries["urgency_model"] = _write(out_dir, heads_dir / "urgency.json", urgency.to_json())
    print(f"  urgency_model: {urgency.fit_report}", flush=True)
    vocabulary = embedder.vocabulary()
    domain = fit_domain_model(embed, vocabulary, in_domain)
    entries["domain_model"] = _write(out_dir, heads_dir / "domain.json", domain.to_json())
    print(f"  domain_model: {domain.fit_report}", flush=True)
    # the example tickets calibrate both heads, each ticket read by a fold head that did not see it
    calibrated = calibrate_heads(embed, vocabulary, domain, fits["intent_head"], fits["sentiment_head"], examples)
    for name, head in zip(HEADS, calibrated, strict=True):
        entries[name] = _write(out_dir, heads_dir / f"{name.removesuffix('_head')}.json", head.to_json())
        print(f"  {name}: pipeline temperature {head.pipeline_temperature:.3f} "
              f"(on {head.fit_report.get('calibration_tickets')} example tickets)", flush=True)
    return entries


def _write(root: Path, path: Path, text: str) -> FileEntry:
    path.write_text(text, encoding="utf-8")
    return file_entry(root, path)
