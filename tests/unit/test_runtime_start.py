"""Start-up: hash verification, variant choice and its override, profiles, the output shape."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runtime import Enricher, RuntimeArtifactError, RuntimeConfig, VariantUnavailable
from runtime.cpu import detect_cpu_features
from runtime.manifest import load_manifest

REPO = Path(__file__).resolve().parents[2]
TICKETS = [
    {"ticket_id": "T-1", "subject": "Locked out", "body": "I cannot log in since this morning and our payroll "
     "deadline is tomorrow. The password reset link says it expired and I have tried three times already, "
     "so the whole finance team is waiting on me. Please help as soon as you can.", "priority": "high"},
    {"ticket_id": "T-2", "body": "Thanks, the refund arrived!"},
]


def linked_copy(src: Path, dst: Path) -> Path:
    """A copy of the artifacts whose big files are hard links (cheap), so one can be replaced."""
    shutil.copytree(src, dst, copy_function=os.link)
    return dst


@pytest.fixture(scope="module")
def enricher(artifacts_dir):
    return Enricher.from_artifacts(artifacts_dir, RuntimeConfig(profile="offline"))


def test_enrichment_has_the_documented_shape(enricher):
    [first, second] = [r.to_dict() for r in enricher.enrich(TICKETS)]
    assert first["ticket_id"] == "T-1"
    body = first["enrichment"]
    assert len(body["embedding"]) == 384
    assert set(body) >= {"embedding", "sentiment", "intent", "urgency", "summary", "summary_kind", "profile",
                         "models", "timings_ms"}
    assert body["sentiment"]["label"] in {"POSITIVE", "NEGATIVE", "NEUTRAL"}
    assert 0.0 <= body["intent"]["confidence"] <= 1.0
    assert body["urgency"]["level"] in {"low", "medium", "high", "critical"}
    assert body["profile"] == "offline"
    assert body["summary_kind"] == "extractive"
    assert second["enrichment"]["summary_kind"] == "original"
    assert second["enrichment"]["summary"] == "Thanks, the refund arrived!"
    for field in ("embedding", "sentiment", "intent", "urgency", "summary"):
        assert body["models"][field]["artifact_sha256"], field
    assert body["timings_ms"]["batch_size"] == 2
    json.dumps(first)  # plain JSON all the way down


def test_one_ticket_is_a_batch_of_one(enricher):
    [result] = enricher.enrich([TICKETS[0]])
    assert result.intent.label == "login_issue"
    assert result.urgency.level in {"high", "critical"}
    assert "deadline" in result.urgency.signals
    label, confidence = enricher.classify_intent(TICKETS[0])
    assert (label, round(confidence, 4)) == (result.intent.label, round(result.intent.confidence, 4))
    assert enricher.embed(["one text"]).shape == (1, 384)


def test_full_profile_records_stand_ins(artifacts_dir):
    if load_manifest(artifacts_dir).profile != "full":
        pytest.skip("the test artifacts have no sentiment/summary models")
    enricher = Enricher.from_artifacts(artifacts_dir, RuntimeConfig(profile="full", summary_max_new_tokens=8,
                                                                    summary_num_beams=1))
    body = enricher.enrich(TICKETS)[0].to_dict()["enrichment"]
    assert body["profile"] == "full"
    assert body["summary_kind"] == "abstractive"
    assert set(body["stand_in_fields"]) == {"sentiment", "summary"}
    assert "stand-in" in body["warning"]
    assert body["models"]["summary"]["stand_in"] == "tiny"


def test_tampered_artifact_stops_start_up(artifacts_dir, tmp_path):
    root = linked_copy(artifacts_dir, tmp_path / "art")
    manifest = load_manifest(root)
    variant = next(v for v in ("avx512_vnni", "avx512", "avx2", "arm64", "fp32")
                   if v in manifest.models["embedding"].variants)
    target = root / manifest.models["embedding"].variants[variant].files["model"].path
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.unlink()
    target.write_bytes(bytes(data))
    with pytest.raises(RuntimeArtifactError, match="sha256 mismatch"):
        Enricher.from_artifacts(root, RuntimeConfig(profile="offline", variant=variant))


def test_missing_file_stops_start_up(artifacts_dir, tmp_path):
    root = linked_copy(artifacts_dir, tmp_path / "art")
    (root / load_manifest(root).models["embedding"].tokenizer.path).unlink()
    with pytest.raises(RuntimeArtifactError, match="missing: .*tokenizer"):
        Enricher.from_artifacts(root, RuntimeConfig(profile="offline"))


def test_every_bad_file_is_listed_when_hashed_in_parallel(artifacts_dir, tmp_path):
    root = linked_copy(artifacts_dir, tmp_path / "art")
    manifest = load_manifest(root)
    summary = manifest.models["summary"].variants["fp32"].files
    for name in ("decoder", "encoder"):  # two files hashed on different threads
        target = root / summary[name].path
        data = bytearray(target.read_bytes())
        data[-1] ^= 0x01
        target.unlink()
        target.write_bytes(bytes(data))
    (root / manifest.models["sentiment"].tokenizer.path).unlink()
    with pytest.raises(RuntimeArtifactError) as refused:
        Enricher.from_artifacts(root, RuntimeConfig(profile="full", variant="fp32", threads=2))
    message = str(refused.value)
    assert f"sha256 mismatch: {summary['decoder'].path}" in message
    assert f"sha256 mismatch: {summary['encoder'].path}" in message
    assert "missing: sentiment/tokenizer.json" in message


def test_no_manifest_says_what_to_do(tmp_path):
    with pytest.raises(RuntimeArtifactError, match="make export"):
        Enricher.from_artifacts(tmp_path)


def test_forced_variant_the_cpu_cannot_run_raises(artifacts_dir):
    impossible = "arm64" if "avx2" in detect_cpu_features() else "avx512_vnni"
    with pytest.raises(VariantUnavailable):
        Enricher.from_artifacts(artifacts_dir, RuntimeConfig(profile="offline", variant=impossible))


def test_forced_variant_from_the_environment(artifacts_dir):
    config = RuntimeConfig.from_env({"TICKET_ENRICH_VARIANT": "fp32", "TICKET_ENRICH_PROFILE": "offline"})
    enricher = Enricher.from_artifacts(artifacts_dir, config)
    assert enricher.variant == "fp32"
    assert enricher.enrich(TICKETS[:1])[0].models["embedding"]["variant"] == "fp32"


def test_runtime_never_imports_torch_or_boto3(artifacts_dir):
    code = textwrap.dedent(f"""
        import sys, json
        from runtime import Enricher, RuntimeConfig
        enricher = Enricher.from_artifacts({str(artifacts_dir)!r}, RuntimeConfig(profile="offline"))
        [result] = enricher.enrich([{{"ticket_id": "T-1", "body": "My parcel never arrived."}}])
        banned = sorted(m for m in sys.modules if m.split(".")[0] in
                        ("torch", "transformers", "optimum", "boto3", "botocore", "export", "worker", "pydantic"))
        print(json.dumps({{"banned": banned, "intent": result.intent.label}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["banned"] == []
    assert report["intent"] == "order_shipping"
