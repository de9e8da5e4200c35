"""The queue, buckets and table the worker needs: create (idempotently), seed, inspect, empty.

Used by `ticket-enrich aws ...` and by the integration tests, against whatever endpoint the
standard AWS environment names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from worker.aws import AwsClients, error_code
from worker.settings import Settings

MAX_RECEIVE_COUNT = 5
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the longest SQS allows: time to look at what failed
NOTIFICATION_ID = "tickets-raw-json-to-queue"


def _create_bucket(s3: Any, name: str) -> str:
    region = s3.meta.region_name
    request: dict[str, Any] = {"Bucket": name}
    if region and region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**request)
        return f"created bucket {name}"
    except ClientError as exc:
        if error_code(exc) in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            return f"bucket {name} exists"
        raise


def _queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _ensure_queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    try:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return url, f"queue {name} ready"
    except ClientError as exc:
        if error_code(exc) not in ("QueueAlreadyExists", "QueueNameExists"):
            raise
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]  # exists with other attributes: bring them in line
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url, f"queue {name} updated"


def _ensure_table(dynamodb: Any, name: str) -> str:
    try:
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "ticket_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "ticket_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        message = f"created table {name}"
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
        message = f"table {name} exists"
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return message


def setup(clients: AwsClients, settings: Settings) -> list[str]:
    """Buckets, queue + DLQ (redrive after 5 receives), table, and the S3 -> SQS notification."""
    done = [_create_bucket(clients.s3, settings.raw_bucket), _create_bucket(clients.s3, settings.enriched_bucket)]
    dlq_url, message = _ensure_queue(clients.sqs, settings.dlq_name,
                                     {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)})
    done.append(message)
    redrive = {"deadLetterTargetArn": _queue_arn(clients.sqs, dlq_url), "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
    queue_url, message = _ensure_queue(clients.sqs, settings.queue_name, {
        "VisibilityTimeout": str(settings.visibility_timeout),
        "ReceiveMessageWaitTimeSeconds": "20",
        "RedrivePolicy": json.dumps(redrive),
    })
    done.append(message)
    queue_arn = _queue_arn(clients.sqs, queue_url)
    bucket_arn = f"arn:aws:s3:::{settings.raw_bucket}"
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "tickets-raw-notifications", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": bucket_arn}},
    }]}
    clients.sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    done.append(_ensure_table(clients.dynamodb, settings.table))
    clients.s3.put_bucket_notification_configuration(
        Bucket=settings.raw_bucket,
        NotificationConfiguration={"QueueConfigurations": [{
            "Id": NOTIFICATION_ID,
            "QueueArn": queue_arn,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".json"}]}},
        }]},
    )
    done.append(f"s3://{settings.raw_bucket}/*.json -> {settings.queue_name} (dead letters after "
                f"{MAX_RECEIVE_COUNT} receives -> {settings.dlq_name})")
    return done


def seed(clients: AwsClients, settings: Settings, directory: Path, prefix: str = "") -> list[str]:
    """Upload every *.json file under `directory`, byte for byte (malformed ones included)."""
    files = sorted(p for p in Path(directory).rglob("*.json") if p.is_file())
    if not files:
        raise FileNotFoundError(f"no *.json files under {directory}: nothing to seed")
    keys = []
    for path in files:
        key = prefix + path.relative_to(directory).as_posix()
        clients.s3.put_object(Bucket=settings.raw_bucket, Key=key, Body=path.read_bytes(),
                              ContentType="application/json")
        keys.append(key)
    return keys


def queue_depth(sqs: Any, name: str) -> dict[str, int]:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
    ])["Attributes"]
    return {
        "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    }


def _scan(dynamodb: Any, table: str, **request: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, **request):
        items.extend(page.get("Items", []))
    return items


def record_counts(dynamodb: Any, table: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in _scan(dynamodb, table, ProjectionExpression="#s", ExpressionAttributeNames={"#s": "status"}):
        status = item.get("status", {}).get("S", "unknown")
        counts[status] = counts.get(status, 0) + 1
    return counts


def _keys(s3: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return keys


def status(clients: AwsClients, settings: Settings) -> dict[str, Any]:
    return {
        "queue": {settings.queue_name: queue_depth(clients.sqs, settings.queue_name),
                  settings.dlq_name: queue_depth(clients.sqs, settings.dlq_name)},
        "records": record_counts(clients.dynamodb, settings.table),
        "objects": {b: len(_keys(clients.s3, b)) for b in (settings.raw_bucket, settings.enriched_bucket)},
    }


def reset(clients: AwsClients, settings: Settings) -> list[str]:
    """Empty the queues, the buckets and the table; the resources themselves stay."""
    done = []
    for name in (settings.queue_name, settings.dlq_name):
        url = clients.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        try:
            clients.sqs.purge_queue(QueueUrl=url)
            done.append(f"purged {name}")
        except ClientError as exc:
            if error_code(exc) != "AWS.SimpleQueueService.PurgeQueueInProgress":
                raise
            done.append(f"{name}: a purge is already in progress (SQS allows one per minute)")
    for bucket in (settings.raw_bucket, settings.enriched_bucket):
        keys = _keys(clients.s3, bucket)
        for start in range(0, len(keys), 1000):
            clients.s3.delete_objects(Bucket=bucket, Delete={
                "Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True})
        done.append(f"emptied {bucket} ({len(keys)} objects)")
    items = _scan(clients.dynamodb, settings.table, ProjectionExpression="ticket_id")
    for start in range(0, len(items), 25):
        request: dict[str, Any] | None = {settings.table: [{"DeleteRequest": {"Key": {"ticket_id": i["ticket_id"]}}}
                                                           for i in items[start:start + 25]]}
        while request:
            request = clients.dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or None
    done.append(f"emptied table {settings.table} ({len(items)} records)")
    return done
