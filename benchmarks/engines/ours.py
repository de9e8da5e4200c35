"""Our runtime, per stage (Embedder, SequenceClassifier, Summarizer) and end to end (Enricher), for
fp32 and every int8 variant this CPU can run."""

from __future__ import annotations

from dataclasses import replace

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


def with_preset(enricher, preset) -> None:
    """Decode the Enricher's abstractive summaries with `preset` (a runtime.presets.SummaryPreset)."""
    from runtime.stages import AbstractiveSummary

    for stage in enricher.stages:
        if isinstance(stage, AbstractiveSummary):
            stage.preset, stage.preset_name = preset, preset.name
    enricher.summary_preset = preset


def enricher(models: Models, variant: Variant, threads: int, new_tokens: int) -> Engine:
    """The whole Enricher (embedding, sentiment, intent head, urgency, summary of every ticket),
    every summary exactly `new_tokens` greedy tokens as the peers make them (no per-ticket budget,
    no early EOS)."""
    from runtime import Enricher, RuntimeConfig
    from runtime.presets import SummaryPreset

    config = RuntimeConfig(profile="full", variant=variant.name, threads=threads, summary_min_words=0)

    def build():
        enricher = Enricher.from_artifacts(models.root, config)
        # the checkpoint's settings, greedy, exactly `new_tokens`: what the peers are asked for
        search = replace(enricher.summarizer.config, num_beams=1, max_new_tokens=new_tokens, min_new_tokens=new_tokens)
        with_preset(enricher, SummaryPreset(f"{new_tokens} greedy tokens", search))
        return enricher.enrich

    return loaded(f"ours-{variant.name}", "ours", f"runtime Enricher, full profile, {variant.label}", build)


def full_budget(preset):
    """`preset` (runtime.presets.SummaryPreset) with every summary run to its own full budget:
    EOS forbidden until the longest budget, so each row stops only at its own budget (where the
    forced EOS lands). Stand-in weights rarely stop early, real weights do: forcing the budget
    measures the worst case the preset allows, the same on every run and engine."""
    config = preset.config
    return replace(preset, config=replace(config, min_new_tokens=config.total_max_length - 1))


def new_tokens(enricher, texts: list[str]) -> list[int]:
    """Each text's new-token budget under the Enricher's summary preset, as runtime.summarize
    computes it (the summary tokenizer's token count, the budget, the search's own maximum)."""
    from runtime.text import token_ids

    preset, longest = enricher.summary_preset, enricher.summary_preset.config.total_max_length - 1
    if preset.budget is None:
        return [longest] * len(texts)
    return [min(longest, preset.budget.new_tokens(len(ids))) for ids in token_ids(enricher.summarizer.tokenizer, texts)]


def default_enricher(models: Models, variant: Variant, threads: int) -> Engine:
    """The Enricher as a user builds it, `RuntimeConfig()`'s defaults (the `ticket` summary preset:
    greedy, a per-ticket budget; only the variant and the benchmark's threads set), every summary
    forced to its full budget."""
    from runtime import Enricher, RuntimeConfig

    def build():
        enricher = Enricher.from_artifacts(models.root, RuntimeConfig(variant=variant.name, threads=threads))
        with_preset(enricher, full_budget(enricher.summary_preset))
        return enricher.enrich

    return loaded(f"ours-{variant.name}", "ours", f"runtime Enricher, RuntimeConfig() defaults, {variant.label}",
                  build)
