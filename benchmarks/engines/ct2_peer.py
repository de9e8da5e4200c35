"""CTranslate2 int8, converted from the same checkpoints with its transformers converter (what
`ct2-transformers-converter --quantization int8` runs), tokenized with `tokenizers` as a lean
CTranslate2 service would. DistilBERT converts as DistilBertModel: the two-layer SST-2 head runs
in numpy on the [CLS] vector, with the checkpoint's own weights.

The loaders here are plain functions of a folder, so that the cold-start child process can use
them without the benchmark's other imports."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.engines import Engine, loaded, mean_pool_normalized, softmax
from benchmarks.peers import cached_build, checkpoint_key

MAX_TOKENS = {"embedding": 256, "sentiment": 512, "summary": 1024}
NO_REPEAT_NGRAM = 3


def folder(models, role: str) -> Path:
    return models.settings.peers / "ct2" / f"{role}-int8"


def _converter(checkpoint: Path):
    from ctranslate2.converters import TransformersConverter

    class PaddedVocabulary(TransformersConverter):
        """The BART stand-in's tokenizer has fewer tokens than the model's vocab_size (GPT-2's BPE
        renumbered); CTranslate2 wants a vocabulary as large as the embedding matrix. Its BART
        loader also reads `normalize_before`, which published BART configs carry and
        transformers 4.57 no longer writes (BART is post-norm: False)."""

        def load_model(self, model_class, model_name_or_path, **kwargs):
            config = kwargs.get("config")
            if config is not None and config.model_type == "bart" and not hasattr(config, "normalize_before"):
                config.normalize_before = False
            return super().load_model(model_class, model_name_or_path, **kwargs)

        def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):
            from transformers import AutoConfig

            tokenizer = super().load_tokenizer(tokenizer_class, model_name_or_path, **kwargs)
            missing = AutoConfig.from_pretrained(model_name_or_path).vocab_size - len(tokenizer)
            if missing > 0:
                tokenizer.add_tokens([f"<ct2_unused_{i}>" for i in range(missing)])
            return tokenizer

    return PaddedVocabulary(str(checkpoint), copy_files=["tokenizer.json"])


def prepare(models, role: str) -> Path:
    checkpoint = models.checkpoint(role)

    def build(out: Path) -> None:
        _converter(checkpoint).convert(str(out), quantization="int8", force=True)
        if role == "sentiment":
            from safetensors.numpy import load_file

            weights = load_file(str(next(checkpoint.glob("*.safetensors"))))
            np.savez(out / "head.npz", **{k: weights[k] for k in
                                          ("pre_classifier.weight", "pre_classifier.bias",
                                           "classifier.weight", "classifier.bias")})

    return cached_build(folder(models, role), checkpoint_key(models, role, quantization="int8"), build)


def _tokenizer(path: Path, role: str):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS[role])
    return tokenizer


def _hidden(encoder, tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    ids = [e.ids for e in tokenizer.encode_batch(texts)]
    hidden = np.asarray(encoder.forward_batch(ids).last_hidden_state)
    lengths = np.array([len(row) for row in ids])
    return hidden, (np.arange(hidden.shape[1])[None, :] < lengths[:, None])


def load_embedder(path: Path, threads: int):
    import ctranslate2

    encoder = ctranslate2.Encoder(str(path), device="cpu", compute_type="int8", intra_threads=threads,
                                  inter_threads=1)
    tokenizer = _tokenizer(path, "embedding")

    def run(texts: list[str]) -> np.ndarray:
        return mean_pool_normalized(*_hidden(encoder, tokenizer, texts))

    return run


def load_classifier(path: Path, threads: int):
    import ctranslate2

    encoder = ctranslate2.Encoder(str(path), device="cpu", compute_type="int8", intra_threads=threads,
                                  inter_threads=1)
    tokenizer = _tokenizer(path, "sentiment")
    head = dict(np.load(path / "head.npz"))

    def run(texts: list[str]) -> np.ndarray:
        hidden, _ = _hidden(encoder, tokenizer, texts)
        cls = hidden[:, 0].astype(np.float32)
        inner = np.maximum(cls @ head["pre_classifier.weight"].T + head["pre_classifier.bias"], 0.0)
        return softmax((inner @ head["classifier.weight"].T + head["classifier.bias"]).astype(np.float64))

    return run


def load_summarizer(path: Path, threads: int, new_tokens: int, beams: int, length_penalty: float = 2.0):
    """Greedy or beam search with exactly `new_tokens` new tokens: `<s>` (BART's forced BOS, given
    as the target prefix), then the rest, the end token included."""
    import ctranslate2

    translator = ctranslate2.Translator(str(path), device="cpu", compute_type="int8", intra_threads=threads,
                                        inter_threads=1)
    tokenizer = _tokenizer(path, "summary")

    def run(texts: list[str]) -> list[list[int]]:
        source = [e.tokens for e in tokenizer.encode_batch(texts)]
        results = translator.translate_batch(
            source, target_prefix=[["<s>"]] * len(texts), beam_size=beams, max_batch_size=len(texts),
            max_decoding_length=new_tokens, min_decoding_length=new_tokens, no_repeat_ngram_size=NO_REPEAT_NGRAM,
            length_penalty=length_penalty if beams > 1 else 1.0, return_end_token=True)
        ids = [[tokenizer.token_to_id(t) for t in r.hypotheses[0]] for r in results]
        tokenizer.decode_batch(ids, skip_special_tokens=True)
        return ids

    return run


DETAIL = "CTranslate2 int8 (ct2 transformers converter)"


def embedder(models, threads: int) -> Engine:
    path = prepare(models, "embedding")
    return loaded("ct2-int8", "peer", DETAIL, lambda: load_embedder(path, threads), gated=False)


def classifier(models, threads: int) -> Engine:
    path = prepare(models, "sentiment")
    return loaded("ct2-int8", "peer", DETAIL + ", numpy head", lambda: load_classifier(path, threads), gated=False)


def summarizer(models, threads: int, new_tokens: int, beams: int = 1) -> Engine:
    path = prepare(models, "summary")
    penalty = float(models.entry("summary").generation.get("length_penalty", 1.0))
    return loaded("ct2-int8", "peer", f"{DETAIL}, beams={beams}",
                  lambda: load_summarizer(path, threads, new_tokens, beams, penalty), gated=False)
