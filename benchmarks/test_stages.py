"""Per stage, in one interleaved run each: PyTorch eager (the reference), our runtime in fp32 and
every int8 variant this CPU runs, Optimum's ORTModel classes (fp32 and int8), CTranslate2 int8 and,
for embeddings, fastembed. Single-ticket latency over the tickets one at a time, tickets/s at
batch 8 (summaries: batch 10, where their target is). Summaries are greedy with exactly 30 new
tokens; beam search is its own test.

Select with -k: embed, sentiment, summary_greedy, summary_beam."""

from __future__ import annotations

from benchmarks.engines import ct2_peer, fastembed_peer, optimum_peer, ours, torch_ref
from benchmarks.inputs import spread, word_count
from benchmarks.stage import (
    check_embeddings,
    check_probabilities,
    failed_checks,
    measure_stage,
    summary_check,
)


def test_embed(models, settings, stage_texts, recorder):
    threads = settings.threads
    engines = [torch_ref.embedder(models.checkpoint("embedding"), threads)]
    engines += [ours.embedder(models, v, threads) for v in models.variants("embedding")]
    engines += [optimum_peer.embedder(models, p, threads) for p in ("fp32", "int8")]
    engines += [ct2_peer.embedder(models, threads)]
    engines += [fastembed_peer.embedder(models, p, threads) for p in ("fp32", "int8")]
    section = recorder.add("embed", measure_stage(engines, stage_texts, stage_texts, settings, check_embeddings))
    assert not failed_checks(section), failed_checks(section)


def test_sentiment(models, settings, stage_texts, recorder):
    threads = settings.threads
    engines = [torch_ref.classifier(models.checkpoint("sentiment"), threads)]
    engines += [ours.classifier(models, v, threads) for v in models.variants("sentiment")]
    engines += [optimum_peer.classifier(models, p, threads) for p in ("fp32", "int8")]
    engines += [ct2_peer.classifier(models, threads)]
    section = recorder.add("sentiment", measure_stage(engines, stage_texts, stage_texts, settings,
                                                      check_probabilities))
    assert not failed_checks(section), failed_checks(section)


def test_summary_greedy(models, settings, stage_texts, latency_texts, recorder):
    threads, tokens = settings.threads, settings.summary_new_tokens
    engines = [torch_ref.summarizer(models.checkpoint("summary"), threads, tokens)]
    engines += [ours.summarizer(models, v, threads, tokens) for v in models.variants("summary")]
    engines += [optimum_peer.summarizer(models, p, threads, tokens) for p in ("fp32", "int8")]
    engines += [ct2_peer.summarizer(models, threads, tokens)]
    # Batches of 10, where the target (<= 40 ms a ticket) is set; whole batches only.
    size = settings.e2e_batch
    batched = stage_texts[: max(size, len(stage_texts) // size * size)]
    section = measure_stage(engines, batched, latency_texts, settings, summary_check(tokens), batch=size,
                            rounds=settings.slow_rounds)
    section = recorder.add("summary", section | {"generation": {"num_beams": 1, "new_tokens": tokens}})
    assert not failed_checks(section), failed_checks(section)


def test_summary_beam(models, settings, texts, recorder):
    """Beam search (the checkpoint's 4 beams, length penalty 2.0), exactly 30 new tokens: the
    reference, our best int8 variant, Optimum int8 and CTranslate2 int8."""
    threads, tokens, beams = settings.threads, settings.summary_new_tokens, settings.beams
    engines = [torch_ref.summarizer(models.checkpoint("summary"), threads, tokens, beams),
               ours.summarizer(models, models.best_int8(), threads, tokens, beams),
               optimum_peer.summarizer(models, "int8", threads, tokens, beams),
               ct2_peer.summarizer(models, threads, tokens, beams)]
    chosen = spread(texts, word_count, 2 * settings.beam_tickets)
    section = measure_stage(engines, chosen, chosen[::2], settings, summary_check(tokens), probe_size=4,
                            rounds=settings.slow_rounds)
    section = recorder.add("summary_beam", section | {"generation": {"num_beams": beams, "new_tokens": tokens}})
    assert not failed_checks(section), failed_checks(section)
