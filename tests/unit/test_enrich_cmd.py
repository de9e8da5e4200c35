"""`ticket-enrich enrich`: special-token text enriched like any other (Hub-layout artifacts, where
`<mask>` is one past DistilBART's rows), one failing ticket costing that ticket alone, the summary
preset chosen by flag and recorded, and the seed pipeline's own tickets accepted as they are."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from runtime import Enricher
from tests.special_tokens import special_tickets
from ticket_enrich.cli import main

REPO = Path(__file__).resolve().parents[2]
TICKET_ENRICH = str(Path(sys.executable).with_name("ticket-enrich"))
LONG_BODY = ("Since the update on Monday our whole team is locked out of the dashboard: every login ends on a blank "
             "page after the password step, on Chrome and Firefox alike. We reset two passwords and cleared the "
             "cache without any change, and the reports for the board meeting on Friday live there. Please look "
             "into it today and tell us what to try in the meantime.")


def jsonl(path: Path, tickets: list[dict]) -> Path:
    path.write_text("".join(json.dumps(t) + "\n" for t in tickets), encoding="utf-8")
    return path


def enrich_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([TICKET_ENRICH, "enrich", *args], capture_output=True, text=True, timeout=300, cwd=REPO,
                          env=env)


def test_special_token_text_is_enriched_through_the_cli(hub_artifacts_dir, tmp_path):
    tickets = special_tickets()
    result = enrich_cli("--artifacts", str(hub_artifacts_dir), "--no-embedding", str(jsonl(tmp_path / "t.jsonl", tickets)))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["ticket_id"] for r in rows] == [t["ticket_id"] for t in tickets]
    for row in rows:
        assert "enrichment" in row, row
        assert row["enrichment"]["summary"] and row["enrichment"]["summary_kind"] == "abstractive"
        assert row["enrichment"]["summary_preset"] == "ticket"
    assert f"{len(tickets)} enriched, 0 rejected, 0 failed" in result.stderr


class PoisonedEnricher:
    """The real enricher, except that it raises whenever a batch holds the poison ticket; it
    records the batches it was asked for."""

    def __init__(self, inner: Enricher, poison_id: str):
        self.inner, self.poison_id, self.batches = inner, poison_id, []
        self.models = inner.models

    def enrich(self, tickets):
        self.batches.append([t.ticket_id for t in tickets])
        if any(t.ticket_id == self.poison_id for t in tickets):
            raise RuntimeError("onnxruntime: Gather idx=50264 out of bounds (simulated)")
        return self.inner.enrich(tickets)


def test_one_failing_ticket_costs_that_ticket_alone(artifacts_dir, tmp_path, monkeypatch, capsys):
    real = Enricher.from_artifacts(artifacts_dir)
    poisoned = PoisonedEnricher(real, "T-3")
    monkeypatch.setattr(Enricher, "from_artifacts", lambda *args, **kwargs: poisoned)
    tickets = [{"ticket_id": f"T-{i}", "subject": "Locked out", "body": LONG_BODY} for i in range(6)]
    lines = [json.dumps(t) for t in tickets]
    lines.insert(2, '{"ticket_id": "BAD", "body": 42}')
    source = tmp_path / "t.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"

    code = main(["enrich", "--artifacts", str(artifacts_dir), "--batch-size", "4", "--out", str(out), str(source)])

    assert code == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["ticket_id"] for r in rows] == ["T-0", "T-1", "BAD", "T-2", "T-3", "T-4", "T-5"]
    assert rows[2]["rejected"]["field"] == "body" and rows[2]["line"] == 3
    assert rows[4] == {"ticket_id": "T-3", "line": 5,
                       "failed": {"reason": "RuntimeError: onnxruntime: Gather idx=50264 out of bounds (simulated)"}}
    assert all("enrichment" in r for i, r in enumerate(rows) if i not in (2, 4))
    # the batch holding T-3 was retried ticket by ticket; the other batch ran once
    assert poisoned.batches == [["T-0", "T-1", "T-2"], ["T-3", "T-4", "T-5"], ["T-3"], ["T-4"], ["T-5"]]
    err = capsys.readouterr().err
    assert "line 5: ticket 'T-3' failed: RuntimeError" in err and "5 enriched, 1 rejected, 1 failed" in err


def test_summary_preset_flag(artifacts_dir, tmp_path, capsys):
    source = jsonl(tmp_path / "t.jsonl", [{"ticket_id": "T-1", "subject": "Locked out", "body": LONG_BODY}])
    out = tmp_path / "out.jsonl"
    assert main(["enrich", "--artifacts", str(artifacts_dir), "--summary-preset", "news", "--no-embedding",
                 "--out", str(out), str(source)]) == 0
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["enrichment"]["summary_preset"] == "news"
    assert len(row["enrichment"]["summary"].split()) <= len(f"Locked out {LONG_BODY}".split())


@pytest.mark.parametrize("profile", ["full", "offline"])
def test_the_seed_pipelines_example_tickets_through_the_cli(artifacts_dir, tmp_path, profile):
    seed = sorted((REPO / "samples" / "seed").glob("*.json"))
    assert [p.name for p in seed] == ["TEST-001.json", "TICKET-123.json"]
    source = tmp_path / "seed.jsonl"
    source.write_bytes(b"".join(p.read_bytes().strip() + b"\n" for p in seed))
    result = enrich_cli("--artifacts", str(artifacts_dir), "--profile", profile, "--no-embedding", str(source))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["ticket_id"]: row["enrichment"] for row in map(json.loads, result.stdout.splitlines())}
    assert set(rows) == {"TEST-001", "TICKET-123"}
    assert rows["TEST-001"]["intent"]["label"] == "login_issue"  # real MiniLM: meaningful
    assert rows["TICKET-123"]["intent"]["label"] in ("billing", "refund_request")


# ---- exit codes, checks before the models load, output weight, the closing line ---------------

LOADED = re.compile(r"^variant \w+ \(available", re.MULTILINE)  # the runtime's log line once it reads the artifacts


def test_exit_0_every_line_enriched_with_the_provenance_printed_once(artifacts_dir, tmp_path):
    source = jsonl(tmp_path / "t.jsonl", [{"ticket_id": f"T-{i}", "subject": "Locked out", "body": LONG_BODY}
                                          for i in range(3)])
    out, provenance = tmp_path / "out.jsonl", tmp_path / "models.json"
    result = enrich_cli("--artifacts", str(artifacts_dir), "--profile", "offline", "--out", str(out),
                        "--provenance", str(provenance), str(source))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    block = json.loads(provenance.read_text())
    for row in rows:  # a short reference per line, not the block of hashes
        assert "models" not in row["enrichment"] and row["enrichment"]["models_ref"] == block["models_ref"]
        assert len(json.dumps(row)) - len(json.dumps(row["enrichment"]["embedding"])) < 1200
    assert block["models"]["embedding"]["artifact_sha256"] and len(block["models_ref"]) == 12
    assert f"models {block['models_ref']}: embedding " in result.stderr
    assert LOADED.search(result.stderr)  # the marker the exit-2 cases look for
    last = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"3 enriched, 0 rejected, 0 failed: 3 tickets in \d+\.\d s, \d+\.\d tickets/s "
                        r"\(models loaded in \d+\.\d s\)", last), last


def test_exit_1_when_a_line_is_rejected(artifacts_dir, tmp_path):
    source = tmp_path / "t.jsonl"
    source.write_text(json.dumps({"ticket_id": "T-1", "body": LONG_BODY}) + "\n"
                      + json.dumps({"ticket_id": "T-2", "body": "x", "priority": "asap"}) + "\n")
    result = enrich_cli("--artifacts", str(artifacts_dir), "--profile", "offline", "--no-embedding", str(source))
    assert result.returncode == 1, result.stderr[-2000:]
    rejected = json.loads(result.stdout.splitlines()[1])
    assert rejected == {"ticket_id": "T-2", "line": 2, "rejected": {
        "field": "priority", "reason": "unknown priority 'asap'; use one of low, medium, high, critical"}}
    assert "1 enriched, 1 rejected, 0 failed" in result.stderr


@pytest.mark.parametrize("case", ["out-folder-missing", "out-is-a-folder", "provenance-folder-missing",
                                  "input-missing", "artifacts-missing", "usage"])
def test_exit_2_before_the_models_load(artifacts_dir, tmp_path, case):
    source = jsonl(tmp_path / "t.jsonl", [{"ticket_id": "T-1", "body": LONG_BODY}])
    args = {
        "out-folder-missing": ["--out", str(tmp_path / "missing" / "dir" / "file.jsonl"), str(source)],
        "out-is-a-folder": ["--out", str(tmp_path), str(source)],
        "provenance-folder-missing": ["--provenance", str(tmp_path / "missing" / "m.json"), str(source)],
        "input-missing": [str(tmp_path / "nowhere.jsonl")],
        "artifacts-missing": [str(source)],
        "usage": ["--batch-size", "many", str(source)],
    }[case]
    artifacts = tmp_path / "no-artifacts" if case == "artifacts-missing" else artifacts_dir
    result = enrich_cli("--artifacts", str(artifacts), *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    if case != "usage":  # argparse prints its usage lines first
        assert len(result.stderr.strip().splitlines()) <= 3, result.stderr
    if case != "artifacts-missing":
        assert not LOADED.search(result.stderr)  # refused before any model was read
    expected = {"out-folder-missing": "does not exist", "out-is-a-folder": "is a folder",
                "provenance-folder-missing": "--provenance", "input-missing": "cannot read",
                "artifacts-missing": "cannot start", "usage": "invalid int value"}[case]
    assert expected in result.stderr
    assert not (tmp_path / "missing").exists()
