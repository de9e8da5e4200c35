"""A worker-shaped process, run fresh by the cold-start benchmark:

    python -m benchmarks.child KIND '{"artifacts": ..., "threads": 2, ...}'

KIND is `ours` (the runtime: import, Enricher.from_artifacts with the CPU's best variant, enrich),
`ours-worker` (the same plus what the worker process imports and the schema check of the ticket),
`pytorch` (transformers, the three models) or `ct2` (CTranslate2 int8, the three models).
It enriches one ticket, then a batch of ten, and prints one JSON line: wall-clock timestamps of
each phase and the peak RSS (VmHWM) after the first ticket and after the batch. Nothing heavy
is imported before the clock starts; the parent takes the process start time before spawning.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a
    child of a large parent (pytest holding a dozen models) would report the parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux, elsewhere bytes


def ours(config: dict, worker: bool):
    if worker:
        import worker.app  # noqa: F401  (boto3, pydantic: what a worker process holds)
        from ticket_schema import validate_ticket
    from runtime import Enricher, RuntimeConfig

    imported = time.time()
    enricher = Enricher.from_artifacts(config["artifacts"], RuntimeConfig(
        profile="full", threads=config["threads"], summary_num_beams=1,
        summary_max_new_tokens=config["new_tokens"], summary_min_words=0))

    def run(tickets):
        if worker:
            tickets = [validate_ticket(t) for t in tickets]
        return enricher.enrich(tickets)

    return imported, run, {"variant": enricher.variant}


def pytorch(config: dict):
    import torch  # noqa: F401  (imported first so that the phases read right)
    import transformers  # noqa: F401

    from benchmarks.engines import torch_ref

    return time.time(), _three(torch_ref, config["checkpoints"], config), {}


def ct2(config: dict):
    import ctranslate2  # noqa: F401
    import tokenizers  # noqa: F401

    from benchmarks.engines import ct2_peer

    return time.time(), _three(ct2_peer, config["ct2"], config), {}


def _three(engines, folders: dict[str, str], config: dict):
    """The three models loaded by an engine module's load_embedder / load_classifier /
    load_summarizer (the callers read the clock first: a tuple is evaluated left to right)."""
    threads = config["threads"]
    embed = engines.load_embedder(Path(folders["embedding"]), threads)
    classify = engines.load_classifier(Path(folders["sentiment"]), threads)
    summarize = engines.load_summarizer(Path(folders["summary"]), threads, config["new_tokens"], 1)

    def run(tickets):
        # Not runtime.ticket: importing the runtime package would load onnxruntime into a peer.
        texts = [f"{t.get('subject', '').strip().rstrip('.')}. {t['body'].strip()}" for t in tickets]
        return embed(texts), classify(texts), summarize(texts)

    return run


def main(argv: list[str]) -> int:
    entered = time.time()
    kind, config = argv[0], json.loads(argv[1])
    if kind in ("ours", "ours-worker"):
        imported, run, extra = ours(config, worker=kind == "ours-worker")
    elif kind == "pytorch":
        imported, run, extra = pytorch(config)
    elif kind == "ct2":
        imported, run, extra = ct2(config)
    else:
        print(f"unknown kind {kind!r}: ours, ours-worker, pytorch or ct2", file=sys.stderr)
        return 2
    loaded = time.time()
    run([config["first"]])
    first = time.time()
    first_rss = peak_rss_mb()
    start = time.perf_counter()
    run(config["batch"])
    batch_s = time.perf_counter() - start
    print(json.dumps({"entered": entered, "imported": imported, "loaded": loaded, "first": first,
                      "first_rss_mb": first_rss, "peak_rss_mb": peak_rss_mb(), "batch_s": batch_s,
                      "modules": len(sys.modules), "torch_imported": "torch" in sys.modules, **extra}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
