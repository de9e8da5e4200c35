"""Races between workers on one queue, each made to happen rather than hoped for: the real worker
code against the emulator over HTTP, with botocore hooks (or a slow engine) holding one worker at
the moment that matters.

- Two workers hold the same redelivered message: the record's conditional put decides; the loser
  neither overwrites the record nor counts the ticket as enriched, and the metrics of each say
  what happened to it.
- A batch slower than the visibility timeout while another worker polls: both process the
  message, there is still one record and one document, and the slow worker's late delete is harmless.
- A worker SIGKILLed after its S3 write and before its DynamoDB write: the redelivery completes
  the record, the document is left as it was, and nothing is left without a record.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter

import boto3
import pytest
from worker_harness import run_worker, start_hooked_worker, ticket, upload

from tools.rig import log_lines, object_keys, records, worker_env
from worker.aws import AwsClients
from worker.resources import queue_depth

WAIT_S = 60


def _wait(predicate, what: str, limit_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _in_background(run):
    """Start `run()` in a thread; the dict gets its return value under "value"."""
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(value=run()))
    thread.start()
    return thread, result


def _document_writes(session: boto3.Session) -> Counter:
    """Count this session's successful S3 PutObject calls by key (a 412 is not a write)."""
    writes: Counter = Counter()

    def after(http_response, params=None, context=None, **_kwargs):
        if http_response is not None and http_response.status_code < 300:
            writes[context["put_key"]] += 1

    def remember(params, context, **_kwargs):
        context["put_key"] = params["Key"]

    session.events.register("before-parameter-build.s3.PutObject", remember)
    session.events.register("after-call.s3.PutObject", after)
    return writes


def test_two_workers_holding_one_redelivered_message_the_conditional_put_decides(clients, make_stack, enricher):
    # Visibility 2 s and no extension: the message comes back while the first worker still holds it.
    stack = make_stack(visibility_timeout=2, extend_every=0)
    upload(clients, stack, "race/one.json", ticket("RACE-1"))

    # Worker A receives the message, writes the document, then is held just before its record's
    # put until worker B (which receives the redelivered message) has written the record.
    slow_session = boto3.Session()
    a_writes = _document_writes(slow_session)
    a_at_put = threading.Event()

    def hold_put(**_kwargs):
        a_at_put.set()
        _wait(lambda: "RACE-1" in records(clients, stack), "worker B's record")

    slow_session.events.register("before-call.dynamodb.PutItem", hold_put)
    a, a_result = _in_background(lambda: run_worker(stack, enricher, AwsClients.from_session(slow_session)))
    _wait(a_at_put.is_set, "worker A to reach its record's put")

    b_session = boto3.Session()
    b_writes = _document_writes(b_session)
    b_stats, b_metrics = run_worker(stack, enricher, AwsClients.from_session(b_session))
    a.join(timeout=WAIT_S)
    assert not a.is_alive()
    a_stats, a_metrics = a_result["value"]

    (record,) = records(clients, stack).values()
    assert record["ticket_id"]["S"] == "RACE-1"
    assert record["receive_count"]["N"] == "2", "the record is the winner's: B, on the second delivery"
    # The loser: not enriched, a duplicate, and its metrics say the conditional put lost.
    assert (a_stats.outcomes["enriched"], a_stats.outcomes["duplicate"]) == (0, 1)
    assert a_metrics.value("ticket_enrich_tickets_total", outcome="duplicate") == 1
    assert a_metrics.value("ticket_enrich_tickets_total", outcome="enriched") == 0
    assert a_metrics.value("ticket_enrich_write_conflicts_total", target="record") == 1
    # The winner: enriched once; it found A's document there and left it (written once, by A).
    assert (b_stats.outcomes["enriched"], b_stats.outcomes["duplicate"]) == (1, 0)
    assert b_metrics.value("ticket_enrich_write_conflicts_total", target="document") == 1
    assert b_metrics.value("ticket_enrich_write_conflicts_total", target="record") == 0
    assert (a_writes["RACE-1.json"], b_writes["RACE-1.json"]) == (1, 0)
    assert object_keys(clients, stack.enriched_bucket) == ["RACE-1.json"]
    assert queue_depth(clients.sqs, stack.queue_name) == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == 0


