"""Profiles are lists of stages (runtime/profiles.py, runtime/stages.py): both give records of the
same shape, a profile the artifacts cannot serve is refused, and the stages say when one runs
before its inputs exist."""

import json
import os
import shutil
from pathlib import Path

import pytest

from export.catalog import PROFILE_ROLES
from runtime import Enricher, RuntimeArtifactError, RuntimeConfig
from runtime.manifest import MANIFEST_NAME, PROFILES
from runtime.profiles import PROFILES as RUNTIME_PROFILES
from runtime.stages import MODELS, TIMINGS, Batch

TICKETS = [
    {"ticket_id": "T-1", "subject": "Locked out", "body": "I cannot log in since this morning and our payroll "
     "deadline is tomorrow. The password reset link says it expired and I have tried three times already, "
     "so the whole finance team is waiting on me. Please help as soon as you can.", "priority": "high"},
    {"ticket_id": "T-2", "body": "Thanks, the refund arrived!"},
    {"ticket_id": "T-3", "body": "asdf qwerty zxcv"},
]
QUICK = {"summary_max_new_tokens": 8, "summary_num_beams": 1}


@pytest.fixture(scope="module")
def enrichers(artifacts_dir):
    return {name: Enricher.from_artifacts(artifacts_dir, RuntimeConfig(profile=name, **QUICK))
            for name in ("full", "offline")}


def test_the_runtime_profiles_are_the_manifest_and_export_profiles():
    assert set(RUNTIME_PROFILES) == set(PROFILES)
    assert {name: profile.roles for name, profile in RUNTIME_PROFILES.items()} == dict(PROFILE_ROLES)


def test_both_profiles_give_records_of_the_same_shape(enrichers):
    for name, enricher in enrichers.items():
        results = enricher.enrich(TICKETS)
        for result in results:
            body = result.to_dict()["enrichment"]
            assert list(body["timings_ms"]) == [*TIMINGS, "total", "batch_size"], name
            assert list(body["models"]) == list(MODELS), name
            assert body["models"] == enricher.describe()["models"]
        json.dumps([r.to_dict() for r in results])
    full = enrichers["full"].enrich(TICKETS[:1])[0]
    assert full.timings_ms["sentences"] == 0.0  # a stage the full profile does not run
    assert full.summary_kind == "abstractive" and full.summary_preset == "ticket"
    offline = enrichers["offline"].enrich(TICKETS[:1])[0]
    assert offline.timings_ms["sentences"] > 0.0
    assert offline.summary_kind == "extractive" and offline.summary_preset is None
    assert enrichers["full"].summary_preset is not None and enrichers["offline"].summary_preset is None
    assert enrichers["full"].summarizer is not None and enrichers["offline"].summarizer is None


class Recorded:
    """A real stage that also notes its name in `ran` when it runs."""

    def __init__(self, stage, ran: list[str]):
        self.stage, self.name, self.ran = stage, stage.name, ran

    def run(self, batch):
        self.ran.append(self.name)
        self.stage.run(batch)

    def provenance(self):
        return self.stage.provenance()


def test_classify_intent_runs_only_the_stages_an_intent_needs(enrichers):
    for enricher in enrichers.values():
        ran: list[str] = []
        stages = enricher.stages
        enricher.stages = [Recorded(stage, ran) for stage in stages]
        try:
            label, confidence = enricher.classify_intent(TICKETS[0])
        finally:
            enricher.stages = stages
        assert ran == ["embed", "domain", "intent"]
        [result] = enricher.enrich(TICKETS[:1])
        assert (label, confidence) == (result.intent.label, pytest.approx(result.intent.confidence, abs=1e-6))


def test_a_stage_listed_before_its_inputs_says_which_are_missing(enrichers):
    [domain] = [stage for stage in enrichers["offline"].stages if stage.name == "domain"]
    with pytest.raises(RuntimeError, match="no embeddings yet: a profile lists a stage before the one"):
        domain.run(Batch(["a ticket"], [None]))


def _with_manifest(artifacts_dir: Path, target: Path, **changes) -> Path:
    """The artifacts (big files hard-linked) with a different manifest.json."""
    shutil.copytree(artifacts_dir, target, copy_function=os.link)
    raw = json.loads((artifacts_dir / MANIFEST_NAME).read_text(encoding="utf-8")) | changes
    (target / MANIFEST_NAME).unlink()
    (target / MANIFEST_NAME).write_text(json.dumps(raw), encoding="utf-8")
    return target


def test_a_profile_the_artifacts_were_not_exported_for_is_refused(artifacts_dir, tmp_path):
    offline = _with_manifest(artifacts_dir, tmp_path / "offline", profile="offline")
    with pytest.raises(RuntimeArtifactError) as refused:
        Enricher.from_artifacts(offline, RuntimeConfig(profile="full", verify_hashes=False))
    assert str(refused.value) == (
        "profile 'full' was asked for but these artifacts were exported with the offline profile (MiniLM only); "
        "re-run the export with the sentiment and summary models, or use --profile offline")
    raw = json.loads((artifacts_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    only_minilm = _with_manifest(artifacts_dir, tmp_path / "minilm", profile="offline",
                                 models={"embedding": raw["models"]["embedding"]})
    with pytest.raises(RuntimeArtifactError, match="the manifest has no sentiment, summary model for profile 'full'"):
        Enricher.from_artifacts(only_minilm, RuntimeConfig(profile="full"))
    assert Enricher.from_artifacts(only_minilm).enrich(TICKETS[:1])[0].profile == "offline"
