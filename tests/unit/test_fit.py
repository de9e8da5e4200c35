"""`ticket-enrich fit` end to end: a team's labelled history in its own taxonomy (5 intents,
P1-P4 urgency) -> cross-validated report, heads in the artifacts with their hashes, picked up by
the runtime at start-up with no refit; and bad input stops it with nothing written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_runtime_start import linked_copy

from runtime import Enricher, RuntimeConfig
from runtime.manifest import load_manifest, sha256_file
from ticket_enrich.team_fit import FitInputError, read_history

REPO = Path(__file__).resolve().parents[2]
HISTORY = REPO / "tests/data/fit/team_history.jsonl"


def fit(*args, cwd=REPO):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "ticket_enrich.cli", "fit", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def fitted(artifacts_dir, tmp_path_factory):
    root = linked_copy(artifacts_dir, tmp_path_factory.mktemp("fit") / "art")
    before = (root / "manifest.json").read_text()
    result = fit(HISTORY, "--artifacts", root)
    assert result.returncode == 0, result.stderr
    return root, before, result


def test_report_is_cross_validated_with_every_figure(fitted):
    root, _, result = fitted
    for kind in ("intent", "urgency", "sentiment"):
        assert f"{kind}: 120 examples, accuracy" in result.stdout
    assert "5-fold cross-validated" in result.stdout and "macro-F1" in result.stdout and "ECE" in result.stdout
    [folder] = (root / "heads").glob("fit-*/report")
    report = json.loads((folder / "fit-report.json").read_text())
    intent = report["reports"]["intent"]
    assert intent["confusion"]["labels"] == ["account", "churn", "delivery", "payments", "product"]
    assert intent["accuracy"] > 0.6 and 0 <= intent["ece"] <= 1
    assert set(intent["per_class"]["payments"]) == {"precision", "recall", "f1", "support"}
    assert report["reports"]["urgency"]["confusion"]["labels"] == ["P1", "P2", "P3", "P4"]
    for kind in ("intent", "urgency", "sentiment"):
        assert (folder / f"confusion-{kind}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / "fit-report.txt").read_text().startswith("ticket-enrich fit team_history.jsonl")


def test_heads_land_in_the_manifest_and_nothing_is_lost(fitted, artifacts_dir):
    root, before, _ = fitted
    manifest = load_manifest(root)
    for name in ("intent_head", "sentiment_head", "urgency_model", "domain_model"):
        entry = manifest.extras[name]
        assert entry.path.startswith("heads/fit-")
        assert sha256_file(root / entry.path) == entry.sha256
    [kept] = root.glob("manifest.before-fit-*.json")
    assert kept.read_text() == before
    for entry in load_manifest(artifacts_dir).extras.values():  # the previous heads are still there
        assert (root / entry.path).is_file()


def test_the_runtime_serves_the_fitted_heads_without_refitting(fitted):
    root, _, _ = fitted
    enricher = Enricher.from_artifacts(root, RuntimeConfig(profile="offline"))
    assert enricher.intent_note is None and enricher.urgency_note is None and enricher.sentiment_note is None
    assert enricher.intent_head.labels == ("account", "churn", "delivery", "payments", "product")
    [result] = enricher.enrich([{"ticket_id": "T", "body": "I was charged twice this month, please refund one.",
                                 "priority": "high"}])
    assert result.intent.label == "payments"
    assert result.urgency.level in {"P1", "P2", "P3", "P4"}
    origin = result.models["intent"]["origin"]
    assert origin["kind"] == "fit" and origin["file"] == "team_history.jsonl"
    assert result.models["intent"]["head_sha256"] == load_manifest(root).extras["intent_head"].sha256
    assert result.models["urgency"]["origin"]["kind"] == "fit"


def test_report_only_leaves_the_artifacts_alone(artifacts_dir, tmp_path):
    root = linked_copy(artifacts_dir, tmp_path / "art")
    before = (root / "manifest.json").read_bytes()
    result = fit(HISTORY, "--artifacts", root, "--labels", "intent", "--report-only", "--report", tmp_path / "r")
    assert result.returncode == 0, result.stderr
    assert (root / "manifest.json").read_bytes() == before
    assert (tmp_path / "r" / "confusion-intent.png").is_file()
    assert "urgency: 120 examples" not in result.stdout  # only the kinds asked for are fitted and reported


def write(tmp_path, rows):
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def ticket(i, **labels):
    return {"ticket_id": f"T-{i}", "body": f"ticket number {i} about something", "labels": labels}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"ticket_id": "T-1", "body": "no labels here"}] + [ticket(i, intent="a" if i % 2 else "b") for i in range(20)],
         'line 1: no "labels" object'),
        ([ticket(i, intent="a" if i % 2 else "b", priority="high") for i in range(20)], "unknown label kind 'priority'"),
        ([ticket(i, intent="a" if i < 17 else "b") for i in range(20)], "class 'b' has 3 example(s)"),
        ([ticket(i, intent="a") for i in range(20)], "only one class"),
        ([ticket(i, intent="a" if i % 2 else "b") for i in range(20)] + [{"ticket_id": "", "body": "x", "labels": {"intent": "a"}}],
         "line 21: "),
        ([ticket(i, intent="") for i in range(10)], "must be a non-empty string"),
    ],
)
def test_bad_input_says_what_to_fix(tmp_path, rows, message):
    with pytest.raises(FitInputError) as refused:
        read_history(write(tmp_path, rows))
    assert message in str(refused.value) and "nothing was written" in str(refused.value)


def test_bad_input_writes_nothing(artifacts_dir, tmp_path):
    root = linked_copy(artifacts_dir, tmp_path / "art")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    result = fit(write(tmp_path, [ticket(i, intent="a" if i < 18 else "b") for i in range(20)]), "--artifacts", root)
    assert result.returncode == 2
    assert "class 'b' has 2 example(s)" in result.stderr
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert fit(HISTORY, "--artifacts", root, "--labels", "topic").returncode == 2
