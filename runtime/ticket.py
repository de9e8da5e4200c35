"""The ticket the engine works on. Validation of untrusted input happens before this, in
ticket_schema (pydantic, shared by the CLI and the worker); here a mapping is only
converted, and every text field is capped before anything tokenizes it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.errors import TicketRejected

# No model reads past ~1,024 tokens; 16k characters is several times that. Capping here keeps
# a 1 MB body from costing a 1 MB tokenization even when a caller skipped the schema.
MAX_TEXT_CHARS = 16_000


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    body: str
    subject: str = ""
    priority: str | None = None  # canonical: low | medium | high | critical
    created_at: str | None = None
    customer_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """What the models read: the subject as a first sentence, then the body, capped."""
        subject = self.subject.strip()
        body = self.body.strip()
        if subject and body:
            joined = subject if subject[-1] in ".!?:" else subject + "."
            joined = f"{joined} {body}"
        else:
            joined = subject or body
        return joined[:MAX_TEXT_CHARS]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Ticket:
        ticket_id = raw.get("ticket_id")
        if not isinstance(ticket_id, str) or not ticket_id:
            raise TicketRejected("ticket_id", "must be a non-empty string")
        for name in ("subject", "body"):
            if raw.get(name) is not None and not isinstance(raw.get(name), str):
                raise TicketRejected(name, f"must be a string, not {type(raw.get(name)).__name__}", ticket_id)
        subject, body = raw.get("subject") or "", raw.get("body") or ""
        if not subject.strip() and not body.strip():
            raise TicketRejected("body", "the ticket has no text (subject and body are empty)", ticket_id)
        metadata = raw.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise TicketRejected("metadata", "must be an object", ticket_id)
        return cls(
            ticket_id=ticket_id,
            subject=subject,
            body=body,
            priority=raw.get("priority"),
            created_at=raw.get("created_at"),
            customer_id=raw.get("customer_id"),
            metadata=dict(metadata),
        )


def as_ticket(item: Ticket | Mapping[str, Any]) -> Ticket:
    return item if isinstance(item, Ticket) else Ticket.from_mapping(item)
