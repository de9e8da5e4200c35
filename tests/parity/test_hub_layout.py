"""Checkpoints laid out like the Hub's (export/hub_layout.py, `make test-artifacts` exports them to
build/test-artifacts-hub): generation settings in config.json with the legacy
`force_bos_token_to_be_generated` and no forced EOS, pytorch_model.bin, vocab.json + merges.txt
with `<mask>` past the model's rows, vocab.txt. The manifest carries what transformers loads, and
the runtime reproduces transformers' own `generate()` on them, the reference taken from
transformers' loading of the folder, never from our manifest."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from export.architectures.bart import Seq2SeqParity
from export.catalog import CATALOG
from export.errors import ParityError
from export.generate import reference_config, transformers_generate
from export.recheck import source_folder
from runtime.generate import GenerationConfig
from runtime.manifest import load_manifest
from runtime.presets import summary_preset
from runtime.session import SessionSettings
from runtime.summarize import Summarizer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

# The settings the runtime's decoding reads.
RUNTIME_SETTINGS = ("forced_bos_token_id", "forced_eos_token_id", "num_beams", "max_length", "min_length",
                    "no_repeat_ngram_size", "length_penalty", "early_stopping", "decoder_start_token_id",
                    "eos_token_id", "pad_token_id")
TEXTS = [
    "Hi team, since this morning I cannot log in to the customer portal. Every time I enter my password it "
    "says 'invalid credentials' even though I reset it twice. This is blocking our whole billing department.",
    "Refund please, the order never arrived.",
    "The mobile app crashes immediately on launch after the latest update (version 4.2.1) on my Samsung Galaxy "
    "S23. I've tried reinstalling and clearing the cache without any luck.",
]


@pytest.fixture(scope="module")
def manifest(hub_artifacts_dir):
    return load_manifest(hub_artifacts_dir)


@pytest.fixture(scope="module")
def folders(manifest, checkpoints_dir) -> dict[str, Path]:
    return {role: source_folder(role, manifest.models[role], checkpoints_dir) for role in ("sentiment", "summary")}


@pytest.fixture(scope="module")
def model(folders):
    return transformers.AutoModelForSeq2SeqLM.from_pretrained(folders["summary"]).eval()


@pytest.fixture(scope="module")
def tokenizer(folders):
    return transformers.AutoTokenizer.from_pretrained(folders["summary"])


def test_the_folders_are_laid_out_like_the_hubs(folders, manifest):
    summary, sentiment = folders["summary"], folders["sentiment"]
    assert sorted(p.name for p in summary.iterdir()) == ["config.json", "merges.txt", "pytorch_model.bin",
                                                          "stand-in.json", "vocab.json"]
    config = json.loads((summary / "config.json").read_text())
    assert config["force_bos_token_to_be_generated"] is True
    assert "forced_eos_token_id" not in config and "forced_bos_token_id" not in config
    assert (config["num_beams"], config["min_length"], config["max_length"]) == (4, 56, 142)
    vocab = json.loads((summary / "vocab.json").read_text())
    assert len(vocab) == 50265 == config["vocab_size"] + 1
    assert [vocab[t] for t in ("<s>", "<pad>", "</s>", "<unk>", "madeupword0000", "<mask>")] == [0, 1, 2, 3, 50261, 50264]
    assert sorted(p.name for p in sentiment.iterdir()) == ["config.json", "pytorch_model.bin", "stand-in.json",
                                                            "tokenizer_config.json", "vocab.txt"]
    for role in ("sentiment", "summary"):  # random weights, and the manifest says so
        assert manifest.models[role].source.kind == "local" and manifest.models[role].source.stand_in == "tiny"


def test_manifest_generation_is_what_transformers_loads(manifest, model):
    """forced BOS from the legacy flag, forced EOS from the BartConfig class default: both were
    lost when the export read the raw JSON."""
    loaded = model.generation_config
    generation = manifest.models["summary"].generation
    for key in RUNTIME_SETTINGS:
        assert generation[key] == getattr(loaded, key), key
    assert (generation["forced_bos_token_id"], generation["forced_eos_token_id"]) == (0, 2)


def test_generation_is_what_transformers_loads_on_our_own_stand_in_too(checkpoints_dir):
    from export.standins import ensure_stand_in

    folder = ensure_stand_in("summary", "tiny", checkpoints_dir)
    loaded = transformers.AutoModelForSeq2SeqLM.from_pretrained(folder).generation_config
    generation = CATALOG["summary"].arch.generation(folder)
    assert {key: generation[key] for key in RUNTIME_SETTINGS} == {key: getattr(loaded, key) for key in RUNTIME_SETTINGS}


@pytest.fixture(scope="module")
def summarizer(hub_artifacts_dir, manifest):
    return Summarizer.load(hub_artifacts_dir, manifest.models["summary"], "fp32", SessionSettings(threads=2))


def _unpadded(rows: list[list[int]], pad: int) -> list[list[int]]:
    """transformers pads every row to the longest: drop the padding after each row's EOS."""
    out = []
    for row in rows:
        end = next((i for i in range(len(row) - 1, -1, -1) if row[i] != pad), -1)
        out.append(row[: end + 1])
    return out


