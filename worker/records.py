"""What the worker writes: the enriched document (S3), the enriched record and the rejection
record (DynamoDB). Pydantic models, so a malformed write fails here and not in a reader.

Records are keyed by `ticket_id`. A rejection is keyed by where the ticket came from
(`rejected:s3://bucket/key` or `rejected:sqs:<message id>`): a rejected ticket may have no id, or
an id that is itself the problem, and a fixed ticket sent again under the same id must still be
enriched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Any, Literal

from boto3.dynamodb.types import TypeSerializer
from pydantic import AfterValidator, AliasPath, BaseModel, ConfigDict, Field

from runtime.result import Enrichment
from runtime.ticket import Ticket

REJECTED_PREFIX = "rejected:"
MAX_REASON_CHARS = 1_000
MAX_CLAIMED_ID_CHARS = 256


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rejection_key(source: str) -> str:
    return f"{REJECTED_PREFIX}{source}"


def enriched_object_key(ticket_id: str) -> str:
    # The ticket id pattern (ticket_schema.TICKET_ID_PATTERN) makes it a safe S3 key.
    return f"{ticket_id}.json"


def rejected_payload_key(message_id: str) -> str:
    return f"rejected/{message_id}.txt"


def to_item(document: dict[str, Any]) -> dict[str, Any]:
    """A JSON-able dict -> DynamoDB attribute values (floats as Decimal, None dropped)."""
    plain = json.loads(json.dumps(document), parse_float=Decimal)
    serializer = TypeSerializer()
    return {key: serializer.serialize(value) for key, value in plain.items() if value is not None}


def _from_enrichment(*path: str) -> Any:
    """A record field read off the runtime's Enrichment (runtime/result.py) at this attribute path."""
    return Field(validation_alias=AliasPath("enrichment", *path))


# Scores as the enriched document has them (Enrichment.to_dict rounds to 4 decimals).
Score = Annotated[float, AfterValidator(lambda value: round(value, 4))]


class EnrichedRecord(BaseModel):
    """The DynamoDB record of an enriched ticket: the labels a support team filters on, flat.
    A field of the Enrichment is one line here (its attribute path); the worker adds where the
    ticket came from, where its document is, and how it was processed."""

    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)

    ticket_id: str = _from_enrichment("ticket_id")
    status: Literal["enriched"] = "enriched"
    intent: str = _from_enrichment("intent", "label")
    intent_confidence: Score = _from_enrichment("intent", "confidence")
    intent_uncertain: bool = _from_enrichment("intent", "uncertain")
    urgency: str = _from_enrichment("urgency", "level")
    urgency_confidence: Score = _from_enrichment("urgency", "confidence")
    urgency_uncertain: bool = _from_enrichment("urgency", "uncertain")
    urgency_signals: list[str] = _from_enrichment("urgency", "signals")
    sentiment: str = _from_enrichment("sentiment", "label")
    sentiment_score: Score = _from_enrichment("sentiment", "score")
    sentiment_uncertain: bool = _from_enrichment("sentiment", "uncertain")
    in_domain: Score = _from_enrichment("in_domain")
    summary: str = _from_enrichment("summary")
    summary_kind: str = _from_enrichment("summary_kind")
    summary_preset: str | None = _from_enrichment("summary_preset")
    profile: str = _from_enrichment("profile")
    # The provenance block (model, variant, artifact hash per field) is in the S3 document; the
    # record names it by its reference, as short as a hash and the same for every ticket of a run.
    models_ref: str = _from_enrichment("models_ref")
    # From the worker.
    source: str
    enriched_object: str  # s3://bucket/key of the full enriched document
    variant: str | None = None
    enrich_ms: float
    receive_count: int = 1
    enriched_at: str = Field(default_factory=utc_now)

    @classmethod
    def from_enrichment(
        cls, enrichment: Enrichment, *, source: str, enriched_object: str, variant: str | None,
        enrich_ms: float, receive_count: int,
    ) -> EnrichedRecord:
        written = _Written(enrichment, source, enriched_object, variant, round(enrich_ms, 3), receive_count)
        return cls.model_validate(written, from_attributes=True)

    def to_item(self) -> dict[str, Any]:
        return to_item(self.model_dump(mode="json"))


@dataclass(frozen=True)
class _Written:
    """What an EnrichedRecord is read from: the Enrichment and the worker's facts beside it."""

    enrichment: Enrichment
    source: str
    enriched_object: str
    variant: str | None
    enrich_ms: float
    receive_count: int


class RejectionRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: str  # rejection_key(source)
    status: Literal["rejected"] = "rejected"
    source: str
    field: str
    reason: str
    claimed_ticket_id: str | None = None  # the id the ticket gave itself, if any
    payload_object: str | None = None  # where a direct ticket's bytes were kept
    rejected_at: str = Field(default_factory=utc_now)

    @classmethod
    def build(
        cls, *, source: str, field: str, reason: str, claimed_ticket_id: str | None = None,
        payload_object: str | None = None,
    ) -> RejectionRecord:
        return cls(
            ticket_id=rejection_key(source),
            source=source,
            field=field,
            reason=reason[:MAX_REASON_CHARS],
            claimed_ticket_id=claimed_ticket_id[:MAX_CLAIMED_ID_CHARS] if claimed_ticket_id else None,
            payload_object=payload_object,
        )

    def to_item(self) -> dict[str, Any]:
        return to_item(self.model_dump(mode="json"))


def enriched_document(ticket: Ticket, enrichment: Enrichment, *, source: str, variant: str | None) -> dict[str, Any]:
    """The full document written to the enriched bucket: the ticket as received plus its enrichment."""
    return {
        "ticket_id": enrichment.ticket_id,
        "source": source,
        "variant": variant,
        "enriched_at": utc_now(),
        "ticket": {
            "subject": ticket.subject,
            "body": ticket.body,
            "priority": ticket.priority,
            "created_at": ticket.created_at,
            "customer_id": ticket.customer_id,
            "metadata": ticket.metadata,
        },
        "enrichment": enrichment.to_dict()["enrichment"],
    }
