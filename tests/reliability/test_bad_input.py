"""Bad and strange input: a fixed corpus (corpus.py) and property-based inputs (hypothesis).
Each input ends as a rejection naming the field and the reason, or as a correct enrichment;
nothing raises anything else, and whatever the worker would write can be written (strict JSON,
UTF-8 strings, as DynamoDB and S3 readers need). Most runs against validate_ticket and the real
Enricher directly; a smaller corpus goes through the worker and the emulator."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from corpus import CORPUS, EMULATOR_CORPUS, Case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from worker_harness import object_keys, queue_url, records, run_worker, upload

from runtime.errors import TicketRejected
from runtime.ticket import MAX_TEXT_CHARS, Ticket
from ticket_enrich.schema import TICKET_ID_PATTERN, validate_ticket
from worker.records import EnrichedRecord, RejectionRecord, enriched_document
from worker.resources import queue_depth

CASES = {case.name: case for case in CORPUS}
PROPERTY = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def examples(count: int) -> settings:
    return settings(PROPERTY, max_examples=count)


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in strings(v)]
    return []


def assert_writable(document: dict[str, Any]) -> None:
    """What S3 and DynamoDB will accept: strict JSON (no NaN), every string valid UTF-8."""
    json.dumps(document, allow_nan=False, ensure_ascii=False).encode("utf-8")
    for text in strings(document):
        text.encode("utf-8")


def check_rejection(exc: TicketRejected) -> None:
    assert exc.field and exc.reason, "a rejection names a field and a reason"
    record = RejectionRecord.build(source="s3://tickets-raw/x.json", field=exc.field, reason=exc.reason,
                                   claimed_ticket_id=exc.ticket_id)
    assert_writable(record.model_dump(mode="json"))
    record.to_item()


def check_enrichment(enricher, ticket: Ticket, output: dict[str, Any]) -> None:
    body = output["enrichment"]
    assert output["ticket_id"] == ticket.ticket_id
    vector = np.asarray(body["embedding"])
    assert vector.shape == (384,) and np.isfinite(vector).all() and abs(np.linalg.norm(vector) - 1) < 1e-3
    assert body["intent"]["label"] in enricher.intent_head.labels and 0 <= body["intent"]["confidence"] <= 1
    assert body["urgency"]["level"] in enricher.rules.levels
    assert body["sentiment"]["label"] in ("NEGATIVE", "NEUTRAL", "POSITIVE") and 0 <= body["sentiment"]["score"] <= 1
    assert isinstance(body["summary"], str) and body["summary"].strip() and len(body["summary"]) <= MAX_TEXT_CHARS
    document = enriched_document(ticket, output, source="s3://tickets-raw/x.json", variant=enricher.variant)
    assert_writable(document)
    record = EnrichedRecord.from_enrichment(output, source="s3://tickets-raw/x.json", enriched_object="s3://e/x.json",
                                            variant=enricher.variant, enrich_ms=1.0, receive_count=1)
    assert_writable(record.model_dump(mode="json"))
    record.to_item()


def settle(enricher, raw: bytes | str | dict[str, Any]) -> Ticket | TicketRejected:
    """What the worker does with one input, minus AWS: validate, then enrich or reject."""
    try:
        ticket = validate_ticket(raw)
    except TicketRejected as exc:
        check_rejection(exc)
        return exc
    [output] = [e.to_dict() for e in enricher.enrich([ticket])]
    check_enrichment(enricher, ticket, output)
    return ticket


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


# Any code point, surrogates and controls included, with the awkward ones made likely.
AWKWARD = st.sampled_from(["\ud800", "\udfff", "\x00", "\u202e", "\ufeff", "\u0301", "😀", "/", "..", "\\"])
ANY_TEXT = st.lists(st.characters(exclude_categories=()) | AWKWARD, max_size=40).map("".join) | st.text(max_size=300)
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | ANY_TEXT
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(ANY_TEXT, inner, max_size=4), max_leaves=12)
TICKET_IDS = st.from_regex(TICKET_ID_PATTERN, fullmatch=True) | ANY_TEXT | JSON_VALUES
TEXTS = ANY_TEXT | st.text(max_size=3_000) | JSON_VALUES
METADATA = st.fixed_dictionaries({}, optional={"source": ANY_TEXT | JSON_VALUES, "language": ANY_TEXT,
                                               "tags": st.lists(ANY_TEXT, max_size=60) | JSON_VALUES}) | JSON_VALUES
TICKET_DOCS = st.fixed_dictionaries(
    {"ticket_id": TICKET_IDS},
    optional={"subject": TEXTS, "body": TEXTS, "priority": st.sampled_from(["P1", "urgent", "low", ""]) | ANY_TEXT,
              "created_at": ANY_TEXT | JSON_VALUES, "customer_id": ANY_TEXT | JSON_VALUES, "metadata": METADATA,
              "extra": JSON_VALUES})


@examples(150)
@given(TICKET_DOCS, st.sampled_from(["bytes", "ascii-bytes", "dict"]))
def test_ticket_shaped_documents_settle(offline_enricher, document, form):
    if form == "dict":
        raw: Any = document
    else:
        raw = json.dumps(document, ensure_ascii=form == "ascii-bytes").encode("utf-8", "surrogatepass")
    settle(offline_enricher, raw)


@examples(40)
@given(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20_000)
       .filter(lambda s: s.strip() and "\x00" not in s))
def test_any_text_is_enriched(offline_enricher, body):
    outcome = settle(offline_enricher, {"ticket_id": "P-1", "body": body})
    assert isinstance(outcome, Ticket)


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
