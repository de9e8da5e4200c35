"""End to end, full profile, tickets in, in two sections.

`end_to_end` (equal work with the peers): batches of 10 (as SQS delivers) and single tickets.
PyTorch eager runs the three models; our Enricher (every runnable variant) runs them plus the
intent head and urgency rules and summarizes every ticket (greedy, 30 new tokens); "best peers"
chains the best peer of each stage (Optimum int8 for embeddings and sentiment, CTranslate2 int8 for
the summary), and "ct2-int8" is CTranslate2 alone for all three.

`end_to_end_default` (what users get): our Enricher at `RuntimeConfig()`'s defaults, as a user
calls it (the `ticket` summary preset: greedy, each ticket its own new-token budget, 25% of its
source tokens between 20 and 60), at the worker's batch of 10; short tickets are their own summary
as the default says, and every summary runs to its own full budget (EOS forbidden before it:
stand-in weights rarely stop early, real weights do, so this is the default's worst case).
PyTorch runs the same search on the same tickets with the same budgets (generate() takes one
length per call: each batch's tickets in groups of equal budget)."""

from __future__ import annotations

from benchmarks.engines import Engine, ct2_peer, loaded, optimum_peer, ours, torch_ref
from benchmarks.engines.ours import default_enricher
from benchmarks.inputs import batches, spread, ticket_texts, word_count
from benchmarks.timing import interleaved, load_average

TARGET_TICKETS_PER_MIN = 1000


def chained(name: str, detail: str, loaders) -> Engine:
    def build():
        embed, classify, summarize = (load() for load in loaders)

        def run(tickets: list[dict]):
            texts = ticket_texts(tickets)
            return embed(texts), classify(texts), summarize(texts)

        return run

    return loaded(name, "peer", detail, build)


def peer_pipelines(models, threads: int, tokens: int) -> list[Engine]:
    def optimum(stage):
        return lambda: getattr(optimum_peer, stage)(models, "int8", threads).run

    ct2 = {role: ct2_peer.prepare(models, role) for role in ("embedding", "sentiment", "summary")}
    return [
        chained("best-peers", "Optimum int8 embed + Optimum int8 sentiment + CTranslate2 int8 summary",
                [optimum("embedder"), optimum("classifier"),
                 lambda: ct2_peer.load_summarizer(ct2["summary"], threads, tokens, 1)]),
        chained("ct2-int8", "CTranslate2 int8, all three models",
                [lambda: ct2_peer.load_embedder(ct2["embedding"], threads),
                 lambda: ct2_peer.load_classifier(ct2["sentiment"], threads),
                 lambda: ct2_peer.load_summarizer(ct2["summary"], threads, tokens, 1)]),
    ]


def test_end_to_end(models, settings, tickets, recorder):
    threads, tokens, size = settings.threads, settings.summary_new_tokens, settings.e2e_batch
    folders = {role: models.checkpoint(role) for role in ("embedding", "sentiment", "summary")}
    engines = [torch_ref.pipeline(folders, threads, tokens)]
    engines += [ours.enricher(models, v, threads, tokens) for v in models.variants()]
    engines += peer_pipelines(models, threads, tokens)

    chosen = tickets[: settings.e2e_tickets]
    single = spread(tickets, lambda t: word_count(t["body"]), settings.latency_tickets)
    before = load_average()
    # Ours: one Enrichment per ticket, each with a generated summary (the same work as the others).
    outputs = {e.name: e.run(chosen[:size]) for e in engines if e.family == "ours"}
    counts = {name: (len(rows), sum(r.summary_kind == "abstractive" for r in rows)) for name, rows in outputs.items()}
    single_samples = interleaved(engines, [[t] for t in single], settings.slow_rounds)
    batched = interleaved(engines, batches(chosen, size), settings.slow_rounds)
    rows = {}
    for engine in engines:
        rows[engine.name] = {"family": engine.family, "detail": engine.detail, "load_s": round(engine.load_s, 3),
                             "b1": single_samples[engine.name].latency(),
                             f"b{size}": batched[engine.name].throughput()}
    recorder.add("end_to_end", {
        "load_avg": {"before": before, "after": load_average()}, "rounds": settings.slow_rounds,
        "threads": threads, "target_tickets_per_min": TARGET_TICKETS_PER_MIN,
        "inputs": {"b1_tickets": len(single), f"b{size}_tickets": len(chosen)},
        "engines": rows,
    })
    assert all(count == (size, size) for count in counts.values()), counts


def test_end_to_end_default(models, settings, tickets, recorder):
    threads, size = settings.threads, settings.e2e_batch
    chosen = tickets[: settings.default_tickets]
    engines = [default_enricher(models, v, threads) for v in models.variants() if v.name != "fp32"]
    probe = engines[0].run(chosen)  # which tickets the default summarizes (the rest are their own summary)
    summarized = {row.ticket_id for row in probe if row.summary_kind == "abstractive"}
    from runtime import Enricher, RuntimeConfig

    default = Enricher.from_artifacts(models.root, RuntimeConfig(threads=threads))
    preset = ours.full_budget(default.summary_preset)
    long = [t for t in chosen if t["ticket_id"] in summarized]
    budgets = dict(zip([t["ticket_id"] for t in long], ours.new_tokens(default, ticket_texts(long)), strict=True))
    del default
    folders = {role: models.checkpoint(role) for role in ("embedding", "sentiment", "summary")}
    engines.insert(0, torch_ref.default_pipeline(folders, threads, preset.config, budgets))
    before = load_average()
    batched = interleaved(engines, batches(chosen, size), settings.slow_rounds)
    rows = {engine.name: {"family": engine.family, "detail": engine.detail, "load_s": round(engine.load_s, 3),
                          f"b{size}": batched[engine.name].throughput()} for engine in engines}
    new = sorted(budgets.values())
    recorder.add("end_to_end_default", {
        "load_avg": {"before": before, "after": load_average()}, "rounds": settings.slow_rounds,
        "threads": threads, "target_tickets_per_min": TARGET_TICKETS_PER_MIN,
        "inputs": {f"b{size}_tickets": len(chosen), "summarized": len(summarized)},
        "generation": {"preset": preset.name, "num_beams": preset.config.num_beams,
                       "new_tokens": {"min": new[0], "median": new[len(new) // 2], "max": new[-1],
                                      "total": sum(new)} if new else {},
                       "forced_to_full_budget": True},
        "engines": rows,
    })
    assert summarized, "the default summarized none of the tickets"
