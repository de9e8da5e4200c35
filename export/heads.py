"""Fit the embedding-space heads (intent; sentiment for the offline profile) at export time,
so that a worker starts without embedding hundreds of examples."""

from __future__ import annotations

from pathlib import Path

from runtime.config import DATA_DIR
from runtime.embed import Embedder
from runtime.heads import fit_head, load_taxonomy
from runtime.manifest import FileEntry, ModelEntry, file_entry
from runtime.session import SessionSettings, available_cpus

# extras key -> the taxonomy file it is fitted from
HEADS = {
    "intent_head": DATA_DIR / "intents.json",
    "sentiment_head": DATA_DIR / "sentiment.json",
}


def build_heads(out_dir: Path, manifest_models: dict[str, ModelEntry]) -> dict[str, FileEntry]:
    """Embed every taxonomy example with the fp32 embedding model and fit one head per file.

    Heads are fitted on fp32 embeddings; the int8 variants stay within cosine 0.99 of them
    (the export's parity gate), which moves no decision boundary that matters.
    """
    out_dir = Path(out_dir)
    embedder = Embedder.load(out_dir, manifest_models["embedding"], "fp32", SessionSettings(threads=available_cpus()))
    heads_dir = out_dir / "heads"
    heads_dir.mkdir(parents=True, exist_ok=True)
    entries = {}
    for name, taxonomy_path in HEADS.items():
        taxonomy = load_taxonomy(taxonomy_path)
        texts, targets = taxonomy.training_set()
        head = fit_head(embedder.embed(texts), targets, taxonomy)
        path = heads_dir / f"{name.removesuffix('_head')}.json"
        path.write_text(head.to_json(), encoding="utf-8")
        entries[name] = file_entry(out_dir, path)
        print(f"  {name}: {len(texts)} examples, {len(taxonomy.labels)} labels, {head.fit_report}", flush=True)
    return entries
