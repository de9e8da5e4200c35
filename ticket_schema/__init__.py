"""The input schema for tickets: untrusted bytes in, a runtime `Ticket` or a `TicketRejected` out.

Its own package so that the worker and the CLI (`ticket_enrich`) both depend on it and not on
each other. It imports pydantic and runtime's `Ticket` only.
"""

from ticket_schema.ticket import (
    MAX_BODY_CHARS,
    MAX_SUBJECT_CHARS,
    MAX_TICKET_BYTES,
    PRIORITY_ALIASES,
    TICKET_ID_PATTERN,
    TicketIn,
    validate_ticket,
)

__all__ = [
    "MAX_BODY_CHARS",
    "MAX_SUBJECT_CHARS",
    "MAX_TICKET_BYTES",
    "PRIORITY_ALIASES",
    "TICKET_ID_PATTERN",
    "TicketIn",
    "validate_ticket",
]
