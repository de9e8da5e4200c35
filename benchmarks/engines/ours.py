"""Our runtime, per stage (Embedder, SequenceClassifier, Summarizer) and end to end (Enricher), for
fp32 and every int8 variant this CPU can run."""

from __future__ import annotations

from benchmarks.engines import Engine, loaded
from benchmarks.models import Models, Variant


def _settings(threads: int):
    from runtime.session import SessionSettings

    return SessionSettings(threads=threads)


def embedder(models: Models, variant: Variant, threads: int) -> Engine:
    from runtime.embed import Embedder

    entry = models.entry("embedding")
    return loaded(f"ours-{variant.name}", "ours", f"runtime Embedder, {variant.label}",
                  lambda: Embedder.load(models.root, entry, variant.name, _settings(threads)).embed)


def classifier(models: Models, variant: Variant, threads: int) -> Engine:
    from runtime.classify import SequenceClassifier

    entry = models.entry("sentiment")
    return loaded(f"ours-{variant.name}", "ours", f"runtime SequenceClassifier, {variant.label}",
                  lambda: SequenceClassifier.load(models.root, entry, variant.name, _settings(threads)).probabilities)


def summarizer(models: Models, variant: Variant, threads: int, new_tokens: int, beams: int = 1) -> Engine:
    from runtime.summarize import GenerationConfig, Summarizer

    entry = models.entry("summary")

    def build():
        summarizer = Summarizer.load(models.root, entry, variant.name, _settings(threads))
        config = GenerationConfig.from_entry(entry, num_beams=beams, max_new_tokens=new_tokens,
                                             min_new_tokens=new_tokens)

        def run(texts: list[str]) -> list[list[int]]:
            ids = summarizer.generate(texts, config)
            summarizer.tokenizer.decode_batch(ids, skip_special_tokens=True)
            return [row[1:] for row in ids]

        return run

    return loaded(f"ours-{variant.name}", "ours", f"runtime Summarizer, {variant.label}, beams={beams}", build)


def enricher(models: Models, variant: Variant, threads: int, new_tokens: int) -> Engine:
    """The whole Enricher (embedding, sentiment, intent head, urgency rules, summary of every ticket)."""
    from runtime import Enricher, RuntimeConfig

    config = RuntimeConfig(profile="full", variant=variant.name, threads=threads, summary_num_beams=1,
                           summary_max_new_tokens=new_tokens, summary_min_words=0)
    return loaded(f"ours-{variant.name}", "ours", f"runtime Enricher, full profile, {variant.label}",
                  lambda: Enricher.from_artifacts(models.root, config).enrich)


def full_budget(config):
    """`config` with its minimum length raised to its maximum: every summary runs to the default's
    full token budget. Stand-in weights rarely stop early, real weights do: forcing the budget
    measures the worst case the default allows, the same on every run and engine."""
    from dataclasses import replace

    if config.max_new_tokens is not None:
        return replace(config, min_new_tokens=config.max_new_tokens)
    return replace(config, min_length=config.max_length, min_new_tokens=None)


def default_enricher(models: Models, variant: Variant, threads: int) -> Engine:
    """The Enricher as a user builds it, `RuntimeConfig()`'s defaults (only the variant and the
    benchmark's threads set), summaries forced to the default's full token budget."""
    from runtime import Enricher, RuntimeConfig

    def build():
        enricher = Enricher.from_artifacts(models.root, RuntimeConfig(variant=variant.name, threads=threads))
        enricher.generation = full_budget(enricher.generation)
        return enricher.enrich

    return loaded(f"ours-{variant.name}", "ours", f"runtime Enricher, RuntimeConfig() defaults, {variant.label}",
                  build)
