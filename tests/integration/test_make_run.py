"""`make run` as a newcomer runs it, then what they try next: the emulator keeps the results, so
`make status` and `make show` read them; `make run` again starts afresh; `make aws-down` stops the
emulator even with AWS_ENDPOINT_URL exported in the shell. Real make, a real moto server on a free
port, its files in a temporary folder (never the default port or .aws-local)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from worker_harness import REPO, ticket

from worker import emulator as emu

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


@pytest.fixture()
def samples(tmp_path) -> Path:
    folder = tmp_path / "samples"
    folder.mkdir()
    for i in range(3):
        (folder / f"MR-{i}.json").write_bytes(ticket(f"MR-{i}"))
    (folder / "broken.json").write_text('{"ticket_id": "MR-X", "body": "two\nlines"}')
    return folder


def test_make_run_keeps_its_results_to_look_at(tmp_path, samples, artifacts_dir, checkpoints_dir):
    state, port = tmp_path / "aws-local", emu.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TICKET_ENRICH_", "MAKE"))}
    env.update(TICKET_ENRICH_CHECKPOINTS=str(checkpoints_dir), AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))

    def make(*args: str, environ: dict[str, str] = env) -> subprocess.CompletedProcess:
        return subprocess.run(["make", "--no-print-directory", *args, f"AWS_LOCAL_DIR={state}"], cwd=REPO,
                              env=environ, capture_output=True, text=True, timeout=600)

    # The test artifacts are exactly what `STANDINS=tiny PROFILE=full` exports: the export step is "up to date".
    run = ["run", f"AWS_LOCAL_PORT={port}", f"ARTIFACTS={artifacts_dir}", "STANDINS=tiny", "PROFILE=full",
           f"SAMPLES={samples}"]
    try:
        first = make(*run)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        for i in range(3):
            assert f"MR-{i}" in first.stdout
        assert f"keeps running at http://127.0.0.1:{port}" in first.stdout and "make aws-down" in first.stdout
        assert emu.healthy(f"http://127.0.0.1:{port}")

        # No port given: the make targets read it back from the emulator's port file.
        status = make("status")
        assert status.returncode == 0, status.stderr
        assert "records 4 (3 enriched, 1 rejected)" in status.stdout

        shown = make("show", "ID=MR-1")
        assert shown.returncode == 0, shown.stderr
        assert "MR-1: enriched" in shown.stdout and "intent" in shown.stdout and "384 floats" in shown.stdout
        assert len(shown.stdout) < 4000  # readable: not 384 floats and blocks of hashes
        rejected = make("show", "ID=broken.json")
        assert rejected.returncode == 0, rejected.stderr
        assert "rejected" in rejected.stdout and "raw control character" in rejected.stdout
        assert "MR-X" in rejected.stdout  # the id the broken ticket carried
        as_stored = subprocess.run([str(REPO / ".venv" / "bin" / "ticket-enrich"), "aws", "show", "MR-1", "--json"],
                                   cwd=REPO, capture_output=True, text=True, timeout=120, env={
                                       **env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                                       "AWS_SECRET_ACCESS_KEY": "testing"})
        stored = json.loads(as_stored.stdout)
        assert len(stored["document"]["enrichment"]["embedding"]) == 384
        assert stored["record"]["models_ref"] == stored["document"]["enrichment"]["models_ref"]
        assert set(stored["document"]["enrichment"]["models"]) >= {"embedding", "intent", "summary"}

        again = make(*run)  # the emulator is reused and emptied: the same report, not "duplicates"
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        assert "already running" in again.stdout and "emptied" in again.stdout
        assert "Tickets: 3 enriched, 1 rejected, 0 duplicates" in again.stdout

        # AWS_ENDPOINT_URL exported in the shell (as the README shows for running the worker by hand):
        # aws-down still stops the emulator that aws-up started.
        down = make("aws-down", environ={**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"})
        assert down.returncode == 0 and "stopped the AWS emulator" in down.stdout, down.stdout + down.stderr
        assert not emu.healthy(f"http://127.0.0.1:{port}")
        assert not (state / emu.PID_FILE).exists()
    finally:
        emu.down(state)
