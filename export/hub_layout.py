"""Checkpoint folders laid out the way the Hugging Face Hub ships the two reference models,
made offline from the stand-in weights, so that every path a user with the Hub takes is tested.

The Hub's folders differ from what `save_pretrained` writes today, and each difference has
broken something before:

- sshleifer/distilbart-cnn-6-6: generation settings inside `config.json` (with the legacy
  `force_bos_token_to_be_generated`), no `generation_config.json`, no `forced_eos_token_id`
  (the `BartConfig` class default, 2, supplies it), `pytorch_model.bin`, `vocab.json` +
  `merges.txt` in RoBERTa order (50,265 entries: `<s>` 0, `<pad>` 1, `</s>` 2, `<unk>` 3, the
  GPT-2 tokens, `madeupword0000..0002`, `<mask>` 50264) while the model has 50,264 rows, and no
  `tokenizer.json`.
- distilbert-base-uncased-finetuned-sst-2-english: `pytorch_model.bin`, `vocab.txt` and a
  `tokenizer_config.json`, no `tokenizer.json`.

One file is not the Hub's: the stand-in marker (`stand-in.json`), so that whatever is exported
from these random weights says so (`source.stand_in` in the manifest).

`ensure_hub_layout(role, size, cache_dir)` returns such a folder, building it once (saved with
transformers from the stand-in of that size, then reshaped). `python -m export.hub_layout
--size tiny` prints the two folders, for `ticket-enrich export --summary-dir/--sentiment-dir`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from export.errors import ExportError
from export.packages import gpt2_bpe_dir, minilm_package_dir
from export.standins import (
    BART_GENERATION,
    COMPLETE_MARKER,
    SIZES,
    build_into,
    ensure_stand_in,
    stand_in_dir,
)

LAYOUT_VERSION = 1  # bump when the layout changes: the cache key changes with it
MADE_UP_WORDS = 3  # fairseq pads RoBERTa's dictionary to a multiple of 8 with these
# distilbart-cnn-6-6's config.json carries its generation settings itself: forced BOS as the
# legacy flag, forced EOS not at all (BartConfig's class default, 2, supplies it).
_LEGACY_BART_KEYS: dict[str, Any] = {
    **{k: v for k, v in BART_GENERATION.items() if k not in ("forced_bos_token_id", "forced_eos_token_id")},
    "force_bos_token_to_be_generated": True,
    "prefix": " ",
    "task_specific_params": {"summarization": {k: BART_GENERATION[k] for k in (
        "early_stopping", "length_penalty", "max_length", "min_length", "no_repeat_ngram_size", "num_beams")}},
}


def hub_layout_dir(role: str, size: str, cache_dir: Path) -> Path:
    standin = stand_in_dir(role, size, cache_dir).name
    return Path(cache_dir) / "hub-layout" / f"{standin}-hub{LAYOUT_VERSION}"


def ensure_hub_layout(role: str, size: str, cache_dir: Path) -> Path:
    """The Hub-shaped checkpoint folder for `role` at `size`, built into `cache_dir` if missing
    (ExportError for a role or size without a stand-in)."""
    target = hub_layout_dir(role, size, cache_dir)
    source = ensure_stand_in(role, size, cache_dir)  # checks role and size
    if target.is_dir():  # renamed into place only when complete
        return target

    def build(staging: Path) -> None:
        _RESHAPE[role](source, staging)
        # Not on the Hub: the stand-in marker, so that everything exported from this folder says
        # it comes from random weights (export/checkpoints.py reads it for local folders too).
        marker = json.loads((source / COMPLETE_MARKER).read_text(encoding="utf-8")) | {"layout": "hub"}
        (staging / COMPLETE_MARKER).write_text(json.dumps(marker) + "\n", encoding="utf-8")

    return build_into(target, build)


def _save_bin(model: Any, out: Path) -> None:
    """transformers' own save, as `pytorch_model.bin` (the Hub's format for these two models)."""
    model.save_pretrained(out, safe_serialization=False)
    (out / "generation_config.json").unlink(missing_ok=True)


def _distilbart(source: Path, out: Path) -> None:
    from transformers import BartForConditionalGeneration

    _save_bin(BartForConditionalGeneration.from_pretrained(source), out)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    for key in ("forced_bos_token_id", "forced_eos_token_id"):
        config.pop(key, None)
    config.update(_LEGACY_BART_KEYS)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    vocab = roberta_vocab()
    if len(vocab) != config["vocab_size"] + 1:
        raise ExportError(f"the RoBERTa-ordered vocabulary has {len(vocab)} entries; expected the model's "
                          f"{config['vocab_size']} rows + 1 (<mask> past the table, as on the Hub)")
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    shutil.copyfile(gpt2_bpe_dir() / "vocab.bpe", out / "merges.txt")


def roberta_vocab() -> dict[str, int]:
    """fairseq's RoBERTa/BART dictionary order: <s> <pad> </s> <unk>, the 50,257 GPT-2 tokens,
    madeupword0000..0002, <mask> = 50264."""
    gpt2: dict[str, int] = json.loads((gpt2_bpe_dir() / "encoder.json").read_text(encoding="utf-8"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for token, _ in sorted(gpt2.items(), key=lambda item: item[1]):
        vocab[token] = len(vocab)
    for index in range(MADE_UP_WORDS):
        vocab[f"madeupword{index:04d}"] = len(vocab)
    vocab["<mask>"] = len(vocab)
    return vocab


def _distilbert(source: Path, out: Path) -> None:
    from transformers import DistilBertForSequenceClassification

    _save_bin(DistilBertForSequenceClassification.from_pretrained(source), out)
    shutil.copyfile(minilm_package_dir() / "vocab.txt", out / "vocab.txt")
    (out / "tokenizer_config.json").write_text(
        json.dumps({"model_max_length": 512, "do_lower_case": True}) + "\n", encoding="utf-8")


# role -> how its stand-in is saved and reshaped the Hub's way
_RESHAPE = {"sentiment": _distilbert, "summary": _distilbart}


def main(argv: list[str] | None = None) -> int:
    from export.cli import DEFAULT_CHECKPOINTS, ENV_CHECKPOINTS

    parser = argparse.ArgumentParser(prog="python -m export.hub_layout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=SIZES, default="tiny")
    parser.add_argument("--checkpoints", type=Path, help=f"stand-in cache (env {ENV_CHECKPOINTS}, default {DEFAULT_CHECKPOINTS})")
    parser.add_argument("--flags", action="store_true",
                        help="print `--sentiment-dir DIR --summary-dir DIR` for `ticket-enrich export`")
    args = parser.parse_args(argv)
    cache = args.checkpoints or Path(os.environ.get(ENV_CHECKPOINTS) or DEFAULT_CHECKPOINTS)
    try:
        folders = {role: ensure_hub_layout(role, args.size, cache) for role in _RESHAPE}
    except ExportError as exc:
        print(f"hub layout failed: {exc}", file=sys.stderr)
        return 1
    if args.flags:
        print(" ".join(f"--{role}-dir {shlex.quote(str(folder))}" for role, folder in folders.items()))
    else:
        for role, folder in folders.items():
            print(f"{role}\t{folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
