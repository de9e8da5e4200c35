"""The input schema for tickets: untrusted bytes in, a runtime `Ticket` or a `TicketRejected` out.

Its own package so that the worker and the CLI (`ticket_enrich`) both depend on it and not on
each other. It imports pydantic and runtime's `Ticket` only, and those only when `TicketIn` or
`validate_ticket` is first asked for: the limits and the field list (`ticket_schema.fields`)
stay light enough for `--help`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ticket_schema.fields import (
    MAX_BODY_CHARS,
    MAX_SUBJECT_CHARS,
    MAX_TICKET_BYTES,
    PRIORITY_ALIASES,
    TICKET_ID_PATTERN,
)

if TYPE_CHECKING:
    from ticket_schema.ticket import TicketIn, validate_ticket

__all__ = [
    "MAX_BODY_CHARS",
    "MAX_SUBJECT_CHARS",
    "MAX_TICKET_BYTES",
    "PRIORITY_ALIASES",
    "TICKET_ID_PATTERN",
    "TicketIn",
    "validate_ticket",
]


def __getattr__(name: str) -> Any:
    if name in ("TicketIn", "validate_ticket"):
        from ticket_schema import ticket

        return getattr(ticket, name)
    raise AttributeError(f"module 'ticket_schema' has no attribute {name!r}")
