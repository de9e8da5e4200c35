"""The run report `ticket-enrich worker --report` prints when it stops: a table of the tickets
it enriched, the ones it rejected and why, where the results are, the throughput, and how
the batch time split between AWS I/O and inference."""

from __future__ import annotations

from typing import Any, TextIO

from worker.loop import RunStats

MAX_ROWS = 200


def _cut(value: Any, width: int) -> str:
    text = " ".join(str(value if value is not None else "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(headers: list[str], rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


UNCERTAIN_KINDS = ("intent", "urgency", "sentiment")


def _label(row: dict[str, Any], kind: str, confidence: str) -> str:
    """A label with its confidence, marked "?" when the record flags it uncertain."""
    mark = "?" if row.get(f"{kind}_uncertain") else ""
    return f"{row[kind]}{mark} {row[confidence]:.2f}"


def print_report(stats: RunStats, *, enriched_bucket: str, table: str, endpoint: str | None,
                 profile: str | None, variant: str | None, out: TextIO) -> None:
    rows = sorted(stats.rows, key=lambda r: r["ticket_id"])
    print("", file=out)
    if rows:
        _table(
            ["ticket", "intent", "urgency", "sentiment", "summary", "ms"],
            [[_cut(r["ticket_id"], 24), _label(r, "intent", "intent_confidence"),
              _label(r, "urgency", "urgency_confidence"), _label(r, "sentiment", "sentiment_score"),
              _cut(r["summary"], 60), f"{r['enrich_ms']:.0f}"]
             for r in rows[:MAX_ROWS]],
            out,
        )
        if len(rows) > MAX_ROWS:
            print(f"… and {len(rows) - MAX_ROWS} more", file=out)
        uncertain = {kind: sum(bool(r.get(f"{kind}_uncertain")) for r in rows) for kind in UNCERTAIN_KINDS}
        if any(uncertain.values()):
            print("? = uncertain (confidence below its threshold, docs/LABELS.md): "
                  + ", ".join(f"{count} {kind}" for kind, count in uncertain.items()), file=out)
        print("ms: the ticket's share of its batch's inference (the enrich call's time divided by the tickets in "
              "it: a batch is enriched in one call, so one ticket's own time is not measured)", file=out)
    if stats.rejections:
        print("\nRejected (a rejection record each; never retried):", file=out)
        _table(["source", "field", "reason"],
               [[_cut(r["source"], 48), _cut(r["field"], 16), _cut(r["reason"], 70)] for r in stats.rejections[:MAX_ROWS]],
               out)
    outcomes = stats.outcomes
    if outcomes.get("duplicate") and not rows:
        print(f"All {outcomes['duplicate']} tickets were already recorded by an earlier run "
              "(`ticket-enrich aws reset` empties the table and buckets).", file=out)
    print("", file=out)
    print(f"Tickets: {outcomes.get('enriched', 0)} enriched, {outcomes.get('rejected', 0)} rejected, "
          f"{outcomes.get('duplicate', 0)} duplicates skipped, {outcomes.get('failed', 0)} failures left for "
          f"redelivery; {stats.batches} batches, {stats.enrich_calls} enrich calls "
          f"(profile {profile or '?'}, variant {variant or '?'})", file=out)
    where = f" at {endpoint}" if endpoint else ""
    print(f"Results{where}: enriched JSON in s3://{enriched_bucket}/<ticket_id>.json; records in DynamoDB "
          f"table {table!r} (status enriched | rejected; rejections keyed rejected:<source>)", file=out)
    if stats.batches:
        split = stats.split()
        busy = sum(split.values()) or 1.0
        span = (stats.last_batch_done_at or 0) - (stats.first_message_at or 0)
        print(f"Throughput: {stats.tickets_per_minute():.1f} tickets/min "
              f"({stats.settled} tickets in {span:.1f} s, first message to last batch)", file=out)
        names = {"aws_io": "AWS I/O", "inference": "inference", "other": "other"}
        print("Batch time: " + ", ".join(
            f"{names[name]} {seconds:.2f} s ({100 * seconds / busy:.0f}%)" for name, seconds in split.items()
        ) + "  (AWS I/O: receive, S3 get, dedupe lookup, S3 + DynamoDB writes, delete)", file=out)
    else:
        print("No messages were received: is the queue seeded (`make seed`)?", file=out)
