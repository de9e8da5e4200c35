"""The ticket the engine works on. Validation of untrusted input happens before this, in
ticket_schema (pydantic, shared by the CLI and the worker); here a mapping is only
converted, and every text field is capped before anything tokenizes it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from runtime.errors import TicketRejected

# No model reads past ~1,024 tokens; 16k characters is several times that. Capping here keeps
# a 1 MB body from costing a 1 MB tokenization even when a caller skipped the schema.
MAX_TEXT_CHARS = 16_000
MAX_EPOCH_SECONDS = 253_402_300_800  # 10000-01-01T00:00:00Z: past it, a number is not epoch seconds
MAX_TIMESTAMP_CHARS = 64


def normalize_created_at(value: Any) -> str | None:
    """A ticket's `created_at` as ISO 8601 in UTC ("2009-02-13T23:31:30Z", milliseconds when it
    has a fraction): epoch seconds (int or float, as the seed pipeline sends them) or ISO 8601 text
    (UTC assumed when it carries no offset). None or blank text stays None; anything else raises
    ValueError saying what is accepted."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not (math.isfinite(value) and 0 <= value < MAX_EPOCH_SECONDS):
            hint = " (milliseconds? divide by 1000)" if value >= MAX_EPOCH_SECONDS else ""
            raise ValueError(f"epoch seconds must lie between 0 and {MAX_EPOCH_SECONDS} (1970 to 9999), "
                             f"got {value!r}{hint}")
        moment = datetime.fromtimestamp(value, tz=timezone.utc)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_TIMESTAMP_CHARS:
            raise ValueError(f"is {len(text)} characters long; an ISO 8601 timestamp is at most {MAX_TIMESTAMP_CHARS}")
        try:  # Python 3.10's fromisoformat does not read "Z"
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text)
            moment = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
        except (ValueError, OverflowError):
            raise ValueError(f"{text[:40]!r} is not an ISO 8601 timestamp (e.g. 2009-02-13T23:31:30Z) "
                             "nor epoch seconds") from None
    else:
        raise ValueError("must be a valid string in ISO 8601 (e.g. 2009-02-13T23:31:30Z) or a number of epoch "
                         f"seconds, not {type(value).__name__}")
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    body: str
    subject: str = ""
    priority: str | None = None  # canonical: low | medium | high | critical
    created_at: str | None = None  # ISO 8601, UTC (normalize_created_at)
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
        try:
            created_at = normalize_created_at(raw.get("created_at"))
        except ValueError as exc:
            raise TicketRejected("created_at", str(exc), ticket_id) from exc
        return cls(
            ticket_id=ticket_id,
            subject=subject,
            body=body,
            priority=raw.get("priority"),
            created_at=created_at,
            customer_id=raw.get("customer_id"),
            metadata=dict(metadata),
        )


def as_ticket(item: Ticket | Mapping[str, Any]) -> Ticket:
    return item if isinstance(item, Ticket) else Ticket.from_mapping(item)
