"""`ticket-enrich aws show TICKET_ID`: one ticket's DynamoDB record and S3 document, readable.

An enriched ticket is found by its id; a rejected one by its record's key (`rejected:<source>`)
or, for an uploaded file, by the file's name (`make show ID=malformed-invalid-json.json`). The
readable form leaves the 384 floats out (`--json` prints the record and document as stored).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TextIO

from boto3.dynamodb.types import TypeDeserializer

from runtime.result import short_provenance
from worker.aws import AwsClients
from worker.records import rejection_key
from worker.settings import Settings

WIDTH = 100
BODY_CHARS = 600
RAW_BYTES = 400  # of a rejected ticket as it was sent


@dataclass(frozen=True)
class Found:
    key: str
    record: dict[str, Any]
    document: dict[str, Any] | None = None  # an enriched ticket's S3 document
    sent: bytes | None = None  # the first bytes of a rejected ticket as it was sent


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals -> int or float, all the way down."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def candidate_keys(ticket_id: str, raw_bucket: str) -> list[str]:
    """The record keys `ticket_id` may mean: itself, then a rejection of that source or file."""
    keys = [ticket_id, rejection_key(ticket_id), rejection_key(f"s3://{raw_bucket}/{ticket_id}"),
            rejection_key(f"s3://{raw_bucket}/{ticket_id}.json")]
    return list(dict.fromkeys(key for key in keys if not key.startswith("rejected:rejected:")))


def find(clients: AwsClients, settings: Settings, ticket_id: str) -> Found | None:
    deserialize = TypeDeserializer().deserialize
    for key in candidate_keys(ticket_id, settings.raw_bucket):
        item = clients.dynamodb.get_item(TableName=settings.table, Key={"ticket_id": {"S": key}}).get("Item")
        if item is None:
            continue
        record = _plain({name: deserialize(value) for name, value in item.items()})
        if record.get("status") == "enriched" and record.get("enriched_object"):
            bucket, object_key = _split_s3(record["enriched_object"])
            body = clients.s3.get_object(Bucket=bucket, Key=object_key)["Body"].read()
            return Found(key, record, document=json.loads(body))
        sent_from = record.get("payload_object") or record.get("source", "")
        sent = None
        if sent_from.startswith("s3://"):
            bucket, object_key = _split_s3(sent_from)
            try:
                sent = clients.s3.get_object(Bucket=bucket, Key=object_key,
                                             Range=f"bytes=0-{RAW_BYTES - 1}")["Body"].read()
            except clients.s3.exceptions.NoSuchKey:
                sent = None
        return Found(key, record, sent=sent)
    return None


def some_keys(clients: AwsClients, settings: Settings, limit: int = 5) -> list[str]:
    """A few record keys (one small scan page), to show what there is to look at."""
    page = clients.dynamodb.scan(TableName=settings.table, Limit=limit, ProjectionExpression="ticket_id")
    return sorted(item["ticket_id"]["S"] for item in page.get("Items", []))


def _line(label: str, text: Any, out: TextIO) -> None:
    flat = " ".join(str(text).split())
    print(textwrap.fill(flat, WIDTH, initial_indent=f"  {label:<10} ", subsequent_indent=" " * 13,
                        break_on_hyphens=False), file=out)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def render_enriched(found: Found, table: str, out: TextIO) -> None:
    record, document = found.record, found.document or {}
    ticket, enrichment = document.get("ticket", {}), document.get("enrichment", {})
    print(f"{record['ticket_id']}: enriched at {record.get('enriched_at')} from {record.get('source')}", file=out)
    _line("subject", ticket.get("subject") or "(none)", out)
    _line("body", _cut(ticket.get("body") or "(none)", BODY_CHARS), out)
    facts = [f"priority {ticket.get('priority') or '-'}", f"created {ticket.get('created_at') or '-'}",
             f"customer {ticket.get('customer_id') or '-'}"]
    _line("ticket", ", ".join(facts), out)
    _line("intent", f"{record['intent']} (confidence {record['intent_confidence']:.2f})", out)
    signals = ", ".join(record.get("urgency_signals") or []) or "no signals"
    _line("urgency", f"{record['urgency']} ({signals})", out)
    _line("sentiment", f"{record['sentiment']} (score {record['sentiment_score']:.2f})", out)
    preset = f", preset {record['summary_preset']}" if record.get("summary_preset") else ""
    _line("summary", f"{record['summary']} [{record['summary_kind']}{preset}]", out)
    vector = enrichment.get("embedding") or []
    head = ", ".join(f"{value:.4f}" for value in vector[:4])
    _line("embedding", f"{len(vector)} floats, unit length: [{head}, …]", out)
    models = short_provenance(enrichment.get("models") or {})
    _line("models", "; ".join(f"{role} {text}" for role, text in models.items())
          + f" (ref {record.get('models_ref', '?')}, profile {record.get('profile')}, variant {record.get('variant')})",
          out)
    batch = (enrichment.get("timings_ms") or {}).get("batch_size", "?")
    _line("time", f"{record.get('enrich_ms', 0):.1f} ms: its share of its batch's enrich call "
                  f"(a batch of {batch}), delivery {record.get('receive_count', 1)}", out)
    if enrichment.get("warning"):
        _line("warning", enrichment["warning"], out)
    print(f"record: DynamoDB table {table!r}, key {found.key!r}; document: {record.get('enriched_object')} "
          "(--json prints both as stored, the 384 floats included)", file=out)


def render_rejected(found: Found, table: str, out: TextIO) -> None:
    record = found.record
    print(f"{record.get('source')}: rejected at {record.get('rejected_at')}", file=out)
    _line("field", record.get("field"), out)
    _line("reason", record.get("reason"), out)
    _line("its id", record.get("claimed_ticket_id") or "(none it could give)", out)
    if record.get("payload_object"):
        _line("kept at", record["payload_object"], out)
    if found.sent is not None:
        shown = found.sent.decode("utf-8", "replace")
        more = "…" if len(found.sent) >= RAW_BYTES else ""
        _line("as sent", f"{shown!r}{more}", out)
    print(f"record: DynamoDB table {table!r}, key {found.key!r} (--json prints it as stored)", file=out)


def render(found: Found, table: str, out: TextIO) -> None:
    if found.record.get("status") == "enriched" and found.document is not None:
        render_enriched(found, table, out)
    else:
        render_rejected(found, table, out)


def as_json(found: Found) -> str:
    sent = found.sent.decode("utf-8", "replace") if found.sent is not None else None
    return json.dumps({"key": found.key, "record": found.record, "document": found.document, "sent": sent},
                      indent=2, ensure_ascii=False)
