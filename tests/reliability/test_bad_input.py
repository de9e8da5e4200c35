"""Bad and strange input: a fixed corpus (corpus.py) and property-based inputs (hypothesis).
Each input ends as a rejection naming the field and the reason, or as a correct enrichment;
nothing raises anything else, and whatever the worker would write can be written (strict JSON,
UTF-8 strings, as DynamoDB and S3 readers need). Most runs against validate_ticket and the real
Enricher directly; a smaller corpus goes through the worker and the emulator."""

from __future__ import annotations

import json
import math

import pytest
from corpus import CORPUS, EMULATOR_CORPUS, Case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from properties import AWKWARD_TICKETS, BODIES, TICKET_DOCS, check_rejection, encode, settle
from worker_harness import queue_url, run_worker, upload

from runtime.errors import TicketRejected
from runtime.ticket import Ticket
from ticket_schema import validate_ticket
from tools.rig import object_keys, records
from worker.resources import queue_depth

CASES = {case.name: case for case in CORPUS}
PROPERTY = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def examples(count: int) -> settings:
    return settings(PROPERTY, max_examples=count)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixed_corpus(offline_enricher, name):
    case = CASES[name]
    outcome = settle(offline_enricher, case.raw)
    if case.rejected:
        assert isinstance(outcome, TicketRejected), f"{name} was accepted"
        assert outcome.field == case.field and case.reason in outcome.reason
    else:
        assert isinstance(outcome, Ticket), f"{name} was rejected: {outcome}"


@examples(300)
@given(st.binary(max_size=4_000))
def test_any_bytes_become_a_ticket_or_a_rejection(raw):
    try:
        validate_ticket(raw)
    except TicketRejected as exc:
        check_rejection(exc)


@examples(150)
@given(TICKET_DOCS, st.sampled_from(["bytes", "ascii-bytes", "dict"]))
def test_ticket_shaped_documents_settle(offline_enricher, document, form):
    settle(offline_enricher, encode(document, form))


@examples(80)
@given(AWKWARD_TICKETS, st.sampled_from(["bytes", "ascii-bytes", "dict"]))
def test_well_formed_tickets_with_awkward_text_settle(offline_enricher, document, form):
    settle(offline_enricher, encode(document, form))


@examples(40)
@given(BODIES)
def test_any_text_is_enriched(offline_enricher, body):
    assert isinstance(settle(offline_enricher, {"ticket_id": "P-1", "body": body}), Ticket)


def test_corpus_through_the_worker(clients, stack, enricher):
    """The smaller corpus as S3 uploads (and, where SQS can carry it, as direct messages):
    one record per source, rejections with the expected field, the rest enriched."""
    url = queue_url(clients, stack.queue_name)
    direct: dict[str, Case] = {}
    for case in EMULATOR_CORPUS:
        upload(clients, stack, f"corpus/{case.name}.json", case.raw)
        if case.direct:
            direct[clients.sqs.send_message(QueueUrl=url, MessageBody=case.raw.decode("utf-8"))["MessageId"]] = case
    stats, _ = run_worker(stack, enricher, clients)

    found = records(clients, stack)
    sources = {f"s3://{stack.raw_bucket}/corpus/{case.name}.json": case for case in EMULATOR_CORPUS}
    sources.update({f"sqs:{message_id}": case for message_id, case in direct.items()})
    enriched_ids: set[str] = set()
    for source, case in sources.items():
        if case.rejected:
            record = found.get(f"rejected:{source}")
            assert record is not None, f"{case.name} ({source}) has no rejection record"
            assert record["field"]["S"] == case.field and case.reason in record["reason"]["S"], case.name
        else:
            ticket_id = validate_ticket(case.raw).ticket_id
            assert found[ticket_id]["status"]["S"] == "enriched", case.name
            enriched_ids.add(ticket_id)
    assert len(found) == len(enriched_ids) + sum(1 for case in sources.values() if case.rejected)
    for ticket_id in enriched_ids:
        document = json.loads(clients.s3.get_object(Bucket=stack.enriched_bucket, Key=f"{ticket_id}.json")["Body"].read(),
                              parse_constant=lambda name: math.nan)
        assert document["ticket_id"] == ticket_id and document["enrichment"]["summary"]
    assert sorted(k for k in object_keys(clients, stack.enriched_bucket) if not k.startswith("rejected/")) == sorted(
        f"{t}.json" for t in enriched_ids)
    assert stats.outcomes["failed"] == 0
    assert queue_depth(clients.sqs, stack.queue_name) == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == 0
