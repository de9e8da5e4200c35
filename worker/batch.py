"""One SQS batch, as a partial-failure batch processor: every ticket in it ends enriched,
recognised as a duplicate, rejected, or failed; a message is deleted only when all of its
tickets are settled, and the failed ones are left for redelivery.

fetch (S3) -> validate -> dedupe (DynamoDB) -> enrich (one runtime call) -> write (S3, then
the conditional DynamoDB put). Each ticket of the batch is one `Work` record that the steps fill
in turn (body, ticket, enrichment or rejection, result); a ticket is still open while it has no
result. A batch whose enrich call raises is retried ticket by ticket, so one poison ticket fails
alone instead of taking nine good ones to the dead-letter queue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from runtime.errors import TicketRejected
from runtime.result import Enrichment
from runtime.ticket import Ticket
from ticket_schema import validate_ticket
from worker.engine import Engine
from worker.errors import EnrichmentMismatch, ObjectMissing, StoreError
from worker.messages import ParsedMessage, WorkItem
from worker.records import (
    EnrichedRecord,
    RejectionRecord,
    enriched_document,
    enriched_object_key,
    rejected_payload_key,
)
from worker.sqs import receive_count
from worker.store import Objects, Records

log = logging.getLogger("worker.batch")

OUTCOMES = ("enriched", "duplicate", "rejected", "failed")


@dataclass
class ItemResult:
    item: WorkItem
    outcome: str  # one of OUTCOMES
    ticket_id: str | None = None
    detail: str = ""
    row: dict[str, Any] | None = None  # for the run report: the record written


@dataclass
class Work:
    """One ticket of the batch on its way through the steps; each step fills its own fields."""

    item: WorkItem
    receive_count: int = 1
    body: bytes | str | None = None  # fetch
    ticket: Ticket | None = None  # validate
    leader: Work | None = None  # dedupe: the first item of the batch with the same ticket id
    enrichment: Enrichment | None = None  # enrich
    enrich_ms: float = 0.0
    rejection: TicketRejected | None = None  # fetch (object gone), validate or enrich
    document_written: bool | None = None  # write: False if an earlier delivery's document was there
    record_conflict: bool = False  # write: the conditional put found a record written meanwhile
    result: ItemResult | None = None  # set once, by the step that settles the ticket

    @property
    def open(self) -> bool:
        return self.result is None

    @property
    def ticket_id(self) -> str | None:
        return self.ticket.ticket_id if self.ticket is not None else None

    def settle(self, outcome: str, detail: str = "", row: dict[str, Any] | None = None) -> None:
        self.result = ItemResult(self.item, outcome, self.ticket_id, detail, row)


@dataclass
class BatchResult:
    messages: list[ParsedMessage]
    items: list[ItemResult]
    stage_seconds: dict[str, float] = field(default_factory=dict)
    enrich_calls: int = 0
    # Writes that met an earlier delivery's: "document" (left as it was), "record" (the conditional put lost)
    conflicts: dict[str, int] = field(default_factory=dict)

    def message_failed(self, message_id: str) -> bool:
        return any(r.outcome == "failed" and r.item.message_id == message_id for r in self.items)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.items if r.outcome == outcome)


@dataclass(frozen=True)
class Destinations:
    enriched_bucket: str


class BatchProcessor:
    """Holds what a batch needs (stores, engine, a thread pool for S3/DynamoDB I/O); no polling."""

    def __init__(self, objects: Objects, records: Records, engine: Engine, destinations: Destinations,
                 pool: ThreadPoolExecutor, clock: Callable[[], float] = time.perf_counter):
        self.objects = objects
        self.records = records
        self.engine = engine
        self.destinations = destinations
        self.pool = pool
        self.clock = clock

    @contextmanager
    def _stage(self, result: BatchResult, name: str) -> Iterator[None]:
        started = self.clock()
        try:
            yield
        finally:
            result.stage_seconds[name] = result.stage_seconds.get(name, 0.0) + self.clock() - started

    def process(self, messages: list[ParsedMessage]) -> BatchResult:
        work = [Work(item, receive_count(m.message)) for m in messages for item in m.items]
        result = BatchResult(messages, [])
        with self._stage(result, "fetch"):
            self._fetch(work)
        with self._stage(result, "validate"):
            self._validate(work)
        with self._stage(result, "dedupe"):
            leaders = self._dedupe(work)
        with self._stage(result, "enrich"):
            self._enrich(leaders, result)
        with self._stage(result, "write"):
            self._write(work)
        for w in work:  # same id twice in one batch: follows its first
            if w.open and w.leader is not None and w.leader.result is not None:
                w.settle("failed" if w.leader.result.outcome == "failed" else "duplicate",
                         "same id earlier in this batch")
        unsettled = [w.item.source for w in work if w.open]
        if unsettled:
            raise AssertionError(f"a batch step left tickets unsettled: {unsettled}")
        result.items = [w.result for w in work if w.result is not None]
        result.conflicts = {"document": sum(1 for w in work if w.document_written is False),
                            "record": sum(1 for w in work if w.record_conflict)}
        return result

    def _fetch(self, work: list[Work]) -> None:
        for w in work:
            if not w.item.from_s3:
                w.body = w.item.body

        def get(w: Work) -> None:
            assert w.item.bucket is not None and w.item.key is not None
            try:
                w.body = self.objects.get(w.item.bucket, w.item.key)
            except ObjectMissing as exc:
                # Deleted after the event: retrying cannot bring it back, so record why and move on.
                w.rejection = TicketRejected("object", str(exc))
            except StoreError as exc:
                w.settle("failed", str(exc))

        list(self.pool.map(get, [w for w in work if w.item.from_s3]))

    @staticmethod
    def _validate(work: list[Work]) -> None:
        for w in work:
            if w.body is not None:
                try:
                    w.ticket = validate_ticket(w.body)
                except TicketRejected as exc:
                    w.rejection = exc

    def _dedupe(self, work: list[Work]) -> list[Work]:
        """Settle the tickets already recorded; mark repeats of an id within the batch; return
        the first item of each id still to enrich."""
        valid = [(w, w.ticket.ticket_id) for w in work if w.ticket is not None]
        already = self._already_recorded([ticket_id for _, ticket_id in valid])
        leaders: dict[str, Work] = {}
        for w, ticket_id in valid:
            if ticket_id in already:
                w.settle("duplicate", "already recorded")
            elif ticket_id in leaders:
                w.leader = leaders[ticket_id]
            else:
                leaders[ticket_id] = w
        return list(leaders.values())

    def _already_recorded(self, ticket_ids: list[str]) -> set[str]:
        if not ticket_ids:
            return set()
        try:
            return self.records.existing(ticket_ids)
        except StoreError as exc:  # only an optimisation: the conditional put still guards
            log.warning("dedupe lookup failed; relying on the conditional put", extra={"fields": {"error": str(exc)}})
            return set()

    def _enrich(self, work: list[Work], result: BatchResult) -> None:
        """One runtime call for the batch; if it raises, one call per ticket, so that the ticket
        that caused it fails (or is rejected) alone."""
        if not work:
            return
        started = self.clock()
        try:
            result.enrich_calls += 1
            enrichments = self._enrich_call(work)
        except Exception as exc:  # noqa: BLE001 - isolate the ticket that caused it
            if len(work) == 1:
                self._enrich_failed(work[0], exc)
                return
            log.warning("batch enrich failed; retrying ticket by ticket",
                        extra={"fields": {"tickets": len(work), "error": f"{type(exc).__name__}: {exc}"}})
        else:
            share = (self.clock() - started) * 1000 / len(work)
            for w, enrichment in zip(work, enrichments, strict=True):
                w.enrichment, w.enrich_ms = enrichment, share
            return
        for w in work:
            started = self.clock()
            try:
                result.enrich_calls += 1
                [w.enrichment] = self._enrich_call([w])
                w.enrich_ms = (self.clock() - started) * 1000
            except Exception as exc:  # noqa: BLE001
                self._enrich_failed(w, exc)

    def _enrich_call(self, work: Sequence[Work]) -> list[Enrichment]:
        tickets = [w.ticket for w in work if w.ticket is not None]
        enrichments = self.engine.enrich(tickets)
        got = [e.ticket_id for e in enrichments]
        if got != [t.ticket_id for t in tickets]:
            raise EnrichmentMismatch(f"the runtime returned enrichments for {got}, not for the tickets it was given")
        return enrichments

    @staticmethod
    def _enrich_failed(w: Work, exc: Exception) -> None:
        if isinstance(exc, TicketRejected):  # the runtime refused it: a rejection, not a retry
            w.rejection = exc
        else:
            w.settle("failed", f"enrich failed: {type(exc).__name__}: {exc}")

    def _write(self, work: list[Work]) -> None:
        """Write every open ticket's enrichment or rejection, side by side on the I/O pool."""
        jobs: list[Callable[[], None]] = []
        for w in work:
            if w.open and w.rejection is not None:
                jobs.append(partial(self._write_rejection, w, w.rejection))
            elif w.open and w.enrichment is not None:
                jobs.append(partial(self._write_enriched, w, w.enrichment))
        list(self.pool.map(lambda job: job(), jobs))

    def _write_enriched(self, w: Work, enrichment: Enrichment) -> None:
        assert w.ticket is not None
        variant = self.engine.variant
        bucket, key = self.destinations.enriched_bucket, enriched_object_key(enrichment.ticket_id)
        try:
            # Write-once, both of them: a document an earlier delivery wrote (one killed before
            # its record, or racing this one) is left as it is, and the record's conditional put
            # decides which delivery is recorded. Neither is ever overwritten.
            w.document_written = self.objects.put_json_once(
                bucket, key, enriched_document(w.ticket, enrichment, source=w.item.source, variant=variant))
            record = EnrichedRecord.from_enrichment(enrichment, source=w.item.source, enriched_object=f"s3://{bucket}/{key}",
                                                    variant=variant, enrich_ms=w.enrich_ms,
                                                    receive_count=w.receive_count)
            written = self.records.put_new(record.to_item())
        except StoreError as exc:
            w.settle("failed", str(exc))
            return
        if written:
            w.settle("enriched", row=record.model_dump(mode="json"))
        else:
            w.record_conflict = True
            w.settle("duplicate", "recorded by another delivery meanwhile (the conditional put decided)")

    def _write_rejection(self, w: Work, exc: TicketRejected) -> None:
        item = w.item
        try:
            payload = None
            if not item.from_s3 and item.body is not None:  # keep a direct ticket's bytes: never dropped
                payload = self.objects.put_bytes(self.destinations.enriched_bucket, rejected_payload_key(item.message_id),
                                                 item.body.encode("utf-8", "surrogatepass"), "text/plain; charset=utf-8")
            record = RejectionRecord.build(source=item.source, field=exc.field, reason=exc.reason,
                                           claimed_ticket_id=exc.ticket_id, payload_object=payload)
            written = self.records.put_new(record.to_item())
        except StoreError as err:
            w.result = ItemResult(item, "failed", exc.ticket_id, str(err))
            return
        log.info("ticket rejected", extra={"fields": {  # capped: a reason may quote a field's value
            "source": item.source, "field": exc.field[:64], "reason": exc.reason[:200],
            "ticket_id": (exc.ticket_id or "")[:128] or None, "duplicate": not written}})
        if not written:
            w.result = ItemResult(item, "duplicate", exc.ticket_id, "rejection already recorded")
        else:
            w.result = ItemResult(item, "rejected", exc.ticket_id, f"{exc.field}: {exc.reason}",
                                  record.model_dump(mode="json"))
