"""The AWS requests the worker makes per ticket, counted on the emulator: what docs/CAPACITY.md
prices (tools/capacity.py's REQUESTS), and the sizes its storage and write units assume."""

from __future__ import annotations

import json
import math
from collections import Counter

import boto3
from worker_harness import run_worker, ticket, upload

from tools import capacity
from tools.rig import records
from worker.aws import AwsClients

TICKETS = 30


def test_requests_per_ticket_are_what_the_capacity_plan_prices(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=120)  # the default: a batch is extended only after 40 s
    for i in range(TICKETS):
        text = "My order arrived damaged and the replacement never shipped. " * 6  # a typical ticket, ~360 characters
        upload(clients, stack, f"count/{i}.json", ticket(f"CNT-{i:02d}", text))
    calls: Counter = Counter()
    session = boto3.Session()
    session.events.register("after-call.*.*", lambda model, **_: calls.update([f"{model.service_model.service_name}."
                                                                                 f"{model.name}"]))
    stats, _ = run_worker(stack, enricher, AwsClients.from_session(session))
    batches, receives_needed = stats.batches, math.ceil(TICKETS / 10)  # SQS hands out at most 10 a receive
    # Gathering (TICKET_ENRICH_GATHER_MESSAGES=30) may put all 30 in one batch, or not (the emulator
    # need not hand out every message at once): between 1 and one batch per receive.
    assert stats.outcomes["enriched"] == TICKETS and 1 <= batches <= receives_needed + 1

    per_ticket = {"s3.GetObject": 1, "s3.PutObject": 1, "dynamodb.PutItem": 1}
    for operation, count in per_ticket.items():
        assert calls[operation] == count * TICKETS, operation
    assert calls["dynamodb.BatchGetItem"] == batches  # the dedupe lookup, one per batch (up to 100 keys)
    # DeleteMessageBatch takes at most 10 entries: one call per 10 messages of a batch.
    assert receives_needed <= calls["sqs.DeleteMessageBatch"] <= receives_needed + batches
    # Receives: one per 10 messages, plus an empty short poll that may end each gathering and the
    # empty polls of --until-empty at the end.
    assert receives_needed <= calls["sqs.ReceiveMessage"] <= receives_needed + batches + 3
    assert calls["sqs.ChangeMessageVisibilityBatch"] == 0, "no failures to back off, no batch over 40 s"
    # The plan's table says the same, per ticket at batches of 10 (an upper bound: a gathered batch
    # of 30 makes one dedupe lookup for 30 tickets).
    priced = capacity.REQUESTS
    assert priced["s3"] == {"GetObject (the raw ticket)": 1.0, "PutObject (the enriched document)": 1.0}
    assert priced["dynamodb"]["PutItem (the record)"] == 1.0 and priced["dynamodb"]["BatchGetItem (dedupe, per batch)"] == 0.1
    assert priced["sqs"]["ReceiveMessage"] == priced["sqs"]["DeleteMessageBatch"] == 0.1

    # Sizes: a record fits the write units priced (1 WRU per KB), a document the storage priced.
    found = records(clients, stack)
    record_bytes = max(sum(len(k) + len(json.dumps(v)) for k, v in item.items()) for item in found.values())
    assert record_bytes <= capacity.WRU_PER_RECORD * 1024 == capacity.RECORD_KB * 1024
    document_bytes = max(len(clients.s3.get_object(Bucket=stack.enriched_bucket, Key=f"{t}.json")["Body"].read())
                         for t in found)
    assert document_bytes <= capacity.DOCUMENT_KB * 1024
    print(f"record {record_bytes} bytes, document {document_bytes} bytes, calls {dict(calls)}")
