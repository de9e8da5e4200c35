"""`ticket-enrich enrich --artifacts artifacts tickets.jsonl`: one enriched JSON per input line.

A line that is not a valid ticket becomes {"ticket_id", "line", "rejected": {"field", "reason"}}
in its place, and a ticket the engine failed on {"ticket_id", "line", "failed": {"reason"}}, so the
output has exactly one line per input line. A failure inside one ticket costs that ticket alone: a
batch whose enrich call raises is retried ticket by ticket, as the worker does. Exit status: 0 when
every line was enriched, 1 when any was rejected or failed, 2 when nothing could start.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# runtime.presets.PRESETS, spelled out: importing runtime here would load onnxruntime for every
# `ticket-enrich` command (a unit test keeps the two equal).
SUMMARY_PRESETS = ("ticket", "news")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tickets", help="JSONL file of tickets, or - for stdin")
    parser.add_argument("--artifacts", default="artifacts", help="folder with manifest.json (default: artifacts)")
    parser.add_argument("--out", help="write here instead of stdout")
    parser.add_argument("--batch-size", type=int, default=16, help="tickets per runtime call (default 16)")
    parser.add_argument("--profile", choices=("full", "offline"), help="default: the artifacts' profile")
    parser.add_argument("--variant", help="force a CPU variant (avx512_vnni, avx512, avx2, arm64, fp32)")
    parser.add_argument("--summary-preset", choices=SUMMARY_PRESETS,
                        help="ticket: one or two sentences sized for the ticket (default); news: the checkpoint's "
                             "own settings. Env TICKET_ENRICH_SUMMARY_PRESET")
    parser.add_argument("--no-embedding", action="store_true", help="leave the 384 floats out of the output")


def enrich_each(enricher: Any, tickets: list[Any]) -> list[Any]:
    """One Enrichment or the exception that stopped it, per ticket: the batch in one call,
    and ticket by ticket when that call raises, so one bad ticket fails alone."""
    try:
        return list(enricher.enrich(tickets)) if tickets else []
    except Exception as exc:  # noqa: BLE001 - isolate the ticket that caused it
        if len(tickets) == 1:
            return [exc]
    outcomes: list[Any] = []
    for ticket in tickets:
        try:
            outcomes.extend(enricher.enrich([ticket]))
        except Exception as exc:  # noqa: BLE001 - reported on the ticket's own line
            outcomes.append(exc)
    return outcomes


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} tickets")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    import logging

    from runtime import Enricher, RuntimeArtifactError, RuntimeConfig, TicketRejected
    from ticket_schema import validate_ticket

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        lines = (sys.stdin.buffer.read() if args.tickets == "-" else Path(args.tickets).read_bytes()).splitlines()
    except OSError as exc:
        print(f"cannot read {args.tickets}: {exc.strerror}", file=sys.stderr)
        return 2
    lines = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    try:
        chosen = (("profile", args.profile), ("variant", args.variant), ("summary_preset", args.summary_preset))
        config = RuntimeConfig.from_env(**{k: v for k, v in chosen if v})
        enricher = Enricher.from_artifacts(args.artifacts, config)
    except (RuntimeArtifactError, ValueError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2

    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    show_progress = sys.stderr.isatty()
    rejected = failed = done = 0
    try:
        for start in range(0, len(lines), args.batch_size):
            chunk = lines[start : start + args.batch_size]
            rows: list[dict | None] = [None] * len(chunk)
            valid = []
            for slot, (number, line) in enumerate(chunk):
                try:
                    valid.append((slot, validate_ticket(line)))
                except TicketRejected as exc:
                    rejected += 1
                    rows[slot] = {"ticket_id": exc.ticket_id, "line": number,
                                  "rejected": {"field": exc.field, "reason": exc.reason}}
                    print(f"line {number}: rejected: {exc}", file=sys.stderr)
            for (slot, ticket), result in zip(valid, enrich_each(enricher, [t for _, t in valid]), strict=True):
                number = chunk[slot][0]
                if isinstance(result, TicketRejected):
                    rejected += 1
                    rows[slot] = {"ticket_id": ticket.ticket_id, "line": number,
                                  "rejected": {"field": result.field, "reason": result.reason}}
                    print(f"line {number}: rejected: {result}", file=sys.stderr)
                elif isinstance(result, Exception):
                    failed += 1
                    reason = f"{type(result).__name__}: {result}"
                    rows[slot] = {"ticket_id": ticket.ticket_id, "line": number, "failed": {"reason": reason}}
                    print(f"line {number}: ticket {ticket.ticket_id!r} failed: {reason}", file=sys.stderr)
                else:
                    rows[slot] = result.to_dict()
                    if args.no_embedding:
                        rows[slot]["enrichment"].pop("embedding")
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            done += len(chunk)
            if show_progress:
                _progress(done, len(lines))
    finally:
        if show_progress:
            sys.stderr.write("\n")
        if out is not sys.stdout:
            out.close()
    print(f"{done - rejected - failed} enriched, {rejected} rejected, {failed} failed", file=sys.stderr)
    return 1 if rejected or failed else 0

