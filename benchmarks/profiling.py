"""Where our runtime spends its time: cProfile of one stage over the benchmark tickets.

    python -m benchmarks.profiling summary [--variant avx512_vnni] [--batch 8] [--top 25]
    python -m benchmarks.profiling start          # Enricher.from_artifacts (cold start, in-process)

Stages: embed, sentiment, summary, enrich (the whole Enricher at batch 10), start. Time inside
`InferenceSession.run` / `run_with_iobinding` is onnxruntime's kernels; the rest is ours.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

from benchmarks.inputs import batches, load_tickets, ticket_texts
from benchmarks.models import Models
from benchmarks.settings import BenchSettings


def workload(stage: str, models: Models, variant: str, threads: int, batch: int):
    from runtime import Enricher, RuntimeConfig
    from runtime.classify import SequenceClassifier
    from runtime.embed import Embedder
    from runtime.session import SessionSettings
    from runtime.summarize import GenerationConfig, Summarizer

    settings = SessionSettings(threads=threads)
    tickets = load_tickets()
    texts = ticket_texts(tickets)
    config = RuntimeConfig(profile="full", variant=variant, threads=threads, summary_num_beams=1,
                           summary_max_new_tokens=30, summary_min_words=0)
    if stage == "start":
        return lambda: Enricher.from_artifacts(models.root, config)
    if stage == "enrich":
        enricher = Enricher.from_artifacts(models.root, config)
        return lambda: [enricher.enrich(b) for b in batches(tickets[:60], batch)]
    if stage == "embed":
        run = Embedder.load(models.root, models.entry("embedding"), variant, settings).embed
    elif stage == "sentiment":
        run = SequenceClassifier.load(models.root, models.entry("sentiment"), variant, settings).probabilities
    else:
        entry = models.entry("summary")
        summarizer = Summarizer.load(models.root, entry, variant, settings)
        generation = GenerationConfig.from_entry(entry, num_beams=1, max_new_tokens=30, min_new_tokens=30)
        texts = texts[:32]

        def run(chunk):
            return summarizer.summarize(chunk, generation)
    return lambda: [run(b) for b in batches(texts, batch)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cProfile one stage of our runtime.")
    parser.add_argument("stage", choices=("embed", "sentiment", "summary", "enrich", "start"))
    parser.add_argument("--variant", default=None, help="default: the best int8 variant this CPU runs")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    args = parser.parse_args(argv)
    models = Models(BenchSettings.from_env())
    variant = args.variant or models.best_int8().name
    job = workload(args.stage, models, variant, args.threads, args.batch)
    if args.stage != "start":
        job()  # warm-up
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(job)
    elapsed = time.perf_counter() - start
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(f"{args.stage} ({variant}, batch {args.batch}, {args.threads} threads): {elapsed:.2f} s under cProfile")
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
