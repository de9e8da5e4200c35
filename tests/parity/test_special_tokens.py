"""Special-token text is text: a customer who types `<mask>`, `</s>`, `[CLS]` ... hands the models
ordinary tokens, never a control token and never an id past the embedding table, for all three
tokenizers; and a tokenizer whose text could still produce such an id is refused at start-up.

On the Hub-layout artifacts `<mask>` is 50264 while DistilBART has 50,264 rows: before, a ticket
holding it crashed the summary ("Gather idx=50264 out of bounds")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from export.recheck import source_folder
from runtime import Enricher, RuntimeArtifactError, RuntimeConfig
from runtime.manifest import load_manifest
from runtime.text import largest_text_id, load_tokenizer
from tests.special_tokens import special_tickets

transformers = pytest.importorskip("transformers")

ROLES = ("embedding", "sentiment", "summary")


@pytest.fixture(scope="module", params=["test-artifacts", "hub-artifacts"])
def artifacts(request, artifacts_dir, hub_artifacts_dir) -> Path:
    return artifacts_dir if request.param == "test-artifacts" else hub_artifacts_dir


@pytest.mark.parametrize("role", ROLES)
def test_ids_are_transformers_ids_with_special_tokens_split(artifacts, checkpoints_dir, role):
    """id-for-id what transformers gives with `split_special_tokens=True`; text without special
    tokens tokenizes exactly as before; the model's own <s>/[CLS] and </s>/[SEP] stay at the ends."""
    entry = load_manifest(artifacts).models[role]
    ours = load_tokenizer(artifacts / entry.tokenizer.path, 512, entry.settings.get("vocab_size"))
    theirs = transformers.AutoTokenizer.from_pretrained(source_folder(role, entry, checkpoints_dir))
    specials = set(theirs.all_special_ids)
    for ticket in special_tickets():
        text = f"{ticket['subject']}. {ticket['body']}"
        ids = ours.encode(text).ids
        assert ids == theirs(text, split_special_tokens=True, truncation=True, max_length=512)["input_ids"]
        assert not specials & set(ids[1:-1]), f"{role}: a special id inside the text of {ticket['ticket_id']}"
        assert ids[0] in specials and ids[-1] in specials
        assert max(ids) < entry.settings["vocab_size"]
    plain = "My parcel never arrived, order #A-10293; tracking says 'delivered' since Monday."
    assert ours.encode(plain).ids == theirs(plain)["input_ids"]


def test_the_largest_id_text_can_reach(hub_artifacts_dir):
    """Hub BART lists <mask> = 50264 in vocab.json, one past the 50,264 rows, but no BPE merge
    builds it and special tokens are read as text: the largest id text can reach fits."""
    entry = load_manifest(hub_artifacts_dir).models["summary"]
    tokenizer = load_tokenizer(hub_artifacts_dir / entry.tokenizer.path, 1024)
    assert tokenizer.get_vocab_size() == 50265 and tokenizer.token_to_id("<mask>") == 50264
    assert largest_text_id(tokenizer) < entry.settings["vocab_size"] == 50264


def test_a_tokenizer_that_could_reach_past_the_rows_is_refused(hub_artifacts_dir, tmp_path):
    """The start-up check, through Enricher.from_artifacts: a manifest that says the summary
    model has fewer rows than its tokenizer's text can reach is refused with a clear error."""
    for child in hub_artifacts_dir.iterdir():
        if child.name != "manifest.json":
            (tmp_path / child.name).symlink_to(child)
    manifest = json.loads((hub_artifacts_dir / "manifest.json").read_text())
    manifest["models"]["summary"]["settings"]["vocab_size"] = 40000
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RuntimeArtifactError, match=r"can produce token id \d+ from ticket text.*40000 embedding rows"):
        Enricher.from_artifacts(tmp_path, RuntimeConfig(profile="full"))


def test_a_non_special_added_token_past_the_rows_is_seen(hub_artifacts_dir, tmp_path):
    """Added tokens that are not special are still matched in text: one past the rows counts."""
    entry = load_manifest(hub_artifacts_dir).models["summary"]
    spec = json.loads((hub_artifacts_dir / entry.tokenizer.path).read_text())
    spec["added_tokens"].append({"id": 50265, "content": "zzlongword", "single_word": False, "lstrip": False,
                                 "rstrip": False, "normalized": True, "special": False})
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(spec))
    assert largest_text_id(load_tokenizer(path, 1024)) == 50265
    with pytest.raises(RuntimeArtifactError):
        load_tokenizer(path, 1024, rows=50264)


def test_every_special_token_is_enriched_through_the_runtime(hub_artifacts_dir):
    enricher = Enricher.from_artifacts(hub_artifacts_dir, RuntimeConfig(profile="full", summary_min_words=0))
    tickets = special_tickets()
    results = enricher.enrich(tickets)
    assert [r.ticket_id for r in results] == [t["ticket_id"] for t in tickets]
    for result in results:
        assert result.summary_kind == "abstractive" and result.summary_preset == "ticket"
        assert result.sentiment.label in ("NEGATIVE", "NEUTRAL", "POSITIVE")
