"""The input schema for tickets, shared by `ticket-enrich enrich` and the worker.

Untrusted bytes come in; a runtime `Ticket` or a `TicketRejected` naming the field and the
reason comes out. The caps keep one ticket from costing more than any other.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from runtime.errors import TicketRejected
from runtime.ticket import Ticket, normalize_created_at
from ticket_schema.errors import error_message
from ticket_schema.fields import (
    MAX_BODY_CHARS,
    MAX_CUSTOMER_ID_CHARS,
    MAX_LANGUAGE_CHARS,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_METADATA_TEXT_CHARS,
    MAX_NUMBER_CHARS,
    MAX_SUBJECT_CHARS,
    MAX_TAGS,
    MAX_TICKET_BYTES,
    PRIORITY_ALIASES,
    TICKET_ID_PATTERN,
)


class TicketMetadata(BaseModel):
    model_config = ConfigDict(extra="allow", str_max_length=MAX_METADATA_TEXT_CHARS)

    source: str | None = None
    language: str | None = Field(default=None, max_length=MAX_LANGUAGE_CHARS)
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    ticket_id: str = Field(pattern=TICKET_ID_PATTERN)
    subject: str = Field(default="", max_length=MAX_SUBJECT_CHARS)
    body: str = Field(default="", max_length=MAX_BODY_CHARS)
    priority: str | None = None
    created_at: str | None = None  # epoch seconds or ISO 8601 in; ISO 8601, UTC, out
    customer_id: str | None = Field(default=None, max_length=MAX_CUSTOMER_ID_CHARS)
    metadata: TicketMetadata = Field(default_factory=TicketMetadata)

    @field_validator("subject", "body", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("subject", "body")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("contains NUL characters")
        return value

    @field_validator("created_at", mode="before")
    @classmethod
    def _normalized_time(cls, value: Any) -> str | None:
        return normalize_created_at(value)

    @field_validator("priority")
    @classmethod
    def _known_priority(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        canonical = PRIORITY_ALIASES.get(value.strip().lower())
        if canonical is None:
            raise ValueError(f"unknown priority {value!r}; use one of low, medium, high, critical")
        return canonical

    @field_validator("metadata", mode="before")
    @classmethod
    def _capped_metadata(cls, value: Any) -> Any:
        if value is None:
            return {}
        if _depth(value) > MAX_METADATA_DEPTH:
            raise ValueError(f"is nested more than {MAX_METADATA_DEPTH} levels deep")
        if len(json.dumps(value, default=str)) > MAX_METADATA_BYTES:
            raise ValueError(f"is larger than {MAX_METADATA_BYTES} bytes")
        try:  # extra keys are kept as they came, and written back as UTF-8 JSON
            json.dumps(value, default=str, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("contains text that is not valid Unicode (a lone surrogate escape such as \\ud800)") from None
        return value


def _depth(value: Any) -> int:
    """How deeply objects and lists nest (iteratively: a hostile document must not exhaust the stack)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level + 1)
            if deepest > MAX_METADATA_DEPTH:
                return deepest
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _json_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise TicketRejected("ticket", f"has a number {len(text)} digits long; the limit is {MAX_NUMBER_CHARS}")
    return int(text)


def _json_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise TicketRejected("ticket", f"has a number out of range ({text[:24]})")
    return value


def _json_constant(name: str) -> Any:
    raise TicketRejected("ticket", f"contains {name}, which is not a JSON value")


def _claimed_id(value: Any) -> str | None:
    """The id a rejected ticket gave itself, as text any store and log accepts: a lone surrogate
    (JSON allows "\\ud800") is not valid UTF-8, so it is kept as its escape."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(value, str) else None


def _first_error(exc: ValidationError) -> tuple[str, str]:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "ticket"
    return field, error_message(error)


# The id a ticket too large or too broken to parse gave itself, read off its first bytes.
_LEADING_ID = re.compile(rb'"ticket_id"\s*:\s*"([A-Za-z0-9][A-Za-z0-9_.:-]{0,127})"')
LEADING_ID_BYTES = 4096


def _leading_id(raw: bytes | str) -> str | None:
    head = raw[:LEADING_ID_BYTES]
    found = _LEADING_ID.search(head if isinstance(head, bytes) else head.encode("utf-8", "surrogatepass"))
    return found.group(1).decode("ascii") if found else None


def _json_problem(exc: json.JSONDecodeError) -> str:
    """json's message, made to read right ("Invalid control character at" ends in an "at" and names no character)."""
    where = f"at line {exc.lineno} column {exc.colno}"
    message = exc.msg.removesuffix(" at")
    if message == "Invalid control character" and exc.pos < len(exc.doc):
        return (f"a raw control character, U+{ord(exc.doc[exc.pos]):04X}, inside a string {where}; "
                "write it escaped: \\n, \\t, \\u0000")
    return f"{message} {where}"


def validate_ticket(raw: bytes | str | dict[str, Any]) -> Ticket:
    """Bytes, text or a parsed object -> a runtime Ticket, or TicketRejected(field, reason)."""
    ticket_id = raw.get("ticket_id") if isinstance(raw, dict) else None
    if isinstance(raw, (bytes, str)):
        size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
        if size > MAX_TICKET_BYTES:
            raise TicketRejected("ticket", f"is {size:,} bytes; the limit is {MAX_TICKET_BYTES:,}", _leading_id(raw))
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TicketRejected("ticket", f"is not valid UTF-8 ({exc.reason} at byte {exc.start})",
                                     _leading_id(raw)) from exc
        try:
            raw = json.loads(raw, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
        except json.JSONDecodeError as exc:
            raise TicketRejected("ticket", f"is not valid JSON ({_json_problem(exc)})", _leading_id(exc.doc)) from exc
        except RecursionError as exc:
            raise TicketRejected("ticket", "is nested too deeply to parse; a ticket is one JSON object of text "
                                           "fields and a small metadata object") from exc
    if not isinstance(raw, dict):
        raise TicketRejected("ticket", f"must be a JSON object, not {type(raw).__name__}")
    ticket_id = raw.get("ticket_id") if isinstance(raw.get("ticket_id"), str) else ticket_id
    try:
        parsed = TicketIn.model_validate(raw)
    except ValidationError as exc:
        field, reason = _first_error(exc)
        raise TicketRejected(field, reason, _claimed_id(ticket_id)) from exc
    if not parsed.subject.strip() and not parsed.body.strip():
        raise TicketRejected("body", "the ticket has no text (subject and body are empty)", parsed.ticket_id)
    return Ticket(
        ticket_id=parsed.ticket_id,
        subject=parsed.subject,
        body=parsed.body,
        priority=parsed.priority,
        created_at=parsed.created_at,
        customer_id=parsed.customer_id,
        metadata=parsed.metadata.model_dump(exclude_none=True),
    )
