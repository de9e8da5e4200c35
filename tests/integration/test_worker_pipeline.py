"""The worker contract against moto server over HTTP, with the real runtime on the tiny artifacts."""

from __future__ import annotations

import json

from worker_harness import queue_url, run_worker, ticket, upload

from tools.rig import object_keys, records
from worker.resources import queue_depth


def test_s3_upload_becomes_an_enriched_object_and_a_record(clients, stack, enricher):
    key = "incoming/T 100+urgent.json"  # a space and a plus: the event carries it URL-encoded
    upload(clients, stack, key, ticket("T-100", priority="urgent"))
    stats, metrics = run_worker(stack, enricher, clients)

    record = records(clients, stack)["T-100"]
    assert record["status"]["S"] == "enriched"
    assert record["source"]["S"] == f"s3://{stack.raw_bucket}/{key}"
    assert record["urgency"]["S"] in ("low", "medium", "high", "critical")
    assert record["variant"]["S"] == enricher.variant
    document = json.loads(clients.s3.get_object(Bucket=stack.enriched_bucket, Key="T-100.json")["Body"].read())
    assert document["ticket_id"] == "T-100" and document["ticket"]["priority"] == "critical"
    assert len(document["enrichment"]["embedding"]) == 384
    assert document["enrichment"]["profile"] == enricher.profile
    assert record["enriched_object"]["S"] == f"s3://{stack.enriched_bucket}/T-100.json"
    # The s3:TestEvent that setup's notification produced was deleted, not processed.
    assert metrics.value("ticket_enrich_messages_total", outcome="skipped") == 1
    assert stats.outcomes == {"enriched": 1, "duplicate": 0, "rejected": 0, "failed": 0}
    assert queue_depth(clients.sqs, stack.queue_name) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_a_batch_is_one_enrich_call_and_direct_tickets_work(clients, stack, enricher):
    url = queue_url(clients, stack.queue_name)
    for i in range(6):
        clients.sqs.send_message(QueueUrl=url, MessageBody=ticket(f"D-{i}").decode())
    stats, metrics = run_worker(stack, enricher, clients)
    assert sorted(records(clients, stack)) == [f"D-{i}" for i in range(6)]
    assert stats.enrich_calls == stats.batches  # never one call per ticket
    assert metrics.value("ticket_enrich_batch_size_count") == stats.batches
    assert sorted(object_keys(clients, stack.enriched_bucket)) == [f"D-{i}.json" for i in range(6)]


def test_messages_waiting_at_once_are_gathered_into_one_batch(clients, stack, enricher):
    """25 tickets already queued: one long-poll receive (at most 10) and short polls gather them
    into batches of up to `gather_messages`; with gathering off, batches of at most 10."""
    url = queue_url(clients, stack.queue_name)
    queued = 25
    for run, gather in enumerate((30, 10)):
        for i in range(queued):
            clients.sqs.send_message(QueueUrl=url, MessageBody=ticket(f"G{run}-{i}").decode())
        stats, metrics = run_worker(stack, enricher, clients, gather_messages=gather)
        assert stats.outcomes["enriched"] == queued and stats.enrich_calls == stats.batches
        sizes = metrics.value("ticket_enrich_batch_size_sum") / metrics.value("ticket_enrich_batch_size_count")
        if gather == 30:
            assert stats.batches < 3 and sizes > 10  # more than one receive's worth in a batch
        else:
            assert stats.batches >= 3


def test_a_fresh_process_gathers_only_after_its_slow_start(clients, stack, enricher):
    """The crash-loop guard comes first: a fresh process takes 1, 2, 4, 8, then 10 messages and
    gathers only then, so a pod that dies on its first batch holds one message, not 30."""
    url = queue_url(clients, stack.queue_name)
    for i in range(25):
        clients.sqs.send_message(QueueUrl=url, MessageBody=ticket(f"S-{i}").decode())
    stats, _ = run_worker(stack, enricher, clients, first_batch=1, gather_messages=30)
    assert stats.outcomes["enriched"] == 25
    assert stats.batches >= 5  # 1 + 2 + 4 + 8 + the gathered rest


def test_duplicate_delivery_leaves_one_record(clients, stack, enricher):
    upload(clients, stack, "dup.json", ticket("T-DUP"))
    url = queue_url(clients, stack.queue_name)
    [event] = [m for m in clients.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
               .get("Messages", []) if "Records" in m["Body"]]
    clients.sqs.send_message(QueueUrl=url, MessageBody=event["Body"])  # the same event, twice in one batch
    stats, _ = run_worker(stack, enricher, clients)
    assert stats.outcomes["enriched"] == 1 and stats.outcomes["duplicate"] == 1
    first = records(clients, stack)["T-DUP"]

    clients.sqs.send_message(QueueUrl=url, MessageBody=event["Body"])  # and once more, later
    upload(clients, stack, "dup-again.json", ticket("T-DUP", "Another copy under another key."))
    stats, _ = run_worker(stack, enricher, clients)
    assert stats.outcomes == {"enriched": 0, "duplicate": 2, "rejected": 0, "failed": 0}
    assert stats.enrich_calls == 0  # recognised before inference
    assert list(records(clients, stack)) == ["T-DUP"]
    assert records(clients, stack)["T-DUP"] == first  # untouched
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == 0


