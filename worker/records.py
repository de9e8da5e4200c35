"""What the worker writes: the enriched document (S3), the enriched record and the rejection
record (DynamoDB). Pydantic models, so a malformed write fails here and not in a reader.

Records are keyed by `ticket_id`. A rejection is keyed by where the ticket came from
(`rejected:s3://bucket/key` or `rejected:sqs:<message id>`): a rejected ticket may have no id, or
an id that is itself the problem, and a fixed ticket sent again under the same id must still be
enriched.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal

from boto3.dynamodb.types import TypeSerializer
from pydantic import BaseModel, ConfigDict, Field

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


class EnrichedRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: str
    status: Literal["enriched"] = "enriched"
    source: str
    enriched_object: str  # s3://bucket/key of the full enriched document
    intent: str
    intent_confidence: float
    urgency: str
    urgency_signals: list[Any] = Field(default_factory=list)
    sentiment: str
    sentiment_score: float
    summary: str
    summary_kind: str | None = None
    profile: str | None = None
    variant: str | None = None
    models: dict[str, Any] = Field(default_factory=dict)
    enrich_ms: float
    receive_count: int = 1
    enriched_at: str = Field(default_factory=utc_now)

    @classmethod
    def from_enrichment(
        cls, enrichment: dict[str, Any], *, source: str, enriched_object: str, variant: str | None,
        enrich_ms: float, receive_count: int,
    ) -> EnrichedRecord:
        """`enrichment` is `Enrichment.to_dict()`: {"ticket_id", "enrichment": {...}}."""
        body = enrichment["enrichment"]
        return cls(
            ticket_id=enrichment["ticket_id"],
            source=source,
            enriched_object=enriched_object,
            intent=body["intent"]["label"],
            intent_confidence=body["intent"]["confidence"],
            urgency=body["urgency"]["level"],
            urgency_signals=list(body["urgency"].get("signals") or []),
            sentiment=body["sentiment"]["label"],
            sentiment_score=body["sentiment"]["score"],
            summary=body["summary"],
            summary_kind=body.get("summary_kind"),
            profile=body.get("profile"),
            variant=variant,
            models=body.get("models") or {},
            enrich_ms=round(enrich_ms, 3),
            receive_count=receive_count,
        )

    def to_item(self) -> dict[str, Any]:
        return to_item(self.model_dump(mode="json"))


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


def enriched_document(ticket: Any, enrichment: dict[str, Any], *, source: str, variant: str | None) -> dict[str, Any]:
    """The full document written to the enriched bucket: the ticket as received plus its enrichment."""
    return {
        "ticket_id": enrichment["ticket_id"],
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
        "enrichment": enrichment["enrichment"],
    }
