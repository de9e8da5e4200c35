"""The input schema as data: its limits, the priority spellings, and one line per field.

Light on purpose (no pydantic, no runtime): `ticket-enrich enrich --help` prints `fields_text()`
and the README holds `fields_markdown()` (tests/unit/test_readme.py keeps it equal), while
`ticket_schema.ticket` enforces the same constants. Print the README block with
`python -m ticket_schema.fields`.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

MAX_TICKET_BYTES = 256 * 1024  # a whole ticket document, as stored in S3 or sent on SQS
MAX_SUBJECT_CHARS = 1_000
MAX_BODY_CHARS = 100_000
MAX_CUSTOMER_ID_CHARS = 128
MAX_METADATA_BYTES = 8 * 1024
MAX_METADATA_DEPTH = 8  # nested objects/lists inside metadata; deeper ones cannot be written back as JSON safely
MAX_METADATA_TEXT_CHARS = 200  # any one text value inside metadata
MAX_LANGUAGE_CHARS = 16
MAX_TAGS = 50
MAX_NUMBER_CHARS = 100  # digits in one JSON number (Python refuses integers past 4,300 digits anyway)
MODELS_READ_CHARS = 16_000  # runtime.ticket.MAX_TEXT_CHARS, spelled out to stay light (tests/unit/test_readme.py)
TICKET_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"  # safe as an S3 key and a DynamoDB key

# What customers and help desks write -> the four levels urgency reasons in.
PRIORITY_ALIASES = {
    "low": "low", "minor": "low", "p4": "low",
    "normal": "medium", "medium": "medium", "moderate": "medium", "p3": "medium",
    "high": "high", "major": "high", "p2": "high",
    "urgent": "critical", "critical": "critical", "blocker": "critical", "emergency": "critical", "p1": "critical",
}
LEVELS = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class FieldDoc:
    name: str
    type: str
    required: str
    meaning: str


def _spellings(level: str) -> str:
    return ", ".join(word for word, canonical in PRIORITY_ALIASES.items() if canonical == level)


FIELDS = (
    FieldDoc("ticket_id", "text", "yes",
             "1-128 characters: letters, digits and `_ . : -`, starting with a letter or digit "
             "(it becomes an S3 key and the DynamoDB key)"),
    FieldDoc("subject", "text or null", "subject and/or body",
             f"at most {MAX_SUBJECT_CHARS:,} characters; null is empty"),
    FieldDoc("body", "text or null", "subject and/or body",
             f"at most {MAX_BODY_CHARS:,} characters, no NUL; the models read the first "
             f"{MODELS_READ_CHARS:,} characters of subject and body together"),
    FieldDoc("priority", "text or null", "no",
             "the customer's or help desk's word, any case: "
             + "; ".join(f"{_spellings(level)} -> {level}" for level in LEVELS)
             + ". A hint for urgency, not the answer"),
    FieldDoc("created_at", "text or number", "no",
             "ISO 8601 (`2025-05-12T06:39:15Z`; UTC when it has no offset) or epoch seconds (`1234567890`, "
             "int or float); stored as ISO 8601 in UTC"),
    FieldDoc("customer_id", "text or null", "no", f"at most {MAX_CUSTOMER_ID_CHARS} characters"),
    FieldDoc("metadata", "object or null", "no",
             f"`source` (text, at most {MAX_METADATA_TEXT_CHARS} characters), `language` (at most "
             f"{MAX_LANGUAGE_CHARS}), `tags` (at most {MAX_TAGS} texts of at most {MAX_METADATA_TEXT_CHARS}), and any "
             f"other keys, kept as they came: at most {MAX_METADATA_BYTES:,} bytes of JSON in all, nested at most "
             f"{MAX_METADATA_DEPTH} levels"),
)

LIMITS = (
    f"One ticket is one JSON object of at most {MAX_TICKET_BYTES:,} bytes (UTF-8): a line of the JSONL "
    "file for `ticket-enrich enrich`, an S3 object or an SQS message for the worker. Other keys are "
    f"ignored. Numbers have at most {MAX_NUMBER_CHARS} digits; NaN and Infinity are refused. A ticket that breaks "
    "a rule is rejected with the field and the reason, never dropped."
)


def fields_text(width: int = 100) -> str:
    """The field list for `--help`: one wrapped paragraph per field."""
    lines = ["input: one ticket per line, a JSON object with these fields:"]
    for doc in FIELDS:
        required = "required" if doc.required == "yes" else ("optional" if doc.required == "no" else doc.required)
        lines.append(textwrap.fill(f"{doc.name} ({doc.type}; {required}): {doc.meaning.replace('`', '')}", width,
                                   initial_indent="  ", subsequent_indent="      ", break_on_hyphens=False))
    lines.append(textwrap.fill(LIMITS.replace("`", ""), width, break_on_hyphens=False))
    return "\n".join(lines)


def fields_markdown() -> str:
    """The README's table of the input schema."""
    rows = ["| field | type | required | what it takes |", "|---|---|---|---|"]
    rows += [f"| `{doc.name}` | {doc.type} | {doc.required} | {doc.meaning} |" for doc in FIELDS]
    return "\n".join(rows) + "\n\n" + LIMITS


if __name__ == "__main__":
    print(fields_markdown())