def _plain_generate(model, tokenizer, texts: list[str], config=None) -> list[list[int]]:
    batch = tokenizer(texts, padding=True, truncation=True, max_length=1024, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**batch) if config is None else transformers_generate(model, dict(batch), config)
    return _unpadded(out.tolist(), model.generation_config.pad_token_id)


def test_news_preset_is_plain_transformers_generate(summarizer, manifest, model, tokenizer):
    """The checkpoint's own settings (4 beams, 56..142 tokens, ...): token-identical to
    `model.generate(**inputs)` with nothing passed, for a padded batch of two tickets."""
    news = summary_preset("news", GenerationConfig.from_entry(manifest.models["summary"]))
    ours = summarizer.generate(TEXTS[:2], news.config)
    assert ours == _plain_generate(model, tokenizer, TEXTS[:2])
    assert all(seq[:2] == [2, 0] and seq[-1] == 2 for seq in ours)  # decoder start, forced BOS ... EOS


def test_greedy_is_transformers_greedy_with_the_checkpoints_config(summarizer, manifest, model, tokenizer):
    news = summary_preset("news", GenerationConfig.from_entry(manifest.models["summary"]))
    ours = summarizer.generate(TEXTS, replace(news.config, num_beams=1))
    theirs = _plain_generate(model, tokenizer, TEXTS, reference_config(model.generation_config, num_beams=1))
    assert ours == theirs


def test_ticket_preset_budgets_are_transformers_greedy_per_ticket(summarizer, manifest, model, tokenizer):
    """The default preset: every ticket its own budget inside one batch, each equal to
    transformers' greedy search alone with that many new tokens."""
    preset = summary_preset("ticket", GenerationConfig.from_entry(manifest.models["summary"]))
    ours = summarizer.generate(TEXTS, preset.config, preset.budget)
    for text, mine in zip(TEXTS, ours, strict=True):
        budget = preset.budget.new_tokens(len(tokenizer(text)["input_ids"]))
        config = reference_config(model.generation_config, num_beams=1, max_new_tokens=budget, min_new_tokens=8,
                                  min_length=0, no_repeat_ngram_size=3, length_penalty=1.0)
        assert [mine] == _plain_generate(model, tokenizer, [text], config)
        assert len(mine) <= budget + 1


def test_the_gate_passes_and_fails_a_manifest_that_lost_the_forced_ids(hub_artifacts_dir, manifest, folders):
    """What the export did before: both sides of the check built from the manifest passed 12/12.
    With the reference from transformers' own loading, the manifest's settings pass, and the
    same settings without forced BOS/EOS fail fp32."""
    entry = manifest.models["summary"]
    checker = Seq2SeqParity(folders["summary"], hub_artifacts_dir / entry.tokenizer.path, 1, entry.generation)
    files = {name: hub_artifacts_dir / f.path for name, f in entry.variants["fp32"].files.items()}
    assert checker.check("summary", "fp32", files)["greedy_identical"] == "12/12"
    checker.settings = replace(checker.settings, forced_bos_token_id=None, forced_eos_token_id=None)
    with pytest.raises(ParityError) as caught:
        checker.check("summary", "fp32", files)
    assert "greedy_tokens.identical_fraction" in str(caught.value)


def test_parity_command_rechecks_a_local_folder_source(hub_artifacts_dir, checkpoints_dir):
    """`ticket-enrich parity` finds the local folder the manifest names, checks its weights are
    the exported ones, says they are a stand-in's (tests/parity/test_export_parity.py runs every
    model of the tiny artifacts through the same code)."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ticket-enrich")), "parity", "--artifacts", str(hub_artifacts_dir),
         "--checkpoints", str(checkpoints_dir), "--role", "sentiment", "--variant", "fp32"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 1 checks passed" in result.stdout
    assert "sentiment fp32: passed; logits_max_abs_diff=" in result.stdout and "(at export: " in result.stdout
    assert "tiny stand-in: random weights" in result.stdout
