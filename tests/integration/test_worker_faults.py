"""Faults at the AWS boundaries, injected with botocore hooks on the clients' session
(faults.py): each ends with every ticket recorded exactly once."""

from __future__ import annotations

import boto3
from faults import Fault
from worker_harness import run_worker, ticket, upload

from tools.rig import records
from worker.aws import AwsClients, retry_config
from worker.resources import queue_depth


def _clients_with(*faults: Fault, total_attempts: int = 2) -> AwsClients:
    session = boto3.Session()
    for fault in faults:
        fault.register(session.events)
    return AwsClients.from_session(session, retry_config(total_attempts))


def test_throttled_dynamodb_writes_are_retried_by_the_client(clients, stack, enricher):
    for i in range(2):
        upload(clients, stack, f"t{i}.json", ticket(f"TH-{i}"))
    fault = Fault("dynamodb.PutItem", "throttle", times=2)
    stats, metrics = run_worker(stack, enricher, _clients_with(fault, total_attempts=4))
    assert fault.injected == 2 and fault.sent == 4  # two throttled sends, then both puts went through
    assert sorted(records(clients, stack)) == ["TH-0", "TH-1"]
    assert stats.outcomes["failed"] == 0 and stats.enrich_calls == 1


def test_s3_get_failure_leaves_the_ticket_for_a_later_delivery(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=2)
    upload(clients, stack, "g.json", ticket("GET-1"))
    fault = Fault("s3.GetObject", "server_error", times=2)  # both attempts of the first delivery
    stats, metrics = run_worker(stack, enricher, _clients_with(fault))
    assert stats.outcomes == {"enriched": 1, "duplicate": 0, "rejected": 0, "failed": 1}
    assert metrics.value("ticket_enrich_messages_total", outcome="retried") == 1
    assert records(clients, stack)["GET-1"]["receive_count"]["N"] == "2"
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == 0


def test_delete_failure_after_the_write_is_a_harmless_redelivery(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=2)
    for i in range(3):
        upload(clients, stack, f"d{i}.json", ticket(f"DEL-{i}"))
    fault = Fault("sqs.DeleteMessageBatch", "unreachable", times=2)  # the first delete call, both attempts
    stats, metrics = run_worker(stack, enricher, _clients_with(fault))
    found = records(clients, stack)
    assert sorted(found) == ["DEL-0", "DEL-1", "DEL-2"]
    assert all(item["receive_count"]["N"] == "1" for item in found.values())  # written once, on the first try
    assert stats.outcomes["enriched"] == 3 and stats.outcomes["duplicate"] >= 3
    assert metrics.value("ticket_enrich_aws_errors_total", operation="DeleteMessageBatch", code="EndpointConnectionError") == 1
    assert queue_depth(clients.sqs, stack.queue_name) == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == 0
