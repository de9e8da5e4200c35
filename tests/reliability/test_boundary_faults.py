"""Faults at every AWS boundary of the worker, beyond what tests/integration/test_worker_faults.py
covers (a throttled put that the client's retries absorb, a failed S3 get, an unreachable delete):
failures that outlast botocore's retries, requests that took effect but whose reply was lost,
and SQS's partial failures. Each ends with every ticket recorded exactly once, nothing in the
dead-letter queue and the queue drained. Faults are botocore hooks on the clients' session."""

from __future__ import annotations

from typing import Any

import boto3
from boundary_faults import DeleteEntriesFail, LostReply
from faults import Fault
from worker_harness import queue_url, run_worker, ticket, upload

from tools.rig import object_keys, records
from worker.aws import AwsClients, retry_config
from worker.resources import queue_depth

ATTEMPTS = 2  # botocore attempts per call in these tests (6 in production): a fault of 2n sends outlasts n calls


def hooked_clients(*hooks: Any) -> AwsClients:
    session = boto3.Session()
    for hook in hooks:
        hook.register(session.events)
    return AwsClients.from_session(session, retry_config(ATTEMPTS))


def upload_tickets(clients, stack, prefix: str, count: int) -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(count)]
    for ticket_id in ids:
        upload(clients, stack, f"{prefix}/{ticket_id}.json", ticket(ticket_id))
    return ids


def drop_test_event(clients, stack) -> None:
    """Delete the s3:TestEvent that setup's notification queued, so the tickets' batch is the first."""
    url = queue_url(clients, stack.queue_name)
    for message in clients.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        assert "s3:TestEvent" in message["Body"]
        clients.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def assert_settled_once(clients, stack, ids: list[str], rejected: int = 0) -> dict[str, dict[str, Any]]:
    """Exactly these tickets recorded (plus `rejected` rejection records), once each; nothing
    waiting, in flight or dead."""
    found = records(clients, stack)
    assert sorted(t for t in found if not t.startswith("rejected:")) == sorted(ids)
    assert sum(1 for t in found if t.startswith("rejected:")) == rejected
    enriched = [k for k in object_keys(clients, stack.enriched_bucket) if not k.startswith("rejected/")]
    assert sorted(enriched) == sorted(f"{t}.json" for t in ids)
    assert queue_depth(clients.sqs, stack.queue_name) == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == 0
    return found


def receive_counts(found: dict[str, dict[str, Any]], ids: list[str]) -> list[int]:
    return [int(found[t]["receive_count"]["N"]) for t in ids]


def test_s3_put_failing_past_retries_is_written_on_the_next_delivery(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=2)
    ids = upload_tickets(clients, stack, "PUT", 2)
    clients.sqs.send_message(QueueUrl=queue_url(clients, stack.queue_name), MessageBody="<not a ticket>")
    fault = Fault("s3.PutObject", "server_error", times=3 * ATTEMPTS)  # two documents and the rejected bytes
    stats, metrics = run_worker(stack, enricher, hooked_clients(fault))

    found = assert_settled_once(clients, stack, ids, rejected=1)
    assert fault.injected == 3 * ATTEMPTS
    assert receive_counts(found, ids) == [2, 2]  # no record before its document: the first delivery wrote nothing
    [rejection] = [item for t, item in found.items() if t.startswith("rejected:")]
    key = rejection["payload_object"]["S"].removeprefix(f"s3://{stack.enriched_bucket}/")
    assert clients.s3.get_object(Bucket=stack.enriched_bucket, Key=key)["Body"].read() == b"<not a ticket>"
    assert stats.outcomes == {"enriched": 2, "duplicate": 0, "rejected": 1, "failed": 3}
    assert metrics.value("ticket_enrich_messages_total", outcome="retried") == 3


def test_dynamodb_throttled_past_retries_is_recorded_on_the_next_delivery(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=2)
    ids = upload_tickets(clients, stack, "THR", 3)
    fault = Fault("dynamodb.PutItem", "throttle", times=3 * ATTEMPTS)
    stats, _ = run_worker(stack, enricher, hooked_clients(fault))

    found = assert_settled_once(clients, stack, ids)
    assert fault.injected == 3 * ATTEMPTS
    assert receive_counts(found, ids) == [2, 2, 2]
    assert stats.outcomes == {"enriched": 3, "duplicate": 0, "rejected": 0, "failed": 3}
    assert stats.enrich_calls == 2  # enriched again on the redelivery: no record existed


