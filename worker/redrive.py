"""Bring dead-lettered messages back to the queue: `ticket-enrich aws redrive`, and what
`ticket-enrich aws status` shows of it.

SQS's own `StartMessageMoveTask` is used where the endpoint has it (AWS does): SQS moves the
messages itself, at up to `--rate` messages a second, and `ListMessageMoveTasks` reports the
progress. Where the endpoint does not support it (the documented `UnsupportedOperation`, an
unknown action, or a server error on the call, which is what moto answers), the messages are
moved by receive-and-send instead: each one is sent to the queue with its body and message
attributes, and deleted from the dead-letter queue only once the send succeeded, so a failure
midway loses nothing (at worst a message is in both queues, and the worker recognises the
second copy as a duplicate). Either way the messages arrive as new messages, received 0 times.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from worker.aws import AwsClients, describe_failure, error_code
from worker.settings import Settings

log = logging.getLogger("worker.redrive")

# Error codes meaning "this endpoint cannot run message move tasks": AWS documents
# UnsupportedOperation; emulators answer an unknown action or a server error (moto: HTTP 500).
UNSUPPORTED_CODES = {"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "InvalidAction",
                     "NotImplemented", "UnknownOperationException"}
FINISHED_STATUSES = {"COMPLETED", "CANCELLED", "FAILED"}


@dataclass
class Redrive:
    """What a redrive did: how (move-task | receive-and-send), how many messages it moved."""

    method: str
    moved: int = 0
    status: str = "COMPLETED"  # the move task's status (RUNNING if not waited for)
    to_move: int | None = None  # the move task's estimate of the messages to move
    task_handle: str | None = None
    not_sent: int = 0  # receive-and-send: messages whose send failed (still in the DLQ)
    notes: list[str] = field(default_factory=list)

    def describe(self, dlq: str, queue: str) -> str:
        how = "SQS message move task" if self.method == "move-task" else "receive-and-send"
        line = f"moved {self.moved} messages from {dlq} to {queue} ({how}"
        line += f", {self.status.lower()})" if self.method == "move-task" else ")"
        if self.status == "RUNNING":
            line += f"; about {self.to_move} to move: `ticket-enrich aws status` shows the progress"
        if self.not_sent:
            line += f"; {self.not_sent} could not be sent and stay in {dlq}: run redrive again"
        return line


def queue_arns(sqs: Any, settings: Settings) -> tuple[str, str, str]:
    """(queue ARN, dead-letter queue URL, dead-letter queue ARN)."""
    queue_url = sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=settings.dlq_name)["QueueUrl"]

    def arn(url: str) -> str:
        return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    return arn(queue_url), dlq_url, arn(dlq_url)


def unsupported(exc: ClientError) -> bool:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return error_code(exc) in UNSUPPORTED_CODES or status >= 500


def move_tasks(probe: Any, dlq_arn: str) -> list[dict[str, Any]] | None:
    """The dead-letter queue's recent move tasks (newest first); None where the endpoint has none."""
    try:
        tasks: list[dict[str, Any]] = probe.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
        return tasks
    except ClientError as exc:
        if unsupported(exc):
            return None
        raise


def redrive(clients: AwsClients, probe: Any, settings: Settings, *, rate: int | None = None, wait: bool = True,
            timeout_s: float = 600.0) -> Redrive:
    """Move every message of the DLQ back to the queue. `probe` is an SQS client with few retries,
    for the calls an endpoint may not support (so that an unsupported call fails fast)."""
    queue_arn, dlq_url, dlq_arn = queue_arns(clients.sqs, settings)
    request: dict[str, Any] = {"SourceArn": dlq_arn, "DestinationArn": queue_arn}
    if rate:
        request["MaxNumberOfMessagesPerSecond"] = rate
    try:
        handle = str(probe.start_message_move_task(**request)["TaskHandle"])
    except ClientError as exc:
        if not unsupported(exc):
            raise
        result = receive_and_send(clients.sqs, dlq_url, clients.sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"])
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        result.notes.append(f"StartMessageMoveTask answered {error_code(exc)} (HTTP {status}): this endpoint cannot "
                            "run message move tasks, so the messages were moved by receive-and-send")
        return result
    result = Redrive("move-task", status="RUNNING", task_handle=handle)
    deadline = time.monotonic() + timeout_s
    while True:
        task = next((t for t in move_tasks(probe, dlq_arn) or [] if t.get("TaskHandle") == handle), None)
        if task is not None:
            result.status = str(task.get("Status", "RUNNING"))
            result.moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            result.to_move = task.get("ApproximateNumberOfMessagesToMove")
            if task.get("FailureReason"):
                result.notes.append(f"the move task reports: {task['FailureReason']}")
        if not wait or result.status in FINISHED_STATUSES or time.monotonic() > deadline:
            return result
        time.sleep(2.0)


def receive_and_send(sqs: Any, dlq_url: str, queue_url: str, visibility_timeout: int = 60) -> Redrive:
    """Send each dead-lettered message to the queue (body and message attributes as they were),
    then delete it from the DLQ; a message whose send failed is made visible again and counted."""
    result = Redrive("receive-and-send")
    while True:
        # A long poll (1 s) asks every SQS server, so an empty answer means an empty queue.
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       VisibilityTimeout=visibility_timeout, MessageAttributeNames=["All"],
                                       AttributeNames=["All"]).get("Messages", [])
        if not messages:
            return result
        entries = []
        for number, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(number), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        try:
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            sent = {int(e["Id"]) for e in response.get("Successful", [])}
        except (ClientError, BotoCoreError) as exc:
            log.warning("sending dead letters back failed", extra={"fields": {"error": describe_failure("SendMessageBatch", exc)}})
            sent = set()
        moved = [m for i, m in enumerate(messages) if i in sent]
        if moved:
            deleted = sqs.delete_message_batch(QueueUrl=dlq_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(moved)])
            if deleted.get("Failed"):  # sent but not deleted: a duplicate the worker will recognise
                result.notes.append(f"{len(deleted['Failed'])} moved messages could not be deleted from the DLQ")
        result.moved += len(moved)
        kept = [m for i, m in enumerate(messages) if i not in sent]
        if kept:
            result.not_sent += len(kept)
            sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(kept)])
            return result  # the endpoint refuses sends: stop rather than spin on the same messages


def running_move_tasks(clients: AwsClients, probe: Any, settings: Settings) -> list[dict[str, Any]] | None:
    """The dead-letter queue's move tasks still running (None: the endpoint has no move tasks)."""
    dlq_url = clients.sqs.get_queue_url(QueueName=settings.dlq_name)["QueueUrl"]
    dlq_arn = clients.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    tasks = move_tasks(probe, dlq_arn)
    return None if tasks is None else [t for t in tasks if t.get("Status") not in FINISHED_STATUSES]