def test_malformed_tickets_get_rejection_records_and_are_not_retried(clients, stack, enricher):
    upload(clients, stack, "broken.json", b'{"ticket_id": "T-1", "body": ')
    upload(clients, stack, "bad-id.json", ticket("../../etc/passwd"))
    upload(clients, stack, "empty.json", json.dumps({"ticket_id": "T-EMPTY", "subject": "", "body": " "}).encode())
    clients.sqs.send_message(QueueUrl=queue_url(clients, stack.queue_name), MessageBody="\x01 not a ticket")
    upload(clients, stack, "good.json", ticket("T-GOOD"))
    stats, metrics = run_worker(stack, enricher, clients)

    found = records(clients, stack)
    rejected = {item["source"]["S"]: item for item in found.values() if item["status"]["S"] == "rejected"}
    raw = f"s3://{stack.raw_bucket}"
    assert set(rejected) >= {f"{raw}/broken.json", f"{raw}/bad-id.json", f"{raw}/empty.json"}
    assert rejected[f"{raw}/broken.json"]["reason"]["S"].startswith("is not valid JSON")
    assert rejected[f"{raw}/bad-id.json"]["field"]["S"] == "ticket_id"
    assert rejected[f"{raw}/bad-id.json"]["claimed_ticket_id"]["S"] == "../../etc/passwd"
    assert rejected[f"{raw}/empty.json"]["field"]["S"] == "body"
    [direct] = [item for source, item in rejected.items() if source.startswith("sqs:")]
    payload = direct["payload_object"]["S"].removeprefix(f"s3://{stack.enriched_bucket}/")
    assert clients.s3.get_object(Bucket=stack.enriched_bucket, Key=payload)["Body"].read() == b"\x01 not a ticket"
    assert found["T-GOOD"]["status"]["S"] == "enriched"
    assert stats.outcomes["rejected"] == 4 and metrics.value("ticket_enrich_tickets_total", outcome="failed") == 0
    # Deleted, not retried: nothing in flight, nothing in the DLQ, and a second worker finds nothing.
    assert queue_depth(clients.sqs, stack.queue_name) == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == 0
    again, _ = run_worker(stack, enricher, clients)
    assert again.batches == 0


def test_an_object_deleted_after_its_event_is_rejected_once(clients, stack, enricher):
    upload(clients, stack, "gone.json", ticket("T-GONE"))
    clients.s3.delete_object(Bucket=stack.raw_bucket, Key="gone.json")  # before any worker reads it
    upload(clients, stack, "here.json", ticket("T-HERE"))
    stats, _ = run_worker(stack, enricher, clients)

    assert stats.outcomes == {"enriched": 1, "duplicate": 0, "rejected": 1, "failed": 0}
    found = records(clients, stack)
    gone = found[f"rejected:s3://{stack.raw_bucket}/gone.json"]
    assert gone["field"]["S"] == "object" and "NoSuchKey" in gone["reason"]["S"]
    assert sorted(found) == ["T-HERE", f"rejected:s3://{stack.raw_bucket}/gone.json"]
    assert [r["source"] for r in stats.rejections] == [f"s3://{stack.raw_bucket}/gone.json"]
    assert queue_depth(clients.sqs, stack.queue_name) == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == 0


class ExplodingEnricher:
    """The real enricher, except that it raises whenever a batch holds the poison ticket."""

    def __init__(self, inner, poison_id: str):
        self.inner, self.poison_id = inner, poison_id
        self.variant, self.profile = inner.variant, inner.profile
        self.calls: list[list[str]] = []

    def enrich(self, tickets):
        self.calls.append([t.ticket_id for t in tickets])
        if any(t.ticket_id == self.poison_id for t in tickets):
            raise RuntimeError("the runtime crashed on this ticket")
        return self.inner.enrich(tickets)


def test_poison_messages_reach_the_dlq_and_spare_their_batch(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=1)
    url = queue_url(clients, stack.queue_name)
    missing_bucket = {"Records": [{"eventName": "ObjectCreated:Put", "eventSource": "aws:s3",
                                   "s3": {"bucket": {"name": "no-such-bucket-anywhere"}, "object": {"key": "x.json"}}}]}
    clients.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(missing_bucket))
    clients.sqs.send_message(QueueUrl=url, MessageBody=ticket("T-POISON").decode())
    for i in range(3):
        clients.sqs.send_message(QueueUrl=url, MessageBody=ticket(f"T-OK-{i}").decode())
    exploding = ExplodingEnricher(enricher, "T-POISON")
    stats, metrics = run_worker(stack, exploding, clients)

    found = records(clients, stack)
    assert sorted(found) == ["T-OK-0", "T-OK-1", "T-OK-2"]  # the good ones were not held back
    dlq = queue_url(clients, stack.dlq_name)
    dead = clients.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    bodies = sorted(m["Body"] for m in dead)
    assert bodies == sorted([json.dumps(missing_bucket), ticket("T-POISON").decode()])
    assert all(int(m["Attributes"]["ApproximateReceiveCount"]) >= 5 for m in dead)
    # The failing batch was retried ticket by ticket, so the poison ticket failed alone.
    assert ["T-POISON"] in exploding.calls
    assert metrics.value("ticket_enrich_tickets_total", outcome="failed") >= 2 * 5
    assert queue_depth(clients.sqs, stack.queue_name) == {"visible": 0, "in_flight": 0, "delayed": 0}
