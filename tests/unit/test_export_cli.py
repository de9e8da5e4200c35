"""`ticket-enrich export` fails with a clear message, not a traceback, and a non-zero exit:
missing folder, unreachable Hub with --profile full, corrupt or wrong checkpoint, a different
export in the way. It also says when there is nothing to do. Run as a real subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from export.standins import ensure_stand_in

REPO = Path(__file__).resolve().parents[2]
CLOSED_PORT_HUB = "http://127.0.0.1:9"  # nothing listens: connection refused at once


def export(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TICKET_ENRICH_", "HF_"))}
    environ["HF_ENDPOINT"] = CLOSED_PORT_HUB
    environ.update(env or {})
    command = [sys.executable, "-m", "ticket_enrich.cli", "export", *args]
    return subprocess.run(command, cwd=REPO, env=environ, capture_output=True, text=True, timeout=300)


def assert_clean_failure(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("export failed: ")
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_missing_folder(tmp_path):
    result = export(
        "--out", str(tmp_path / "out"), "--sentiment-dir", str(tmp_path / "nowhere"), "--stand-ins", "tiny"
    )
    assert_clean_failure(result, "sentiment checkpoint folder", "does not exist")
    assert not (tmp_path / "out").exists()


def test_missing_folder_from_the_environment(tmp_path):
    result = export("--out", str(tmp_path / "out"), env={"TICKET_ENRICH_SUMMARY_DIR": str(tmp_path / "gone")})
    assert_clean_failure(result, "summary checkpoint folder", "does not exist")


def test_unreachable_hub_with_profile_full(tmp_path):
    result = export("--out", str(tmp_path / "out"), "--profile", "full")
    assert_clean_failure(result, "--profile full", "Hub is unreachable", "--sentiment-dir", "--summary-dir")
    assert "Hub unreachable" in result.stdout  # said once, plainly, while working
    assert not (tmp_path / "out").exists()


@pytest.fixture()
def sentiment_copy(tmp_path, checkpoints_dir) -> Path:
    folder = tmp_path / "sentiment"
    shutil.copytree(ensure_stand_in("sentiment", "tiny", checkpoints_dir), folder)
    return folder


def test_truncated_weights(tmp_path, sentiment_copy):
    weights = sentiment_copy / "model.safetensors"
    with open(weights, "r+b") as handle:
        handle.truncate(weights.stat().st_size // 2)
    result = export(
        "--out", str(tmp_path / "out"), "--sentiment-dir", str(sentiment_copy), "--stand-ins", "tiny"
    )
    assert_clean_failure(result, "model.safetensors is corrupt or truncated")


def test_broken_config(tmp_path, sentiment_copy):
    (sentiment_copy / "config.json").write_text("{not json")
    result = export(
        "--out", str(tmp_path / "out"), "--sentiment-dir", str(sentiment_copy), "--stand-ins", "tiny"
    )
    assert_clean_failure(result, "config.json is not valid JSON")


def test_wrong_architecture(tmp_path, checkpoints_dir):
    summary = ensure_stand_in("summary", "tiny", checkpoints_dir)
    result = export("--out", str(tmp_path / "out"), "--sentiment-dir", str(summary), "--stand-ins", "tiny")
    assert_clean_failure(result, "holds a 'bart' model", "'distilbert'")


def test_a_different_export_is_refused_and_left_alone(tmp_path, artifacts_dir):
    out = tmp_path / "artifacts"
    out.mkdir()
    shutil.copy(artifacts_dir / "manifest.json", out / "manifest.json")
    before = (out / "manifest.json").read_bytes()
    result = export("--out", str(out), "--profile", "offline")
    assert_clean_failure(result, "holds a different export", "profile: 'full' -> 'offline'", "--force", "FORCE=1",
                         "models.sentiment: {…} (7 keys) -> absent")
    assert len(result.stderr) < 1200 and len(result.stderr.splitlines()) <= 12, result.stderr  # not manifest dicts
    assert (out / "manifest.json").read_bytes() == before


def test_up_to_date_is_a_quick_success(artifacts_dir, checkpoints_dir):
    result = export(
        "--out",
        str(artifacts_dir),
        "--stand-ins",
        "tiny",
        "--profile",
        "full",
        env={"TICKET_ENRICH_CHECKPOINTS": str(checkpoints_dir)},
    )
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout
    assert "converting" not in result.stdout
