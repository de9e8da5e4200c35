"""The SQS side of the worker: receive, delete in one batch call, leave failures for
redelivery with a backoff, and keep a long batch's messages invisible while it runs."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from worker.aws import describe_failure, error_code
from worker.metrics import WorkerMetrics

log = logging.getLogger("worker.sqs")

# A failed message comes back after 5 s, then 10, 20, ... capped at the visibility timeout,
# so a passing fault costs seconds and a poison message still reaches the DLQ in bounded time.
RETRY_BASE_SECONDS = 5


def retry_delay(receive_count: int, visibility_timeout: int) -> int:
    return int(min(visibility_timeout, RETRY_BASE_SECONDS * 2 ** max(receive_count - 1, 0)))


def receive_count(message: dict[str, Any]) -> int:
    return int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))


def sent_at(message: dict[str, Any]) -> float | None:
    stamp = message.get("Attributes", {}).get("SentTimestamp")
    return int(stamp) / 1000 if stamp else None


class Queue:
    def __init__(self, sqs: Any, url: str, metrics: WorkerMetrics):
        self.sqs = sqs
        self.url = url
        self.metrics = metrics

    def _failed(self, operation: str, exc: Exception) -> None:
        self.metrics.aws_errors.labels(operation=operation, code=error_code(exc)).inc()
        log.warning("sqs call failed", extra={"fields": {"operation": operation, "error": describe_failure(operation, exc)}})

    def receive(self, max_messages: int, wait_seconds: int, visibility_timeout: int | None) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "QueueUrl": self.url,
            "MaxNumberOfMessages": max_messages,
            "WaitTimeSeconds": wait_seconds,
            "AttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
        }
        if visibility_timeout:
            request["VisibilityTimeout"] = visibility_timeout
        messages: list[dict[str, Any]] = self.sqs.receive_message(**request).get("Messages", [])
        return messages

    def delete(self, messages: list[dict[str, Any]]) -> list[str]:
        """Delete in one call per 10 messages; returns the ids that could not be deleted (they
        come back and are recognised as duplicates)."""
        failed: list[str] = []
        for start in range(0, len(messages), 10):
            chunk = messages[start:start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            try:
                response = self.sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                self._failed("DeleteMessageBatch", exc)
                failed.extend(m["MessageId"] for m in chunk)
                continue
            for entry in response.get("Failed", []):
                failed.append(chunk[int(entry["Id"])]["MessageId"])
                self.metrics.aws_errors.labels(operation="DeleteMessageBatch", code=entry.get("Code", "Failed")).inc()
        return failed

    def set_visibility(self, messages: list[tuple[dict[str, Any], int]], operation: str) -> int:
        """Set each message's visibility timeout; returns how many calls succeeded."""
        done = 0
        for start in range(0, len(messages), 10):
            chunk = messages[start:start + 10]
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": seconds}
                for i, (m, seconds) in enumerate(chunk)
            ]
            try:
                response = self.sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                self._failed(operation, exc)
                continue
            done += len(response.get("Successful", []))
        return done

    def retry_later(self, messages: list[dict[str, Any]], visibility_timeout: int) -> None:
        """Failed messages come back after a backoff instead of a whole visibility timeout."""
        self.set_visibility(
            [(m, retry_delay(receive_count(m), visibility_timeout)) for m in messages], "ChangeMessageVisibility"
        )

    def dead_letter_url(self) -> str | None:
        """The URL of the queue's dead-letter queue, from its redrive policy (None: it has none).
        SQS requires the DLQ in the same account and region, so it sits beside this queue's URL."""
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["RedrivePolicy"])["Attributes"]
        policy = json.loads(attributes.get("RedrivePolicy") or "{}")
        target = policy.get("deadLetterTargetArn")
        return f"{self.url.rsplit('/', 1)[0]}/{target.rsplit(':', 1)[-1]}" if target else None

    def depth(self, url: str | None = None) -> dict[str, int]:
        """Visible, in flight and delayed messages of this queue (or of the queue at `url`)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return {
            "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
        }


class VisibilityKeeper:
    """While a batch runs, push its messages' visibility timeout forward every `every` seconds,
    so a batch that runs long is not delivered to a second worker meanwhile. After `give_up_after`
    seconds it stops: a batch that hangs must not hold its messages forever (and the liveness
    probe, on the same limit, restarts the worker)."""

    def __init__(self, queue: Queue, messages: list[dict[str, Any]], timeout: int, every: float,
                 give_up_after: float = math.inf):
        self.queue = queue
        self.messages = messages
        self.timeout = timeout
        self.every = every
        self.give_up_after = give_up_after
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.extensions = 0

    def release(self, settled: list[dict[str, Any]]) -> None:
        """Stop extending these messages (deleted, or left for redelivery with their backoff)."""
        gone = {id(m) for m in settled}
        with self._lock:
            self.messages = [m for m in self.messages if id(m) not in gone]

    def _run(self) -> None:
        began = time.monotonic()
        while not self._done.wait(self.every):
            started = time.monotonic()
            if started - began > self.give_up_after:
                log.error("batch still running; no longer extending its visibility",
                          extra={"fields": {"running_s": round(started - began), "messages": len(self.messages)}})
                return
            with self._lock:
                holding = list(self.messages)
            if not holding:
                continue
            extended = self.queue.set_visibility([(m, self.timeout) for m in holding], "ExtendVisibility")
            self.extensions += 1
            self.queue.metrics.visibility_extensions.inc(extended)
            log.info(
                "extended visibility",
                extra={"fields": {"messages": extended, "timeout_s": self.timeout,
                                  "ms": round((time.monotonic() - started) * 1000, 1)}},
            )

    def __enter__(self) -> VisibilityKeeper:
        if self.every > 0 and self.messages:
            self._thread = threading.Thread(target=self._run, name="visibility-keeper", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
