"""JSON that parses in some readers and breaks others: it must become a rejection naming the
reason, never an exception that takes the worker's whole batch back to the queue (and, after
five receives, to the dead-letter queue with the good tickets it shared a batch with)."""

from __future__ import annotations

import json

import pytest
from worker_harness import run_worker, ticket, upload

from runtime.errors import TicketRejected
from ticket_schema import validate_ticket
from tools.rig import records
from worker.records import enriched_document
from worker.resources import queue_depth

HOSTILE = {
    "nested-too-deep-to-parse": (b'{"ticket_id": "T-1", "body": "hi", "metadata": {"x": '
                                 + b"[" * 100_000 + b"]" * 100_000 + b"}}", "ticket", "nested too deeply"),
    "nested-deep-metadata": (b'{"ticket_id": "T-1", "body": "hi", "metadata": {"x": '
                             + b"[" * 200 + b"]" * 200 + b"}}", "metadata", "levels deep"),
    "integer-past-python-limit": (b'{"ticket_id": "T-1", "body": "hi", "metadata": {"n": ' + b"9" * 5_000 + b"}}",
                                  "ticket", "digits long"),
    "lone-surrogate-in-metadata": (b'{"ticket_id": "T-1", "body": "hi", "metadata": {"note": ["\\ud800"]}}',
                                   "metadata", "not valid Unicode"),
    "nan": (b'{"ticket_id": "T-1", "body": "hi", "metadata": {"score": NaN}}', "ticket", "NaN"),
    "infinity": (b'{"ticket_id": "T-1", "body": "hi", "metadata": {"score": 1e999}}', "ticket", "out of range"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_json_is_rejected_with_its_reason(name):
    raw, field, reason = HOSTILE[name]
    with pytest.raises(TicketRejected) as caught:
        validate_ticket(raw)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_accepted_metadata_can_be_written_back_as_json(offline_enricher):
    ticket_ = validate_ticket(b'{"ticket_id": "T-1", "body": "hi", "metadata": {"a": [[[1, 2.5]]], "b": "\\u00e9"}}')
    [enrichment] = offline_enricher.enrich([ticket_])
    document = enriched_document(ticket_, enrichment, source="s3://b/k", variant=None)
    assert json.loads(json.dumps(document, ensure_ascii=False).encode("utf-8"))["ticket"]["metadata"]["b"] == "é"


def test_a_hostile_ticket_does_not_take_its_batch_down(clients, stack, enricher):
    for name, (raw, _, _) in HOSTILE.items():
        upload(clients, stack, f"hostile/{name}.json", raw)
    for i in range(3):
        upload(clients, stack, f"good/{i}.json", ticket(f"GOOD-{i}"))
    stats, metrics = run_worker(stack, enricher, clients)

    found = records(clients, stack)
    assert {t for t in found if not t.startswith("rejected:")} == {"GOOD-0", "GOOD-1", "GOOD-2"}
    rejected = {item["source"]["S"].rsplit("/", 1)[-1]: item for item in found.values()
                if item["status"]["S"] == "rejected"}
    assert set(rejected) == {f"{name}.json" for name in HOSTILE}
    for name, (_, field, reason) in HOSTILE.items():
        assert rejected[f"{name}.json"]["field"]["S"] == field and reason in rejected[f"{name}.json"]["reason"]["S"]
    assert stats.outcomes["failed"] == 0, "a hostile ticket failed a batch instead of being rejected"
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == 0


def test_a_claimed_id_that_is_not_valid_unicode_is_kept_escaped():
    with pytest.raises(TicketRejected) as caught:
        validate_ticket(b'{"ticket_id": "T-\\ud800", "body": "hi"}')
    assert caught.value.field == "ticket_id"
    assert caught.value.ticket_id == "T-\\ud800"  # the escape as text: valid UTF-8 for DynamoDB and the logs
    caught.value.ticket_id.encode("utf-8")
