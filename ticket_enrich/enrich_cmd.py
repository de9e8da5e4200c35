"""`ticket-enrich enrich --artifacts artifacts tickets.jsonl`: one enriched JSON per input line.

A line that is not a valid ticket becomes {"ticket_id", "line", "rejected": {"field", "reason"}}
in its place, and a ticket the engine failed on {"ticket_id", "line", "failed": {"reason"}}, so the
output has exactly one line per input line. A failure inside one ticket costs that ticket alone: a
batch whose enrich call raises is retried ticket by ticket, as the worker does. The models'
provenance is printed once (stderr, or whole with --provenance FILE); each line names it by its
`models_ref`. Exit status: 0 all enriched, 1 some rejected or failed, 2 could not run (EXIT_CODES).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ticket_schema.fields import fields_text

EXIT_ENRICHED, EXIT_NOT_ALL, EXIT_CANNOT_RUN = 0, 1, 2
EXIT_CODES = f"""\
exit status:
  {EXIT_ENRICHED}  every line was enriched
  {EXIT_NOT_ALL}  the run finished, but some lines were rejected (invalid tickets) or failed (the engine
     raised on them); each has its own output line saying why
  {EXIT_CANNOT_RUN}  the run could not start or finish: a usage error, an input that cannot be read, an
     output that cannot be written, or artifacts that cannot be loaded (all checked before the
     models load)"""

# runtime.presets.PRESETS, spelled out: importing runtime here would load onnxruntime for every
# `ticket-enrich` command (a unit test keeps the two equal).
SUMMARY_PRESETS = ("ticket", "news")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = fields_text() + "\n\n" + EXIT_CODES
    parser.add_argument("tickets", help="JSONL file of tickets, or - for stdin")
    parser.add_argument("--artifacts", default="artifacts", help="folder with manifest.json (default: artifacts)")
    parser.add_argument("--out", help="write here instead of stdout (the folder must exist)")
    parser.add_argument("--provenance", metavar="FILE",
                        help="write the models' provenance block (model, variant, artifact sha256 per field) here, "
                             "once; every output line names it by its models_ref")
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


def writable_problem(path: str, option: str) -> str | None:
    """Why `path` cannot be written (a folder, a missing or read-only folder), or None: checked
    before the models load, so a typo costs no wait."""
    target = Path(path)
    if target.is_dir():
        return f"{option} {path} is a folder; give a file name"
    folder = target.parent
    if not folder.is_dir():
        return f"{option} {path}: the folder {folder} does not exist; create it first"
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        return f"{option} {path} is not writable"
    return None


def _provenance_line(enricher: Any) -> str:
    from runtime.result import models_ref, short_provenance

    models = "; ".join(f"{role} {text}" for role, text in short_provenance(enricher.models).items())
    return (f"models {models_ref(enricher.models)}: {models} (every output line carries this models_ref; "
            "--provenance FILE writes the whole block)")


def _rejected_row(ticket_id: str | None, number: int, exc: Any) -> dict[str, Any]:
    print(f"line {number}: rejected: {exc}", file=sys.stderr)
    return {"ticket_id": ticket_id, "line": number, "rejected": {"field": exc.field, "reason": exc.reason}}


def _rows(enricher: Any, chunk: list[tuple[int, bytes]], no_embedding: bool) -> tuple[list[dict[str, Any]], int, int]:
    """One output row per input line of the chunk, and how many were rejected and failed."""
    from runtime import TicketRejected
    from ticket_schema import validate_ticket

    rows: list[dict[str, Any]] = [{} for _ in chunk]
    rejected = failed = 0
    valid = []
    for slot, (number, line) in enumerate(chunk):
        try:
            valid.append((slot, validate_ticket(line)))
        except TicketRejected as exc:
            rejected += 1
            rows[slot] = _rejected_row(exc.ticket_id, number, exc)
    for (slot, ticket), result in zip(valid, enrich_each(enricher, [t for _, t in valid]), strict=True):
        number = chunk[slot][0]
        if isinstance(result, TicketRejected):
            rejected += 1
            rows[slot] = _rejected_row(ticket.ticket_id, number, result)
        elif isinstance(result, Exception):
            failed += 1
            reason = f"{type(result).__name__}: {result}"
            rows[slot] = {"ticket_id": ticket.ticket_id, "line": number, "failed": {"reason": reason}}
            print(f"line {number}: ticket {ticket.ticket_id!r} failed: {reason}", file=sys.stderr)
        else:
            rows[slot] = result.to_dict(models="ref")
            if no_embedding:
                rows[slot]["enrichment"].pop("embedding")
    return rows, rejected, failed


def run(args: argparse.Namespace) -> int:
    import logging

    from runtime import Enricher, RuntimeArtifactError, RuntimeConfig
    from runtime.result import models_ref

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        lines = (sys.stdin.buffer.read() if args.tickets == "-" else Path(args.tickets).read_bytes()).splitlines()
    except OSError as exc:
        print(f"cannot read {args.tickets}: {exc.strerror}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    numbered = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    for path, option in ((args.out, "--out"), (args.provenance, "--provenance")):
        problem = writable_problem(path, option) if path else None
        if problem:
            print(f"cannot write: {problem}", file=sys.stderr)
            return EXIT_CANNOT_RUN
    loading = time.perf_counter()
    try:
        chosen = (("profile", args.profile), ("variant", args.variant), ("summary_preset", args.summary_preset))
        config = RuntimeConfig.from_env(**{k: v for k, v in chosen if v})
        enricher = Enricher.from_artifacts(args.artifacts, config)
    except (RuntimeArtifactError, ValueError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    started = time.perf_counter()
    print(_provenance_line(enricher), file=sys.stderr)
    show_progress = sys.stderr.isatty()
    rejected = failed = done = 0
    try:
        if args.provenance:
            block = {"models_ref": models_ref(enricher.models), "models": enricher.models}
            Path(args.provenance).write_text(json.dumps(block, indent=2) + "\n", encoding="utf-8")
        with open(args.out, "w", encoding="utf-8") if args.out else contextlib.nullcontext(sys.stdout) as out:
            for start in range(0, len(numbered), args.batch_size):
                chunk = numbered[start : start + args.batch_size]
                rows, chunk_rejected, chunk_failed = _rows(enricher, chunk, args.no_embedding)
                rejected, failed, done = rejected + chunk_rejected, failed + chunk_failed, done + len(chunk)
                out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
                if show_progress:
                    _progress(done, len(numbered))
    except OSError as exc:
        print(f"\ncannot write: {exc} (after {done} of {len(numbered)} tickets)", file=sys.stderr)
        return EXIT_CANNOT_RUN
    finally:
        if show_progress:
            sys.stderr.write("\n")
    elapsed = time.perf_counter() - started
    print(f"{done - rejected - failed} enriched, {rejected} rejected, {failed} failed: {done} tickets in "
          f"{elapsed:.1f} s, {done / max(elapsed, 1e-9):.1f} tickets/s (models loaded in {started - loading:.1f} s)",
          file=sys.stderr)
    return EXIT_NOT_ALL if rejected or failed else EXIT_ENRICHED