def test_dynamodb_unreachable_fails_the_batch_and_it_comes_back(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=2)
    ids = upload_tickets(clients, stack, "DDB", 3)
    lookup = Fault("dynamodb.BatchGetItem", "unreachable", times=ATTEMPTS)
    write = Fault("dynamodb.PutItem", "unreachable", times=3 * ATTEMPTS)
    stats, metrics = run_worker(stack, enricher, hooked_clients(lookup, write))

    found = assert_settled_once(clients, stack, ids)
    assert (lookup.injected, write.injected) == (ATTEMPTS, 3 * ATTEMPTS)
    assert receive_counts(found, ids) == [2, 2, 2]
    assert stats.outcomes["failed"] == 3 and stats.outcomes["enriched"] == 3
    assert metrics.value("ticket_enrich_messages_total", outcome="retried") == 3


def test_dynamodb_write_that_took_effect_but_lost_its_reply_is_not_duplicated(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=2)
    ids = upload_tickets(clients, stack, "LOST", 3)
    lost = LostReply("dynamodb.PutItem", times=3)  # each put lands; botocore's retry meets its own record
    stats, metrics = run_worker(stack, enricher, hooked_clients(lost))

    found = assert_settled_once(clients, stack, ids)
    assert lost.injected == 3
    assert receive_counts(found, ids) == [1, 1, 1]  # written on the first delivery, once
    # The retry's conditional put fails, so the worker counts the ticket as a duplicate (see
    # docs/RELIABILITY.md); the message is deleted all the same and nothing comes back.
    assert stats.outcomes["failed"] == 0 and stats.outcomes["enriched"] + stats.outcomes["duplicate"] == 3
    assert metrics.value("ticket_enrich_messages_total", outcome="retried") == 0 and stats.enrich_calls == 1


def test_sqs_delete_with_failed_entries_is_a_harmless_redelivery(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=2)
    drop_test_event(clients, stack)
    ids = upload_tickets(clients, stack, "PART", 3)
    partial = DeleteEntriesFail(times=1)  # the tickets' delete: all three entries fail
    stats, metrics = run_worker(stack, enricher, hooked_clients(partial))

    found = assert_settled_once(clients, stack, ids)
    assert partial.injected == 1 and partial.entries == 3
    assert receive_counts(found, ids) == [1, 1, 1]
    assert stats.outcomes["enriched"] == 3 and stats.outcomes["duplicate"] == 3  # came back, recognised
    assert metrics.value("ticket_enrich_aws_errors_total", operation="DeleteMessageBatch", code="InternalError") == partial.entries


def test_sqs_delete_that_took_effect_but_lost_its_reply(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=2)
    drop_test_event(clients, stack)
    ids = upload_tickets(clients, stack, "DLOST", 3)
    lost = LostReply("sqs.DeleteMessageBatch", times=1)  # the retry repeats a delete that already happened
    stats, _ = run_worker(stack, enricher, hooked_clients(lost))

    found = assert_settled_once(clients, stack, ids)
    assert lost.injected == 1
    assert receive_counts(found, ids) == [1, 1, 1]
    assert stats.outcomes == {"enriched": 3, "duplicate": 0, "rejected": 0, "failed": 0}


def test_sqs_receive_whose_reply_was_lost_delivers_the_messages_later(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=2)
    ids = upload_tickets(clients, stack, "RLOST", 3)
    lost = LostReply("sqs.ReceiveMessage", times=1)  # received (now in flight), but the worker never saw them
    stats, _ = run_worker(stack, enricher, hooked_clients(lost))

    found = assert_settled_once(clients, stack, ids)
    assert lost.injected == 1
    assert all(count >= 2 for count in receive_counts(found, ids))
    assert stats.outcomes == {"enriched": 3, "duplicate": 0, "rejected": 0, "failed": 0}


def test_throttled_receive_and_a_failing_visibility_change_lose_nothing(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=2)
    ids = upload_tickets(clients, stack, "VIS", 2)
    receive = Fault("sqs.ReceiveMessage", "throttle", times=ATTEMPTS)  # the first receive fails outright
    get = Fault("s3.GetObject", "server_error", times=2 * ATTEMPTS)  # both tickets fail their first delivery
    backoff = Fault("sqs.ChangeMessageVisibilityBatch", "unreachable", times=ATTEMPTS)  # and their backoff is not set
    stats, metrics = run_worker(stack, enricher, hooked_clients(receive, get, backoff))

    found = assert_settled_once(clients, stack, ids)
    assert (receive.injected, get.injected, backoff.injected) == (ATTEMPTS, 2 * ATTEMPTS, ATTEMPTS)
    assert receive_counts(found, ids) == [2, 2]  # back after the visibility timeout instead of the backoff
    assert metrics.value("ticket_enrich_aws_errors_total", operation="ChangeMessageVisibility", code="EndpointConnectionError") == 1
    assert stats.outcomes["failed"] == 2
