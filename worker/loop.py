"""The poll loop: receive up to 10 messages (20-second long poll; a fresh process starts at 1 and
doubles), then gather up to 30 while the queue has more at once (short polls, within 2 s), process
them as one batch, delete what settled, leave the rest for redelivery. SIGTERM stops polling, lets the batch in
hand finish, and the loop returns; `until_empty` returns once the queue has nothing left."""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from worker.aws import describe_failure, error_code
from worker.batch import OUTCOMES, BatchProcessor, BatchResult
from worker.health import Health
from worker.messages import parse_message
from worker.metrics import WorkerMetrics
from worker.settings import DEFAULT_FIRST_BATCH, DEFAULT_ISOLATE_AFTER
from worker.sqs import Queue, VisibilityKeeper, receive_count, sent_at

log = logging.getLogger("worker.loop")

IO_STAGES = ("receive", "fetch", "dedupe", "write", "delete")


@dataclass(frozen=True)
class PollSettings:
    wait_seconds: int = 20
    max_messages: int = 10
    visibility_timeout: int | None = None  # None: the queue's own
    extend_every: float = 0.0  # 0: never extend
    until_empty: bool = False
    empty_wait_seconds: int = 2  # in until_empty mode: a short poll, then the queue's counters decide
    max_batch_seconds: float = 300.0  # stop extending a batch that runs longer (it is hung)
    # Gather: after a receive, short polls (no wait) add messages while the queue has them at once,
    # up to `gather_messages` or `gather_seconds` after the first receive; one batch for all. The
    # runtime decodes up to 32 rows together: 30 tickets cost ~0.75x per ticket what 10 do
    # (docs/PERFORMANCE.md). A queue with nothing waiting ends it at once: no latency is added.
    gather_messages: int = 30
    gather_seconds: float = 2.0
    # Crash-loop guards (docs/RELIABILITY.md, "A crash-looping pod"): a fresh process asks for
    # `first_batch` messages, doubling after each batch it finishes up to max_messages; a message
    # received `isolate_after` times or more (0: never) is processed alone, after the rest of its batch.
    first_batch: int = DEFAULT_FIRST_BATCH
    isolate_after: int = DEFAULT_ISOLATE_AFTER
    dead_letter_every_s: float = 60.0  # how often the dead-letter gauge is refreshed; 0: never


@dataclass
class RunStats:
    """What the run report shows: totals, time per stage, and (if kept) one row per ticket."""

    keep_rows: bool = False
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    stage_seconds: dict[str, float] = field(default_factory=dict)
    batches: int = 0
    enrich_calls: int = 0
    busy_seconds: float = 0.0
    first_message_at: float | None = None
    last_batch_done_at: float | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def add(self, result: BatchResult, receive_s: float, delete_s: float, started: float, done: float) -> None:
        self.batches += 1
        self.enrich_calls += result.enrich_calls
        for name, seconds in [*result.stage_seconds.items(), ("receive", receive_s), ("delete", delete_s)]:
            self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + seconds
        self.busy_seconds += done - started + receive_s
        self.first_message_at = self.first_message_at or started - receive_s
        self.last_batch_done_at = done
        for item in result.items:
            self.outcomes[item.outcome] = self.outcomes.get(item.outcome, 0) + 1
            if self.keep_rows and item.row is not None:
                (self.rows if item.outcome == "enriched" else self.rejections).append(item.row)

    @property
    def settled(self) -> int:
        return sum(v for k, v in self.outcomes.items() if k != "failed")

    def tickets_per_minute(self) -> float:
        if not self.first_message_at or not self.last_batch_done_at:
            return 0.0
        span = self.last_batch_done_at - self.first_message_at
        return self.settled * 60 / span if span > 0 else 0.0

    def split(self) -> dict[str, float]:
        """Seconds of batch time in AWS I/O, in inference, and in the rest (parsing, validation)."""
        io = sum(self.stage_seconds.get(s, 0.0) for s in IO_STAGES)
        inference = self.stage_seconds.get("enrich", 0.0)
        return {"aws_io": io, "inference": inference, "other": max(self.busy_seconds - io - inference, 0.0)}


