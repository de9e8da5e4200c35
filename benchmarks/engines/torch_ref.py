"""PyTorch eager, the reference: transformers models from the very checkpoints our artifacts were
exported from, `torch.inference_mode`, the same threads. MiniLM is pooled as
sentence-transformers does (mean over the mask, L2 norm, 256-token window) without importing it."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from benchmarks.engines import Engine, loaded
from benchmarks.inputs import ticket_texts

MINILM_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2


def torch_threads(threads: int):
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only settable before the first parallel region; already 1 then
        pass
    return torch


def load_embedder(folder: Path, threads: int):
    torch = torch_threads(threads)
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()

    def run(texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            enc = tokenizer(texts, padding=True, truncation=True, max_length=MINILM_MAX_TOKENS, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1).numpy()

    return run


def load_classifier(folder: Path, threads: int):
    torch = torch_threads(threads)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()

    def run(texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            enc = tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
            return torch.softmax(model(**enc).logits.double(), dim=-1).numpy()

    return run


def generation_config(base, new_tokens: int, beams: int):
    """A full copy of the checkpoint's generation config with the benchmark's settings.

    transformers 4.57 refills beam search and min_length from the checkpoint when a partial
    GenerationConfig is passed to generate(), so the whole config is replaced on the model."""
    config = copy.deepcopy(base)
    config.num_beams = beams
    config.do_sample = False
    config.max_new_tokens = new_tokens
    config.min_new_tokens = new_tokens
    config.max_length = None
    config.min_length = 0
    if beams == 1:
        config.length_penalty = 1.0
        config.early_stopping = False
    return config


def generation_like(base, ours, new_tokens: int):
    """A full copy of the checkpoint's generation config set to our runtime's GenerationConfig
    `ours` (same search and processors), exactly `new_tokens` long."""
    config = copy.deepcopy(base)
    config.do_sample = False
    config.num_beams = ours.num_beams
    config.max_length, config.min_length = None, 0
    config.max_new_tokens = config.min_new_tokens = new_tokens
    config.no_repeat_ngram_size = ours.no_repeat_ngram_size
    config.length_penalty, config.early_stopping = ours.length_penalty, ours.early_stopping
    config.forced_bos_token_id, config.forced_eos_token_id = ours.forced_bos_token_id, ours.forced_eos_token_id
    config.decoder_start_token_id, config.eos_token_id = ours.decoder_start_token_id, ours.eos_token_id
    return config


def prepare_generation(model, new_tokens: int, beams: int) -> None:
    model.generation_config = generation_config(model.generation_config, new_tokens, beams)


def summary_runner(model, tokenizer, torch):
    """run(texts) -> new token ids per text (decoder start dropped), texts decoded as well."""

    def run(texts: list[str]) -> list[list[int]]:
        with torch.inference_mode():
            enc = tokenizer(texts, padding=True, truncation=True, max_length=1024, return_tensors="pt")
            out = model.generate(**enc)
        tokenizer.batch_decode(out, skip_special_tokens=True)
        pad = model.generation_config.pad_token_id
        return [[t for t in row[1:] if t != pad] for row in out.tolist()]

    return run


def load_summarizer(folder: Path, threads: int, new_tokens: int, beams: int):
    torch = torch_threads(threads)
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    prepare_generation(model, new_tokens, beams)
    return summary_runner(model, tokenizer, torch)


def embedder(folder: Path, threads: int) -> Engine:
    return loaded("pytorch", "reference", "transformers eager fp32", lambda: load_embedder(folder, threads))


def classifier(folder: Path, threads: int) -> Engine:
    return loaded("pytorch", "reference", "transformers eager fp32", lambda: load_classifier(folder, threads))


def summarizer(folder: Path, threads: int, new_tokens: int, beams: int = 1) -> Engine:
    return loaded("pytorch", "reference", f"transformers generate(), fp32, beams={beams}",
                  lambda: load_summarizer(folder, threads, new_tokens, beams))


def pipeline(folders: dict[str, Path], threads: int, new_tokens: int) -> Engine:
    """End to end, tickets in: the three models on the same batch (no intent head or urgency rules:
    those are ours and cost well under a millisecond a ticket)."""

    def build():
        embed = load_embedder(folders["embedding"], threads)
        classify = load_classifier(folders["sentiment"], threads)
        summarize = load_summarizer(folders["summary"], threads, new_tokens, 1)

        def run(tickets: list[dict]):
            texts = ticket_texts(tickets)
            return embed(texts), classify(texts), summarize(texts)

        return run

    return loaded("pytorch", "reference", "transformers eager fp32, three models", build)


def default_pipeline(folders: dict[str, Path], threads: int, generation, budgets: dict[str, int]) -> Engine:
    """End to end at our runtime's default settings: the three models, the summary with the same
    search as ours (`generation`, our GenerationConfig) for the same tickets and budgets
    (`budgets`: ticket id -> new tokens, for the tickets our default summarizes; the others are
    their own summary). transformers' generate() takes one length per call, so each batch is
    decoded in one call to its longest budget (min = max new tokens) and every summary is then cut
    to its own: at least our work, batched as a transformers pipeline runs it (one call per
    budget instead took 2.2-2.9x as long, measured on 10 tickets: most budgets in a batch differ)."""

    def build():
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        embed = load_embedder(folders["embedding"], threads)
        classify = load_classifier(folders["sentiment"], threads)
        torch = torch_threads(threads)
        tokenizer = AutoTokenizer.from_pretrained(folders["summary"])
        model = AutoModelForSeq2SeqLM.from_pretrained(folders["summary"]).eval()
        searches = {tokens: generation_like(model.generation_config, generation, tokens)
                    for tokens in set(budgets.values())}
        summarize = summary_runner(model, tokenizer, torch)

        def run(tickets: list[dict]):
            texts = ticket_texts(tickets)
            chosen = [(text, budgets[t["ticket_id"]]) for t, text in zip(tickets, texts, strict=True)
                      if t["ticket_id"] in budgets]
            summaries = []
            if chosen:
                model.generation_config = searches[max(tokens for _, tokens in chosen)]
                made = summarize([text for text, _ in chosen])
                summaries = [ids[:tokens] for ids, (_, tokens) in zip(made, chosen, strict=True)]
            return embed(texts), classify(texts), summaries

        return run

    return loaded("pytorch", "reference", "transformers eager fp32, three models, our default summary preset "
                  "(each batch to its longest budget)", build)
