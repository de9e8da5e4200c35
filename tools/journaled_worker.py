"""`ticket-enrich worker` that journals what it did to AWS, for the chaos supervisor: one JSON
line per completed call of interest, appended with a single write (a SIGKILL cannot split one).
The hooks are botocore events on the session the worker's clients are built from; the worker
code is unchanged.

    python -m tools.journaled_worker --journal calls.jsonl [--outage-flag FILE] [--die-on TEXT] -- [worker flags]

Lines: {"pid", "t", "op", "key", "ok", "code"} for s3.PutObject (key: the object key) and
dynamodb.PutItem (key: the record's ticket_id); {"pid", "t", "op", "n"} for
sqs.ReceiveMessage (messages received) and sqs.DeleteMessageBatch (entries deleted); and
{"pid", "t", "op": "enrich-start" | "enrich", "n", "keys"} when a runtime enrich call starts and
when it returns (the runtime's Enricher.enrich is wrapped in this process to journal the ticket
ids), so that enrichment runs can be counted against records.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import boto3

from worker import cli

KEYED = {"s3.PutObject": lambda p: p.get("Key"), "dynamodb.PutItem": lambda p: p["Item"]["ticket_id"]["S"]}
COUNTED = {"sqs.ReceiveMessage": "Messages", "sqs.DeleteMessageBatch": "Successful"}


class Journal:
    def __init__(self, path: Path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.pid = os.getpid()

    def write(self, **fields: Any) -> None:
        os.write(self.fd, (json.dumps({"pid": self.pid, "t": round(time.time(), 3), **fields}) + "\n").encode())

    def register(self, events: Any) -> None:
        for operation, key_of in KEYED.items():
            events.register(f"before-parameter-build.{operation}", self._remember(operation, key_of))
            events.register(f"after-call.{operation}", self._keyed(operation))
        for operation, field in COUNTED.items():
            events.register(f"after-call.{operation}", self._counted(operation, field))

    @staticmethod
    def _remember(operation: str, key_of):
        def hook(params: dict[str, Any], context: dict[str, Any], **_kwargs: Any) -> None:
            context["journal_key"] = key_of(params)
        return hook

    def _keyed(self, operation: str):
        def hook(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_kwargs: Any) -> None:
            ok = http_response is not None and http_response.status_code < 300
            self.write(op=operation, key=context.get("journal_key"), ok=ok,
                       code=None if ok else parsed.get("Error", {}).get("Code"))
        return hook

    def _counted(self, operation: str, field: str):
        def hook(http_response: Any, parsed: dict[str, Any], **_kwargs: Any) -> None:
            if http_response is not None and http_response.status_code < 300:
                self.write(op=operation, n=len(parsed.get(field, [])))
        return hook


def journal_enrich_calls(journal: Journal) -> None:
    """Wrap the runtime's Enricher.enrich in this process: each completed call is journaled."""
    from runtime.enricher import Enricher

    enrich = Enricher.enrich

    def journaled(self: Enricher, items: Any) -> Any:
        items = list(items)
        journal.write(op="enrich-start", n=len(items), keys=[getattr(t, "ticket_id", None) for t in items])
        results = enrich(self, items)
        journal.write(op="enrich", n=len(results), keys=[r.ticket_id for r in results])
        return results

    Enricher.enrich = journaled


def fail_while(flag: Path, journal: Journal, events: Any, operation: str = "dynamodb.PutItem") -> None:
    """An outage the driver switches on and off: while `flag` exists, every `operation` of this
    worker fails (503 ServiceUnavailable, as after the client's retries), and is journaled."""
    from botocore.exceptions import ClientError

    def hook(**_kwargs: Any) -> None:
        if flag.exists():
            journal.write(op="outage", target=operation)
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected outage"},
                               "ResponseMetadata": {"HTTPStatusCode": 503}}, operation.split(".", 1)[1])

    events.register(f"before-call.{operation}", hook)


def die_on(marker: str, journal: Journal) -> None:
    """A ticket that kills its worker (as an out-of-memory kill would): an enrich call given a
    ticket whose subject contains `marker` SIGKILLs this process, after journaling it."""
    import signal

    from runtime.enricher import Enricher

    enrich = Enricher.enrich

    def deadly(self: Enricher, items: Any) -> Any:
        items = list(items)
        if any(marker in getattr(t, "subject", "") for t in items):
            journal.write(op="killed-by-ticket", n=len(items), keys=[getattr(t, "ticket_id", None) for t in items])
            os.kill(os.getpid(), signal.SIGKILL)
        return enrich(self, items)

    Enricher.enrich = deadly


def read_journal(path: Path) -> list[dict[str, Any]]:
    lines = []
    if path.exists():
        for raw in path.read_text().splitlines():
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journal", required=True, type=Path)
    parser.add_argument("--outage-flag", type=Path, help="DynamoDB writes fail while this file exists")
    parser.add_argument("--die-on", help="SIGKILL this process when asked to enrich a ticket whose subject has this")
    own, rest = parser.parse_known_args()
    session = boto3.Session()
    journal = Journal(own.journal)
    journal.register(session.events)
    if own.outage_flag:
        fail_while(own.outage_flag, journal, session.events)
    journal_enrich_calls(journal)
    if own.die_on:
        die_on(own.die_on, journal)
    worker_parser = argparse.ArgumentParser()
    cli.add_arguments(worker_parser)
    return cli.run(worker_parser.parse_args([a for a in rest if a != "--"]), session=session)


if __name__ == "__main__":
    sys.exit(main())
