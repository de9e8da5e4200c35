"""The fixed input tickets and the subsets the slower measurements use."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.settings import TICKETS


def load_tickets(path: Path = TICKETS) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def ticket_texts(tickets: list[dict]) -> list[str]:
    """What every engine reads: the runtime's own subject + body joining, so all see the same text."""
    from runtime.ticket import as_ticket

    return [as_ticket(t).text for t in tickets]


def spread(items: list, key, count: int) -> list:
    """`count` items spread evenly over the range of `key` (shortest to longest), in input order."""
    if count >= len(items):
        return list(items)
    ranked = sorted(range(len(items)), key=lambda i: key(items[i]))
    picks = sorted({ranked[round(k * (len(items) - 1) / max(count - 1, 1))] for k in range(count)})
    return [items[i] for i in picks]


def batches(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def word_count(text: str) -> int:
    return len(text.split())