class SlowEngine:
    """The real Enricher, `seconds` slower per call: a batch that outlasts its visibility timeout."""

    def __init__(self, engine, seconds: float):
        self.engine, self.seconds = engine, seconds
        self.variant, self.profile = engine.variant, engine.profile
        self.calls = 0

    def enrich(self, tickets):
        self.calls += 1
        time.sleep(self.seconds)
        return self.engine.enrich(tickets)


def test_a_batch_slower_than_its_visibility_timeout_while_another_worker_polls(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=3, extend_every=0)
    for i in range(3):
        upload(clients, stack, f"slow/{i}.json", ticket(f"SLOW-{i}"))
    slow = SlowEngine(enricher, 8.0)  # well past the 3-second visibility timeout
    a, slow_result = _in_background(lambda: run_worker(stack, slow, clients))
    _wait(lambda: slow.calls >= 1, "the slow worker's enrich call")

    fast = SlowEngine(enricher, 0.0)
    b_stats, b_metrics = run_worker(stack, fast, clients)  # polls meanwhile: gets the messages back after 3 s
    a.join(timeout=WAIT_S)
    assert not a.is_alive()
    a_stats, a_metrics = slow_result["value"]

    found = records(clients, stack)
    assert sorted(found) == ["SLOW-0", "SLOW-1", "SLOW-2"]
    assert {item["receive_count"]["N"] for item in found.values()} == {"2"}, "recorded by the second delivery"
    # Both processed the tickets; the slow one found the documents and the records there.
    assert slow.calls == 1 and fast.calls >= 1
    assert (a_stats.outcomes["enriched"], a_stats.outcomes["duplicate"]) == (0, 3)
    assert a_metrics.value("ticket_enrich_write_conflicts_total", target="document") == 3
    assert a_metrics.value("ticket_enrich_write_conflicts_total", target="record") == 3
    assert b_stats.outcomes["enriched"] == 3
    # The slow worker's delete came late, with receipt handles from the first delivery: the
    # messages were already gone. Nothing else was deleted, nothing is left, nothing dead-lettered.
    assert a_metrics.value("ticket_enrich_messages_total", outcome="retried") == 0
    assert sorted(object_keys(clients, stack.enriched_bucket)) == [f"SLOW-{i}.json" for i in range(3)]
    assert queue_depth(clients.sqs, stack.queue_name) == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == 0


def test_sigkill_between_the_document_and_the_record(clients, make_stack, enricher, aws_env, artifacts_dir, tmp_path):
    stack = make_stack(visibility_timeout=2, extend_every=0)
    for i in range(3):
        upload(clients, stack, f"gap/{i}.json", ticket(f"GAP-{i}"))
    marker, log = tmp_path / "calls.txt", tmp_path / "worker.log"
    # The record puts wait 60 s each (serialised): the kill lands after the documents, before any record.
    env = worker_env(aws_env, stack, artifacts_dir, TICKET_ENRICH_FIRST_BATCH="10")
    process = start_hooked_worker(env, marker, "dynamodb.PutItem=60", log)
    try:
        _wait(lambda: marker.exists() and marker.read_text().strip(), "the first record put")
        _wait(lambda: len(object_keys(clients, stack.enriched_bucket)) == 3, "the three documents")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert records(clients, stack) == {}, "killed before any record"
    before = {key: clients.s3.get_object(Bucket=stack.enriched_bucket, Key=key)["Body"].read()
              for key in object_keys(clients, stack.enriched_bucket)}

    session = boto3.Session()
    writes = _document_writes(session)
    stats, metrics = run_worker(stack, enricher, AwsClients.from_session(session))

    found = records(clients, stack)
    assert sorted(found) == ["GAP-0", "GAP-1", "GAP-2"]
    assert {item["receive_count"]["N"] for item in found.values()} == {"2"}
    assert stats.outcomes["enriched"] == 3
    # The documents were left exactly as the killed worker wrote them, and each has its record.
    assert sum(writes.values()) == 0
    assert metrics.value("ticket_enrich_write_conflicts_total", target="document") == 3
    after = {key: clients.s3.get_object(Bucket=stack.enriched_bucket, Key=key)["Body"].read()
             for key in object_keys(clients, stack.enriched_bucket)}
    assert after == before
    assert {key.removesuffix(".json") for key in after} == set(found), "no document without its record"
    assert all(found[t]["enriched_object"]["S"] == f"s3://{stack.enriched_bucket}/{t}.json" for t in found)
    assert queue_depth(clients.sqs, stack.queue_name) == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == 0
    assert not [line for line in log_lines(log) if line.get("level") == "ERROR"]
