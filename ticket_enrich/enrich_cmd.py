"""`ticket-enrich enrich --artifacts artifacts tickets.jsonl`: one enriched JSON per input line.

A line that is not a valid ticket becomes {"ticket_id", "line", "rejected": {"field", "reason"}}
in its place, so the output has exactly one line per input line; the exit status is 1 when any
line was rejected.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tickets", help="JSONL file of tickets, or - for stdin")
    parser.add_argument("--artifacts", default="artifacts", help="folder with manifest.json (default: artifacts)")
    parser.add_argument("--out", help="write here instead of stdout")
    parser.add_argument("--batch-size", type=int, default=16, help="tickets per runtime call (default 16)")
    parser.add_argument("--profile", choices=("full", "offline"), help="default: the artifacts' profile")
    parser.add_argument("--variant", help="force a CPU variant (avx512_vnni, avx512, avx2, arm64, fp32)")
    parser.add_argument("--no-embedding", action="store_true", help="leave the 384 floats out of the output")


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
        config = RuntimeConfig.from_env(**{k: v for k, v in (("profile", args.profile), ("variant", args.variant)) if v})
        enricher = Enricher.from_artifacts(args.artifacts, config)
    except (RuntimeArtifactError, ValueError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2

    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    show_progress = sys.stderr.isatty()
    rejected = done = 0
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
            for (slot, _), result in zip(valid, enricher.enrich([t for _, t in valid]), strict=True):
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
    print(f"{done - rejected} enriched, {rejected} rejected", file=sys.stderr)
    return 1 if rejected else 0
