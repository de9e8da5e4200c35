"""onnxruntime's own profile, by operator type: our graphs against Optimum's int8 on the same
tickets, the same feeding code (for the summary: runtime.generate's loop over our CachedDecoder,
or over Optimum's merged decoder), the same threads and the runtime's own session settings.

    python -m benchmarks.op_profile [--model summary|embedding|sentiment] [--batch 1] [--tickets 4]

Prints, per graph, the time per operator type and its share of the kernels' total.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path

from benchmarks.inputs import load_tickets, spread, ticket_texts, word_count
from benchmarks.models import Models
from benchmarks.settings import BenchSettings


def profiled_session(path: Path, threads: int, prefix: Path):
    """A session built as the runtime builds its own (runtime.session), with profiling on."""
    from runtime.session import SessionSettings, make_session

    return make_session(path, SessionSettings(threads=threads, profile_prefix=str(prefix)))


CONTROL_FLOW = ("If", "Loop", "Scan")  # their time is their subgraph's nodes, listed on their own


def by_op(trace: Path) -> collections.Counter:
    totals: collections.Counter = collections.Counter()
    for event in json.loads(trace.read_text()):
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            op = event["args"]["op_name"]
            if op not in CONTROL_FLOW:
                totals[op] += event["dur"]  # microseconds
    return totals


class MergedDecoder:
    """A StepDecoder over Optimum's merged decoder (`use_cache_branch`; the first step also yields
    the cross-attention cache), fed as our runtime fed it before its own split graphs."""

    def __init__(self, session, hidden, mask):
        import numpy as np

        self.session, self.hidden, self.mask, self.cache = session, hidden, mask, {}
        pasts = [i for i in session.get_inputs() if i.name.startswith("past_key_values.")]
        self.names = [i.name for i in pasts]
        heads, head_dim = pasts[0].shape[1], pasts[0].shape[3]
        self.empty = np.zeros((len(hidden), heads, 0, head_dim), dtype=np.float32)

    def step(self, tokens):
        import numpy as np

        feeds = {"input_ids": tokens.reshape(-1, 1), "encoder_hidden_states": self.hidden,
                 "encoder_attention_mask": self.mask, "use_cache_branch": np.array([bool(self.cache)])}
        feeds.update({name: self.cache.get(name, self.empty) for name in self.names})
        wanted = ["logits"] + [n.replace("past_key_values.", "present.", 1) for n in self.names]
        logits, *presents = self.session.run(wanted, feeds)
        first = not self.cache
        self.cache.update({n: v for n, v in zip(self.names, presents, strict=True) if first or ".decoder." in n})
        return logits[:, -1, :]

    def keep(self, rows):
        self.cache = {n: v[rows] for n, v in self.cache.items()}
        self.hidden, self.mask, self.empty = self.hidden[rows], self.mask[rows], self.empty[rows]

    def reorder(self, rows):
        self.cache = {n: (v[rows] if ".decoder." in n else v) for n, v in self.cache.items()}


def run(graphs: dict[str, Path], tokenizer_path: Path, texts: list[str], batch: int,
        threads: int, tokens: int, work: Path, label: str) -> dict[str, collections.Counter]:
    """`graphs`: ours ("encoder", "cross_kv", "decoder") or Optimum's ("encoder", "decoder", merged)."""
    from runtime.decoder import CachedDecoder, cross_cache
    from runtime.generate import GenerationConfig, generate
    from runtime.text import load_tokenizer, pad

    tokenizer = load_tokenizer(tokenizer_path, 1024)
    sessions = {name: profiled_session(path, threads, work / f"{label}-{name}") for name, path in graphs.items()}
    config = GenerationConfig(num_beams=1, max_new_tokens=tokens, min_new_tokens=tokens, no_repeat_ngram_size=3,
                              forced_bos_token_id=0, forced_eos_token_id=2)
    for start in range(0, len(texts), batch):
        encoded = pad([e.ids for e in tokenizer.encode_batch(texts[start : start + batch])], 1)
        (hidden,) = sessions["encoder"].run(None, {"input_ids": encoded.ids, "attention_mask": encoded.mask})
        if "cross_kv" in sessions:
            cross = cross_cache(sessions["cross_kv"], sessions["decoder"], hidden, encoded.mask)
            decoder = CachedDecoder(sessions["decoder"], cross, capacity=tokens + 1)
        else:
            decoder = MergedDecoder(sessions["decoder"], hidden, encoded.mask)
        generate(decoder, len(encoded.ids), config)
    return {name: by_op(Path(session.end_profiling())) for name, session in sessions.items()}


def run_encoder_only(path: Path, tokenizer_path: Path, max_length: int, texts: list[str], batch: int, threads: int,
                     work: Path, label: str) -> dict[str, collections.Counter]:
    import numpy as np

    from runtime.text import load_tokenizer, pad

    tokenizer = load_tokenizer(tokenizer_path, max_length)
    session = profiled_session(path, threads, work / label)
    names = {i.name for i in session.get_inputs()}
    for start in range(0, len(texts), batch):
        encoded = pad([e.ids for e in tokenizer.encode_batch(texts[start : start + batch])], 0)
        feeds = {"input_ids": encoded.ids, "attention_mask": encoded.mask}
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.zeros_like(encoded.ids)
        session.run(None, feeds)
    return {"model": by_op(Path(session.end_profiling()))}


def show(label: str, graph: str, totals: collections.Counter, steps: int, top: int) -> None:
    whole = sum(totals.values())
    print(f"\n{label} {graph}: {whole / 1e3:.0f} ms in kernels" + (f", {whole / steps / 1e3:.2f} ms a step" if steps else ""))
    for op, micros in totals.most_common(top):
        print(f"  {op:<28} {micros / 1e3:9.1f} ms  {micros / whole:6.1%}")


def main(argv: list[str] | None = None) -> int:
    from benchmarks.engines import optimum_peer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="summary", choices=("summary", "embedding", "sentiment"))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--tickets", type=int, default=4)
    parser.add_argument("--variant", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=30)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    models = Models(BenchSettings.from_env())
    variant = args.variant or models.best_int8().name
    texts = spread(ticket_texts(load_tickets()), word_count, args.tickets)
    if args.model != "summary":
        entry = models.entry(args.model)
        peer = optimum_peer.prepare(models, args.model, "int8")
        graphs = {f"ours-{variant}": models.root / entry.variants[variant].files["model"].path,
                  "optimum-int8": peer / "model_quantized.onnx"}
        with tempfile.TemporaryDirectory() as tmp:
            for label, path in graphs.items():
                totals = run_encoder_only(path, models.root / entry.tokenizer.path,
                                          int(entry.settings.get("max_length", 512)), texts, args.batch,
                                          args.threads, Path(tmp), label)
                show(label, args.model, totals["model"], 0, args.top)
        return 0
    entry = models.entry("summary")
    files = entry.variants[variant].files
    peer = optimum_peer.prepare(models, "summary", "int8")
    graphs = {f"ours-{variant}": {name: models.root / files[name].path for name in ("encoder", "cross_kv", "decoder")},
              "optimum-int8": {"encoder": peer / "encoder_model_quantized.onnx",
                               "decoder": peer / "decoder_model_merged_quantized.onnx"}}
    steps = args.tokens * -(-len(texts) // args.batch)
    with tempfile.TemporaryDirectory() as tmp:
        for label, paths in graphs.items():
            totals = run(paths, models.root / entry.tokenizer.path, texts, args.batch, args.threads,
                         args.tokens, Path(tmp), label)
            for name, graph_totals in totals.items():
                show(label, name, graph_totals, steps if name == "decoder" else 0, args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
