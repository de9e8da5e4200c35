"""One SQS batch, as a partial-failure batch processor: every ticket in it ends enriched,
recognised as a duplicate, rejected, or failed; a message is deleted only when all of its
tickets are settled, and the failed ones are left for redelivery.

fetch (S3) -> validate -> dedupe (DynamoDB) -> enrich (one runtime call) -> write (S3, then
the conditional DynamoDB put). A batch whose enrich call raises is retried ticket by ticket, so
one poison ticket fails alone instead of taking nine good ones to the dead-letter queue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from runtime.errors import TicketRejected
from ticket_schema import validate_ticket
from worker.messages import ParsedMessage, WorkItem
from worker.records import (
    EnrichedRecord,
    RejectionRecord,
    enriched_document,
    enriched_object_key,
    rejected_payload_key,
)
from worker.sqs import receive_count
from worker.store import ObjectMissing, Objects, Records, StoreError

log = logging.getLogger("worker.batch")

OUTCOMES = ("enriched", "duplicate", "rejected", "failed")


@dataclass
class ItemResult:
    item: WorkItem
    outcome: str  # one of OUTCOMES
    ticket_id: str | None = None
    detail: str = ""
    row: dict[str, Any] | None = None  # for the run report: the enriched record


@dataclass
class BatchResult:
    messages: list[ParsedMessage]
    items: list[ItemResult]
    stage_seconds: dict[str, float] = field(default_factory=dict)
    enrich_calls: int = 0

    def message_failed(self, message_id: str) -> bool:
        return any(r.outcome == "failed" and r.item.message_id == message_id for r in self.items)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.items if r.outcome == outcome)


@dataclass(frozen=True)
class Destinations:
    enriched_bucket: str


class BatchProcessor:
    """Holds what a batch needs (stores, enricher, a thread pool for S3/DynamoDB I/O); no polling."""

    def __init__(self, objects: Objects, records: Records, enricher: Any, destinations: Destinations,
                 pool: ThreadPoolExecutor, clock: Callable[[], float] = time.perf_counter):
        self.objects = objects
        self.records = records
        self.enricher = enricher
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
        counts = {m.message_id: receive_count(m.message) for m in messages}
        items = [item for m in messages for item in m.items]
        result = BatchResult(messages, [])
        settled: dict[int, ItemResult] = {}
        with self._stage(result, "fetch"):
            bodies = self._fetch(items, settled)
        tickets: dict[int, Any] = {}
        rejections: dict[int, TicketRejected] = {}
        with self._stage(result, "validate"):
            for index, body in bodies.items():
                try:
                    tickets[index] = validate_ticket(body)
                except TicketRejected as exc:
                    rejections[index] = exc
        with self._stage(result, "dedupe"):
            already = self._already_recorded(tickets)
        first: dict[str, int] = {}  # ticket id -> the item that carries it in this batch
        for index, ticket in tickets.items():
            if ticket.ticket_id in already:
                settled[index] = ItemResult(items[index], "duplicate", ticket.ticket_id, "already recorded")
            else:
                first.setdefault(ticket.ticket_id, index)
        with self._stage(result, "enrich"):
            enriched = self._enrich([tickets[i] for i in first.values()], result, rejections, first)
        with self._stage(result, "write"):
            self._write(items, tickets, first, enriched, rejections, counts, settled)
        for index, ticket in tickets.items():  # same id twice in one batch: follows its first
            if index not in settled:
                leader = settled[first[ticket.ticket_id]]
                outcome = "failed" if leader.outcome == "failed" else "duplicate"
                settled[index] = ItemResult(items[index], outcome, ticket.ticket_id, "same id earlier in this batch")
        result.items = [settled[i] for i in range(len(items))]
        return result

    def _fetch(self, items: list[WorkItem], settled: dict[int, ItemResult]) -> dict[int, bytes | str]:
        bodies: dict[int, bytes | str] = {i: item.body for i, item in enumerate(items) if not item.from_s3}
        s3_items = [(i, item) for i, item in enumerate(items) if item.from_s3]

        def get(pair: tuple[int, WorkItem]) -> tuple[int, bytes | StoreError]:
            index, item = pair
            try:
                return index, self.objects.get(item.bucket, item.key)
            except StoreError as exc:
                return index, exc

        for index, body in self.pool.map(get, s3_items):
            if isinstance(body, ObjectMissing):
                # Deleted after the event: retrying cannot bring it back, so record why and move on.
                settled[index] = ItemResult(items[index], "rejected", None, str(body))
            elif isinstance(body, StoreError):
                settled[index] = ItemResult(items[index], "failed", None, str(body))
            else:
                bodies[index] = body
        return {i: b for i, b in bodies.items() if i not in settled}

    def _already_recorded(self, tickets: dict[int, Any]) -> set[str]:
        if not tickets:
            return set()
        try:
            return self.records.existing([t.ticket_id for t in tickets.values()])
        except StoreError as exc:  # only an optimisation: the conditional put still guards
            log.warning("dedupe lookup failed; relying on the conditional put", extra={"fields": {"error": str(exc)}})
            return set()

    def _enrich(self, tickets: list[Any], result: BatchResult, rejections: dict[int, TicketRejected],
                first: dict[str, int]) -> dict[str, tuple[dict[str, Any], float] | Exception]:
        """ticket id -> (Enrichment.to_dict(), ms spent on it) or the exception that stopped it."""
        if not tickets:
            return {}
        started = self.clock()
        try:
            result.enrich_calls += 1
            outputs = self._enrich_call(tickets)
            share = (self.clock() - started) * 1000 / len(tickets)
            return {t.ticket_id: (out, share) for t, out in zip(tickets, outputs, strict=True)}
        except Exception as exc:  # noqa: BLE001 - isolate the ticket that caused it
            if len(tickets) == 1:
                return self._single_failure(tickets[0], exc, rejections, first)
            log.warning("batch enrich failed; retrying ticket by ticket",
                        extra={"fields": {"tickets": len(tickets), "error": f"{type(exc).__name__}: {exc}"}})
        out: dict[str, tuple[dict[str, Any], float] | Exception] = {}
        for ticket in tickets:
            started = self.clock()
            try:
                result.enrich_calls += 1
                out[ticket.ticket_id] = (self._enrich_call([ticket])[0], (self.clock() - started) * 1000)
            except Exception as exc:  # noqa: BLE001
                out.update(self._single_failure(ticket, exc, rejections, first))
        return out

    def _enrich_call(self, tickets: list[Any]) -> list[dict[str, Any]]:
        outputs = [e.to_dict() for e in self.enricher.enrich(tickets)]
        got = [o.get("ticket_id") for o in outputs]
        if got != [t.ticket_id for t in tickets]:
            raise RuntimeError(f"the runtime returned enrichments for {got}, not for the tickets it was given")
        return outputs

    @staticmethod
    def _single_failure(ticket: Any, exc: Exception, rejections: dict[int, TicketRejected],
                        first: dict[str, int]) -> dict[str, Exception]:
        if isinstance(exc, TicketRejected):  # the runtime refused it: a rejection, not a retry
            rejections[first[ticket.ticket_id]] = exc
        return {ticket.ticket_id: exc}

    def _write(self, items: list[WorkItem], tickets: dict[int, Any], first: dict[str, int],
               enriched: dict[str, Any], rejections: dict[int, TicketRejected], counts: dict[str, int],
               settled: dict[int, ItemResult]) -> None:
        jobs: list[tuple[int, Callable[[], ItemResult]]] = []
        for index, exc in rejections.items():
            jobs.append((index, lambda i=index, e=exc: self._write_rejection(items[i], e)))
        for index, vanished in list(settled.items()):  # the object an event named is gone
            if vanished.outcome == "rejected":
                jobs.append((index, lambda i=index, r=vanished.detail: self._write_rejection(
                    items[i], TicketRejected("object", r))))
        for ticket_id, outcome in enriched.items():
            index = first[ticket_id]
            if isinstance(outcome, TicketRejected):
                continue
            if isinstance(outcome, Exception):
                settled[index] = ItemResult(items[index], "failed", ticket_id, f"enrich failed: {type(outcome).__name__}: {outcome}")
                continue
            output, ms = outcome
            jobs.append((index, lambda i=index, o=output, m=ms: self._write_enriched(
                items[i], tickets[i], o, m, counts.get(items[i].message_id, 1))))
        for index, item_result in zip([i for i, _ in jobs], self.pool.map(lambda job: job[1](), jobs), strict=True):
            settled[index] = item_result

    def _write_enriched(self, item: WorkItem, ticket: Any, output: dict[str, Any], ms: float,
                        count: int) -> ItemResult:
        variant = getattr(self.enricher, "variant", None)
        bucket = self.destinations.enriched_bucket
        try:
            uri = self.objects.put_json(bucket, enriched_object_key(ticket.ticket_id),
                                        enriched_document(ticket, output, source=item.source, variant=variant))
            record = EnrichedRecord.from_enrichment(output, source=item.source, enriched_object=uri,
                                                    variant=variant, enrich_ms=ms, receive_count=count)
            written = self.records.put_new(record.to_item())
        except StoreError as exc:
            return ItemResult(item, "failed", ticket.ticket_id, str(exc))
        row = record.model_dump(mode="json")
        return ItemResult(item, "enriched" if written else "duplicate", ticket.ticket_id,
                          "" if written else "already recorded", row if written else None)

    def _write_rejection(self, item: WorkItem, exc: TicketRejected) -> ItemResult:
        try:
            payload = None
            if not item.from_s3 and item.body is not None:  # keep a direct ticket's bytes: never dropped
                payload = self.objects.put_bytes(self.destinations.enriched_bucket, rejected_payload_key(item.message_id),
                                                 item.body.encode("utf-8", "surrogatepass"), "text/plain; charset=utf-8")
            record = RejectionRecord.build(source=item.source, field=exc.field, reason=exc.reason,
                                           claimed_ticket_id=exc.ticket_id, payload_object=payload)
            written = self.records.put_new(record.to_item())
        except StoreError as err:
            return ItemResult(item, "failed", exc.ticket_id, str(err))
        log.info("ticket rejected", extra={"fields": {  # capped: a reason may quote a field's value
            "source": item.source, "field": exc.field[:64], "reason": exc.reason[:200],
            "ticket_id": (exc.ticket_id or "")[:128] or None, "duplicate": not written}})
        if not written:
            return ItemResult(item, "duplicate", exc.ticket_id, "rejection already recorded")
        return ItemResult(item, "rejected", exc.ticket_id, f"{exc.field}: {exc.reason}", record.model_dump(mode="json"))
