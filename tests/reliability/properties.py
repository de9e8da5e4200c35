"""What every input must become, and hypothesis strategies that make awkward inputs. Shared by
test_bad_input.py and tools/fuzz.py (the same properties, run for longer).

`settle(enricher, raw)` does what the worker does with one input, minus AWS: validate, then
enrich or reject, and checks that whatever would be written can be written (strict JSON, valid
UTF-8 strings, as DynamoDB and S3 readers need)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from hypothesis import strategies as st

from runtime.errors import TicketRejected
from runtime.result import Enrichment
from runtime.ticket import MAX_TEXT_CHARS, Ticket
from ticket_schema import TICKET_ID_PATTERN, validate_ticket
from worker.records import EnrichedRecord, RejectionRecord, enriched_document

SENTIMENTS = ("NEGATIVE", "NEUTRAL", "POSITIVE")


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


def check_enrichment(enricher, ticket: Ticket, enrichment: Enrichment) -> None:
    output = enrichment.to_dict()
    body = output["enrichment"]
    assert output["ticket_id"] == ticket.ticket_id
    vector = np.asarray(body["embedding"])
    assert vector.shape == (384,) and np.isfinite(vector).all() and abs(np.linalg.norm(vector) - 1) < 1e-3
    assert body["intent"]["label"] in enricher.intent_head.labels and 0 <= body["intent"]["confidence"] <= 1
    assert body["urgency"]["level"] in enricher.rules.levels
    assert body["sentiment"]["label"] in ("NEGATIVE", "NEUTRAL", "POSITIVE") and 0 <= body["sentiment"]["score"] <= 1
    assert isinstance(body["summary"], str) and body["summary"].strip() and len(body["summary"]) <= MAX_TEXT_CHARS
    document = enriched_document(ticket, enrichment, source="s3://tickets-raw/x.json", variant=enricher.variant)
    assert_writable(document)
    record = EnrichedRecord.from_enrichment(enrichment, source="s3://tickets-raw/x.json", enriched_object="s3://e/x.json",
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
    [enrichment] = enricher.enrich([ticket])
    check_enrichment(enricher, ticket, enrichment)
    return ticket


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
# Well-formed tickets with awkward text: most of these must be enriched (those with a NUL or a
# lone surrogate in a text field are rejected for it).
AWKWARD_TICKETS = st.fixed_dictionaries(
    {"ticket_id": st.from_regex(TICKET_ID_PATTERN, fullmatch=True), "body": ANY_TEXT | st.text(min_size=1, max_size=3_000)},
    optional={"subject": ANY_TEXT, "priority": st.sampled_from(["P1", "urgent", "low", "Normal", None]),
              "customer_id": st.text(max_size=100), "created_at": st.text(max_size=40),
              "metadata": st.fixed_dictionaries({}, optional={"source": st.text(max_size=100), "language": st.text(max_size=16),
                                                              "tags": st.lists(st.text(max_size=50), max_size=50)})})
# Any text a ticket body could hold (no lone surrogates: JSON parsers refuse them as text).
BODIES = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20_000).filter(
    lambda s: s.strip() and "\x00" not in s)


def encode(document: Any, form: str) -> Any:
    """A generated document as it would arrive: UTF-8 bytes, ASCII-escaped bytes, or already parsed."""
    if form == "dict":
        return document
    return json.dumps(document, ensure_ascii=form == "ascii-bytes").encode("utf-8", "surrogatepass")
