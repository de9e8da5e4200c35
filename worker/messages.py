"""What arrives on the queue, parsed into work: S3 object events, tickets sent directly, and
messages to skip (s3:TestEvent, events other than ObjectCreated).

A body that is neither an S3 event nor a test event is taken as a ticket sent directly; if it
is not a valid ticket, validation rejects it later and it gets a rejection record like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _S3Bucket(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1)


class _S3Object(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: str = Field(min_length=1)
    size: int | None = None


class _S3Entity(BaseModel):
    model_config = ConfigDict(extra="ignore")
    bucket: _S3Bucket
    object: _S3Object


class S3EventRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    event_name: str = Field(alias="eventName")
    event_source: str = Field(default="aws:s3", alias="eventSource")
    s3: _S3Entity


class S3Event(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    records: list[S3EventRecord] = Field(alias="Records", min_length=1)


@dataclass(frozen=True)
class WorkItem:
    """One ticket to process: an S3 object, or a body that came on the queue itself."""

    message_id: str
    source: str  # s3://bucket/key or sqs:<message id>; rejection records are keyed by it
    bucket: str | None = None
    key: str | None = None
    body: str | None = None  # a direct ticket's text

    @property
    def from_s3(self) -> bool:
        return self.bucket is not None


@dataclass(frozen=True)
class ParsedMessage:
    message: dict[str, Any]  # as returned by sqs.receive_message
    items: tuple[WorkItem, ...]
    skipped: str | None = None  # why a message with no work is deleted

    @property
    def message_id(self) -> str:
        return str(self.message["MessageId"])


def s3_source(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def _unwrap_sns(document: Any) -> Any:
    """S3 -> SNS -> SQS delivers the S3 event as a string inside an SNS envelope."""
    if isinstance(document, dict) and document.get("Type") == "Notification" and isinstance(document.get("Message"), str):
        try:
            return json.loads(document["Message"])
        except json.JSONDecodeError:
            return document
    return document


def parse_message(message: dict[str, Any]) -> ParsedMessage:
    message_id = message["MessageId"]
    body = message.get("Body", "")
    try:
        document = _unwrap_sns(json.loads(body))
    except json.JSONDecodeError:
        document = None  # not JSON at all: a broken direct ticket, rejected by validation
    if isinstance(document, dict) and document.get("Event") == "s3:TestEvent":
        return ParsedMessage(message, (), skipped="s3:TestEvent")
    if isinstance(document, dict) and "Records" in document and "ticket_id" not in document:
        try:
            event = S3Event.model_validate(document)
        except ValidationError:
            event = None
        if event is not None:
            items = tuple(
                WorkItem(
                    message_id=message_id,
                    source=s3_source(record.s3.bucket.name, unquote_plus(record.s3.object.key)),
                    bucket=record.s3.bucket.name,
                    key=unquote_plus(record.s3.object.key),
                )
                for record in event.records
                if record.event_name.startswith("ObjectCreated")
            )
            names = sorted({record.event_name for record in event.records})
            return ParsedMessage(message, items, skipped=None if items else f"no ObjectCreated record ({', '.join(names)})")
    return ParsedMessage(message, (WorkItem(message_id=message_id, source=f"sqs:{message_id}", body=body),))
