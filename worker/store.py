"""Where tickets come from and results go: S3 objects and DynamoDB records, behind two small
classes. Idempotency lives here: a record is written with a conditional put, so a ticket that
is delivered twice makes one record and no error.
"""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from worker.aws import describe_failure, error_code
from worker.errors import ObjectMissing, StoreError

MISSING_OBJECT_CODES = {"NoSuchKey", "404", "NotFound"}
# A conditional write (If-None-Match) that met an existing object. (A 409 ConditionalRequestConflict,
# another conditional write of the key in progress, is a failure like any other: retried later.)
PRECONDITION_FAILED_CODES = {"PreconditionFailed", "412"}


def _fail(action: str, exc: Exception) -> StoreError:
    code = error_code(exc)
    kind = ObjectMissing if code in MISSING_OBJECT_CODES else StoreError
    return kind(describe_failure(action, exc), code)


class Objects:
    """S3: read raw tickets, write enriched documents."""

    def __init__(self, s3: Any):
        self.s3 = s3

    def get(self, bucket: str, key: str) -> bytes:
        try:
            body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            return body
        except (ClientError, BotoCoreError) as exc:
            raise _fail(f"s3 GetObject s3://{bucket}/{key}", exc) from exc

    def put_json_once(self, bucket: str, key: str, document: dict[str, Any]) -> bool:
        """Write a JSON document unless the key exists (S3's conditional write, `If-None-Match: *`).
        True: written; False: an earlier delivery of the same ticket wrote it, and it is left as
        it is. A retry of a write that took effect but lost its reply also lands here."""
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        try:
            self.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*")
        except ClientError as exc:
            if error_code(exc) in PRECONDITION_FAILED_CODES:
                return False
            raise _fail(f"s3 PutObject s3://{bucket}/{key}", exc) from exc
        except BotoCoreError as exc:
            raise _fail(f"s3 PutObject s3://{bucket}/{key}", exc) from exc
        return True

    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str) -> str:
        try:
            self.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            raise _fail(f"s3 PutObject s3://{bucket}/{key}", exc) from exc
        return f"s3://{bucket}/{key}"


class Records:
    """DynamoDB: one record per ticket id, written once."""

    def __init__(self, dynamodb: Any, table: str):
        self.dynamodb = dynamodb
        self.table = table

    def existing(self, ticket_ids: list[str]) -> set[str]:
        """Which of these ids already have a record (one BatchGetItem per 100 ids)."""
        found: set[str] = set()
        ids = sorted(set(ticket_ids))
        for start in range(0, len(ids), 100):
            request = {self.table: {"Keys": [{"ticket_id": {"S": i}} for i in ids[start:start + 100]],
                                    "ProjectionExpression": "ticket_id"}}
            for attempt in range(5):  # unprocessed keys come back under throttling: back off, then give up
                try:
                    response = self.dynamodb.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise _fail(f"dynamodb BatchGetItem on {self.table}", exc) from exc
                found.update(item["ticket_id"]["S"] for item in response["Responses"].get(self.table, []))
                request = response.get("UnprocessedKeys")
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)
        # Keys still unprocessed count as "not recorded": the conditional put guards them anyway.
        return found

    def put_new(self, item: dict[str, Any]) -> bool:
        """Write a record unless one with its ticket_id exists. True: written; False: a duplicate."""
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(ticket_id)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise _fail(f"dynamodb PutItem on {self.table}", exc) from exc
        except BotoCoreError as exc:
            raise _fail(f"dynamodb PutItem on {self.table}", exc) from exc
        return True

    def get(self, ticket_id: str) -> dict[str, Any] | None:
        try:
            response = self.dynamodb.get_item(TableName=self.table, Key={"ticket_id": {"S": ticket_id}})
        except (ClientError, BotoCoreError) as exc:
            raise _fail(f"dynamodb GetItem on {self.table}", exc) from exc
        item: dict[str, Any] | None = response.get("Item")
        return item
