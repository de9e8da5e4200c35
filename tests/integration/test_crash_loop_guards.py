"""The crash-loop guards (docs/RELIABILITY.md, "A crash-looping pod"): a fresh worker starts with
a small batch and doubles it; a message received many times is processed alone, after the rest
of its batch is settled and deleted. The real worker against the emulator; the engine is the real
Enricher with a recorder of what each enrich call was given."""

from __future__ import annotations

import boto3
from worker_harness import queue_url, run_worker, ticket, upload

from tools.rig import records
from worker.aws import AwsClients


class Recording:
    """The real engine; remembers the ticket ids of each call."""

    def __init__(self, engine):
        self.engine, self.variant, self.profile = engine, engine.variant, engine.profile
        self.calls: list[list[str]] = []

    def enrich(self, tickets):
        self.calls.append([t.ticket_id for t in tickets])
        return self.engine.enrich(tickets)


def test_a_fresh_worker_asks_for_one_message_then_doubles(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=30)
    for i in range(20):
        upload(clients, stack, f"ss/{i}.json", ticket(f"SS-{i:02d}"))
    asked: list[int] = []
    session = boto3.Session()
    session.events.register("provide-client-params.sqs.ReceiveMessage",
                            lambda params, **_: asked.append(params["MaxNumberOfMessages"]))
    stats, _ = run_worker(stack, enricher, AwsClients.from_session(session), first_batch=1)
    assert asked[:5] == [1, 2, 4, 8, 10] and set(asked[5:]) == {10}
    assert stats.outcomes["enriched"] == 20


def test_messages_received_three_times_are_processed_alone_after_the_others(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=30)
    url = queue_url(clients, stack.queue_name)
    clients.sqs.purge_queue(QueueUrl=url)  # setup's s3:TestEvent
    for i in range(3):
        upload(clients, stack, f"often/{i}.json", ticket(f"OFTEN-{i}"))
    # Receive those three twice without deleting them (as two workers that died would have).
    for _ in range(2):
        got = []
        while len(got) < 3:
            got += clients.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                               VisibilityTimeout=30).get("Messages", [])
        clients.sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for n, m in enumerate(got)])
    for i in range(4):
        upload(clients, stack, f"fresh/{i}.json", ticket(f"FRESH-{i}"))
    engine = Recording(enricher)
    stats, metrics = run_worker(stack, engine, clients, isolate_after=3)
    # The fresh four together (they arrive in one or two receives), then each of the others alone.
    fresh = [call for call in engine.calls if call[0].startswith("FRESH")]
    often = [call for call in engine.calls if call[0].startswith("OFTEN")]
    assert sorted(t for call in fresh for t in call) == [f"FRESH-{i}" for i in range(4)]
    assert sorted(often) == [["OFTEN-0"], ["OFTEN-1"], ["OFTEN-2"]]
    assert all(len(call) == 1 for call in often)
    found = records(clients, stack)
    assert {t: found[t]["receive_count"]["N"] for t in found if t.startswith("OFTEN")} == dict.fromkeys(
        ["OFTEN-0", "OFTEN-1", "OFTEN-2"], "3")
    assert stats.outcomes["enriched"] == 7 and metrics.value("ticket_enrich_batches_total") <= 3


def test_without_the_guards_the_worker_takes_ten_and_keeps_them_together(clients, make_stack, enricher):
    stack = make_stack(visibility_timeout=30)
    for i in range(12):
        upload(clients, stack, f"plain/{i}.json", ticket(f"PLAIN-{i:02d}"))
    engine = Recording(enricher)
    run_worker(stack, engine, clients, first_batch=10, isolate_after=0)
    assert max(len(call) for call in engine.calls) >= 9  # with the TestEvent, 9 or 10 tickets in the first call