class DeadLetterWatch:
    """Keeps the dead-letter gauge current: the DLQ's depth, read every `every_s` seconds. The DLQ
    is found through the queue's redrive policy; if it cannot be read, the gauge stays NaN (unknown)
    and the worker carries on."""

    def __init__(self, queue: Queue, metrics: WorkerMetrics, every_s: float):
        self.queue, self.metrics, self.every_s = queue, metrics, every_s
        self.url: str | None = None
        self.next_at = 0.0
        metrics.dead_letters.set(math.nan)

    def refresh(self) -> None:
        if not self.every_s or time.monotonic() < self.next_at:
            return
        self.next_at = time.monotonic() + self.every_s
        try:
            self.url = self.url or self.queue.dead_letter_url()
            if self.url is None:
                self.every_s = 0  # no redrive policy: nothing to watch
                log.warning("the queue has no dead-letter queue (redrive policy); run `ticket-enrich aws setup`")
                return
            depth = self.queue.depth(self.url)
        except (ClientError, BotoCoreError, ValueError) as exc:
            self.metrics.aws_errors.labels(operation="GetQueueAttributes", code=error_code(exc)).inc()
            log.warning("dead-letter queue depth unavailable",
                        extra={"fields": {"error": describe_failure("GetQueueAttributes (dead-letter queue)", exc)}})
            self.metrics.dead_letters.set(math.nan)
            return
        self.metrics.dead_letters.set(depth["visible"] + depth["in_flight"])


class PollInterrupted(BaseException):
    """Raised by the SIGTERM handler only while the loop waits in a long poll, to end the wait."""


