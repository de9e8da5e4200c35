"""`ticket-enrich worker` in a subprocess, signalled while a batch is in hand. A botocore hook on
its session (hooked_worker.py) serialises and slows the DynamoDB writes, so "mid-batch" is a
state the test can wait for rather than a guess."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from worker_harness import run_worker, start_hooked_worker, ticket, upload

from tools.rig import log_lines, object_keys, records, worker_env
from worker.emulator import free_port
from worker.resources import queue_depth

WAIT_S = 90


def wait_for(predicate, what: str, process: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"the worker exited ({process.returncode}) before {what}:\n{log.read_text() if log else ''}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text() if log else ''}")


def marks(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


def test_sigkill_mid_batch_loses_nothing(clients, make_stack, enricher, aws_env, artifacts_dir, tmp_path):
    stack = make_stack(visibility_timeout=4)
    for i in range(9):
        upload(clients, stack, f"kill/{i}.json", ticket(f"K-{i}"))
    marker, log = tmp_path / "calls.txt", tmp_path / "worker.log"
    env = worker_env(aws_env, stack, artifacts_dir, TICKET_ENRICH_FIRST_BATCH="10")  # all 9 in one batch
    process = start_hooked_worker(env, marker, "dynamodb.PutItem=0.4", log)
    try:
        wait_for(lambda: marks(marker) >= 4, "the fourth record write", process, log)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    written_before = set(records(clients, stack))
    assert 0 < len(written_before) < 9, "the kill was meant to land between the batch's writes"

    stats, _ = run_worker(stack, enricher, clients)  # the messages come back after their visibility timeout

    found = records(clients, stack)
    assert sorted(found) == sorted(f"K-{i}" for i in range(9))
    assert stats.outcomes["duplicate"] == len(written_before)  # recorded before the kill: not enriched again
    assert stats.outcomes["enriched"] == 9 - len(written_before)
    assert all(found[t]["receive_count"]["N"] == "1" for t in written_before)
    assert sorted(object_keys(clients, stack.enriched_bucket)) == sorted(f"K-{i}.json" for i in range(9))
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == 0


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_sigterm_mid_batch_finishes_the_batch_and_exits_0(clients, make_stack, aws_env, artifacts_dir, tmp_path):
    # Visibility 2 s, extended every 0.5 s; the batch's writes alone take 9 x 0.5 s.
    stack = make_stack(visibility_timeout=2, extend_every=0.5).model_copy(update={"http_port": free_port()})
    for i in range(15):
        upload(clients, stack, f"term/{i}.json", ticket(f"S-{i:02d}"))
    total = queue_depth(clients.sqs, stack.queue_name)["visible"]  # 15 events and setup's s3:TestEvent
    marker, log = tmp_path / "calls.txt", tmp_path / "worker.log"
    env = worker_env(aws_env, stack, artifacts_dir, TICKET_ENRICH_VISIBILITY_EXTEND_EVERY="0.5",
                     TICKET_ENRICH_FIRST_BATCH="10")  # a first batch of 10, like every later one
    process = start_hooked_worker(env, marker, "dynamodb.PutItem=0.5", log)
    base = f"http://127.0.0.1:{stack.http_port}"
    try:
        wait_for(lambda: marks(marker) >= 1, "the first record write", process, log)
        assert _get(base + "/readyz")[0] == 200
        process.send_signal(signal.SIGTERM)
        wait_for(lambda: _get(base + "/readyz")[0] == 503, "readiness to drop after SIGTERM", process, log)
        wait_for(lambda: marks(marker) >= 7, "the seventh record write (past the visibility timeout)", process, log)
        in_hand = queue_depth(clients.sqs, stack.queue_name)["in_flight"]
        status, metrics = _get(base + "/metrics")
        assert status == 200 and "ticket_enrich_ready 1" in metrics
        process.wait(timeout=WAIT_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, log.read_text()

    lines = log_lines(log)
    batches = [line for line in lines if line.get("msg") == "batch done"]
    assert len(batches) == 1, "SIGTERM stops polling: no second batch"
    [batch] = batches
    assert in_hand == batch["messages"], "the batch in hand stayed invisible past its 2-second timeout"
    assert any(line.get("msg") == "extended visibility" for line in lines)
    assert len(records(clients, stack)) == batch["enriched"] > 0
    assert batch["failed"] == 0
    assert queue_depth(clients.sqs, stack.queue_name) == {
        "visible": total - batch["messages"], "in_flight": 0, "delayed": 0}


def test_sigterm_while_idle_ends_the_long_poll(clients, stack, aws_env, artifacts_dir, tmp_path):
    log = tmp_path / "worker.log"
    url = f"https://sqs.example/000000000000/{stack.queue_name}"  # a URL is accepted as well as a name
    del url
    env = worker_env(aws_env, stack, artifacts_dir)
    process = subprocess.Popen(
        [str(Path(__import__("sys").executable).with_name("ticket-enrich")), "worker"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(log, "wb"))  # noqa: SIM115
    try:
        wait_for(lambda: any(line.get("msg") == "worker ready" for line in log_lines(log)), "the worker to start",
                 process, log)
        time.sleep(1.0)  # now inside the 20-second long poll
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        waited = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
    assert waited < 15
    assert any(line.get("msg") == "stop requested; finishing the batch in hand" for line in log_lines(log))
    assert json.loads(log.read_text().splitlines()[-1])["msg"] == "worker stopped"