class Worker:
    def __init__(self, queue: Queue, processor: BatchProcessor, metrics: WorkerMetrics, health: Health,
                 poll: PollSettings, stats: RunStats | None = None, clock: Any = time.perf_counter):
        self.queue = queue
        self.processor = processor
        self.metrics = metrics
        self.health = health
        self.poll = poll
        self.stats = stats or RunStats()
        self.clock = clock
        self.stop_event = threading.Event()
        self.polling = False

    def request_stop(self) -> None:
        self.stop_event.set()
        self.health.stopping = True

    def run(self) -> int:
        self.health.ready = True
        self.metrics.ready.set(1)
        wait = self.poll.empty_wait_seconds if self.poll.until_empty else self.poll.wait_seconds
        failures = 0
        size = max(1, min(self.poll.first_batch, self.poll.max_messages))
        dead_letters = DeadLetterWatch(self.queue, self.metrics, self.poll.dead_letter_every_s)
        while not self.stop_event.is_set():
            self.health.beat()
            dead_letters.refresh()
            started = self.clock()
            try:
                self.polling = True
                messages = self.queue.receive(size, wait, self.poll.visibility_timeout)
            except PollInterrupted:
                break
            except (ClientError, BotoCoreError) as exc:
                failures += 1
                self.metrics.aws_errors.labels(operation="ReceiveMessage", code=error_code(exc)).inc()
                log.error("receive failed", extra={"fields": {"error": describe_failure("sqs ReceiveMessage", exc),
                                                              "consecutive": failures}})
                self.stop_event.wait(min(2 ** failures, 30))
                continue
            finally:
                self.polling = False
            failures = 0
            if messages and size >= self.poll.max_messages:  # gather once the slow start is over
                messages = self._gather(messages, started)
            receive_s = self.clock() - started
            if messages:
                self.metrics.stage_seconds.labels(stage="receive").observe(receive_s)
                self._handle(messages, receive_s)
                size = min(size * 2, self.poll.max_messages)  # this process survived a batch: take more
            elif self.poll.until_empty and self._drained():
                log.info("queue is empty; stopping (--until-empty)")
                break
        self.health.stopping = True
        self.metrics.ready.set(0)
        return 0

    def _gather(self, messages: list[dict[str, Any]], started: float) -> list[dict[str, Any]]:
        """`messages` and what short polls add while the queue has more at once (PollSettings.gather_*).
        A failed short poll ends the gathering: the messages in hand are processed as they are."""
        poll = self.poll
        while (len(messages) < poll.gather_messages and self.clock() - started < poll.gather_seconds
               and not self.stop_event.is_set()):
            try:
                more = self.queue.receive(min(poll.max_messages, poll.gather_messages - len(messages)), 0,
                                          poll.visibility_timeout)
            except (ClientError, BotoCoreError):
                break
            if not more:
                break
            messages = messages + more
        return messages

    def _drained(self) -> bool:
        try:
            depth = self.queue.depth()
        except (ClientError, BotoCoreError) as exc:
            log.warning("queue depth unavailable", extra={"fields": {"error": describe_failure("GetQueueAttributes", exc)}})
            return False
        return not any(depth.values())

    def _groups(self, messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """The batch as it is processed: the messages received fewer than `isolate_after` times
        together, then each one received more often alone (fewest receives first), so a ticket
        that keeps killing its worker cannot take the rest of its batch down with it again. Among
        equal counts the order is the receipt handles' (new on every delivery, so a different order
        each time: a good message queued behind the culprit once is not queued behind it again)."""
        if not self.poll.isolate_after:
            return [messages]
        suspects = sorted((m for m in messages if receive_count(m) >= self.poll.isolate_after),
                          key=lambda m: (receive_count(m), str(m.get("ReceiptHandle", ""))))
        regular = [m for m in messages if receive_count(m) < self.poll.isolate_after]
        if suspects:
            log.info("processing messages received many times one at a time, after the others", extra={"fields": {
                "isolated": len(suspects), "receive_counts": [receive_count(m) for m in suspects],
                "others": len(regular)}})
        return ([regular] if regular else []) + [[m] for m in suspects]

    def _handle(self, messages: list[dict[str, Any]], receive_s: float) -> None:
        now = time.time()
        self.metrics.batches.inc()
        self.metrics.batch_size.observe(len(messages))
        for message in messages:
            if (sent := sent_at(message)) is not None:
                self.metrics.message_age.observe(max(now - sent, 0.0))
        with VisibilityKeeper(self.queue, messages, self.poll.visibility_timeout or 0,
                              self.poll.extend_every if self.poll.visibility_timeout else 0,
                              give_up_after=self.poll.max_batch_seconds) as keeper:
            for number, group in enumerate(self._groups(messages)):
                self._settle(group, receive_s if number == 0 else 0.0)
                keeper.release(group)

    def _settle(self, messages: list[dict[str, Any]], receive_s: float) -> None:
        """Process one group of received messages, delete what settled, leave the rest for redelivery."""
        started = self.clock()
        parsed = [parse_message(m) for m in messages]
        work = [p for p in parsed if p.items]
        try:
            result = self.processor.process(work)
        except Exception:  # a bug, not a ticket: nothing is deleted, everything comes back
            log.exception("batch failed unexpectedly; its messages will be redelivered",
                          extra={"fields": {"messages": len(messages)}})
            self.queue.retry_later([p.message for p in work], self.poll.visibility_timeout or 30)
            self.metrics.messages.labels(outcome="retried").inc(len(work))
            return
        delete_started = self.clock()
        done = [p.message for p in parsed if not result.message_failed(p.message_id)]
        failed = [p.message for p in parsed if result.message_failed(p.message_id)]
        undeleted = self.queue.delete(done)
        if failed:
            self.queue.retry_later(failed, self.poll.visibility_timeout or 30)
        finished = self.clock()
        delete_s = finished - delete_started
        self._record(parsed, result, receive_s, delete_s, started, finished, len(failed), len(undeleted))

    def _record(self, parsed: list[Any], result: BatchResult, receive_s: float, delete_s: float,
                started: float, finished: float, failed: int, undeleted: int) -> None:
        for name, seconds in [*result.stage_seconds.items(), ("delete", delete_s)]:
            self.metrics.stage_seconds.labels(stage=name).observe(seconds)
        self.metrics.batch_seconds.observe(finished - started + receive_s)
        for target, count in result.conflicts.items():
            self.metrics.write_conflicts.labels(target=target).inc(count)
        for item in result.items:
            self.metrics.tickets.labels(outcome=item.outcome).inc()
            if item.outcome == "failed":
                log.warning("ticket failed; left for redelivery",
                            extra={"fields": {"source": item.item.source, "ticket_id": item.ticket_id,
                                              "error": item.detail}})
        skipped = sum(1 for p in parsed if not p.items)
        self.metrics.messages.labels(outcome="deleted").inc(len(parsed) - failed - skipped)
        self.metrics.messages.labels(outcome="retried").inc(failed)
        self.metrics.messages.labels(outcome="skipped").inc(skipped)
        self.stats.add(result, receive_s, delete_s, started, finished)
        log.info("batch done", extra={"fields": {
            "messages": len(parsed), "skipped": skipped,
            **{o: result.count(o) for o in OUTCOMES},
            **({"write_conflicts": result.conflicts} if any(result.conflicts.values()) else {}),
            "undeleted": undeleted, "enrich_calls": result.enrich_calls,
            "ms": {k: round(v * 1000, 1) for k, v in {**result.stage_seconds, "receive": receive_s,
                                                     "delete": delete_s}.items()},
            "total_ms": round((finished - started + receive_s) * 1000, 1)}})


def install_signal_handlers(worker: Worker) -> None:
    """SIGTERM/SIGINT: stop polling; a batch in hand finishes first. Call from the main thread."""

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("stop requested; finishing the batch in hand", extra={"fields": {"signal": signal.Signals(signum).name}})
        worker.request_stop()
        if worker.polling:  # waiting in a long poll: end the wait now (anything received comes back)
            raise PollInterrupted()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
