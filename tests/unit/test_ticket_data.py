"""The ticket data the project ships stays honest: the samples `make seed` uploads, the labelled
evaluation set and the benchmark inputs all pass the real input schema (the malformed samples
fail it, each for the reason its name says), and the label and length counts hold.

Run as a script to print the counts: `.venv/bin/python tests/unit/test_ticket_data.py`.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path

import pytest

from runtime.errors import TicketRejected
from ticket_schema import validate_ticket

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "tickets"
LABELLED = REPO / "tests" / "data" / "labelled_tickets.jsonl"
BENCH = REPO / "benchmarks" / "tickets.jsonl"

INTENTS = {"login_issue", "account_management", "billing", "refund_request", "order_shipping",
           "cancellation", "bug_report", "feature_request", "general_inquiry"}
URGENCIES = {"low", "medium", "high", "critical"}
SENTIMENTS = {"NEGATIVE", "NEUTRAL", "POSITIVE"}
# malformed sample -> the field its TicketRejected must name
MALFORMED = {
    "malformed-invalid-json.json": "ticket",
    "malformed-missing-text.json": "body",
    "malformed-body-wrong-type.json": "body",
    "malformed-ticket-id-slash.json": "ticket_id",
    "malformed-nul-in-body.json": "body",
}


def words(ticket: dict) -> int:
    return len(f"{ticket.get('subject') or ''} {ticket.get('body') or ''}".split())


def sample_tickets() -> list[dict]:
    return [json.loads(p.read_text("utf-8")) for p in sorted(SAMPLES.glob("*.json"))
            if not p.name.startswith("malformed-")]


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_samples_pass_the_schema_and_are_named_by_id():
    paths = [p for p in sorted(SAMPLES.glob("*.json")) if not p.name.startswith("malformed-")]
    assert len(paths) >= 60
    for path in paths:
        ticket = validate_ticket(path.read_bytes())  # bytes, as the worker reads them from S3
        assert path.name == f"{ticket.ticket_id}.json"


@pytest.mark.parametrize("name, field", sorted(MALFORMED.items()))
def test_malformed_samples_are_rejected_for_their_reason(name, field):
    with pytest.raises(TicketRejected) as info:
        validate_ticket((SAMPLES / name).read_bytes())
    assert info.value.field == field


def test_malformed_samples_are_only_the_deliberate_ones():
    assert sorted(p.name for p in SAMPLES.glob("malformed-*")) == sorted(MALFORMED)


def test_samples_mix_sources_and_lengths():
    tickets = sample_tickets()
    sources = Counter(t["metadata"]["source"] for t in tickets)
    assert {"email", "chat", "web"} <= set(sources)
    assert any(t["metadata"]["source"] == "chat" and t["subject"] == "" for t in tickets)
    lengths = [words(t) for t in tickets]
    long_ones = [n for n in lengths if 300 <= n <= 600]
    assert 4 <= len(long_ones) <= 5
    assert all(20 <= n <= 250 or 300 <= n <= 600 for n in lengths), sorted(lengths)


def test_labelled_set_is_valid_and_balanced():
    rows = jsonl(LABELLED)
    assert len(rows) >= 200
    assert len({r["ticket_id"] for r in rows}) == len(rows)
    for row in rows:
        validate_ticket(row)
        labels = row["labels"]
        assert labels["intent"] in INTENTS and labels["urgency"] in URGENCIES
        assert labels["sentiment"] in SENTIMENTS
    intents = Counter(r["labels"]["intent"] for r in rows)
    urgencies = Counter(r["labels"]["urgency"] for r in rows)
    sentiments = Counter(r["labels"]["sentiment"] for r in rows)
    assert set(intents) == INTENTS and min(intents.values()) >= 20, intents
    assert set(urgencies) == URGENCIES and min(urgencies.values()) >= 30, urgencies
    assert set(sentiments) == SENTIMENTS and min(sentiments.values()) >= 40, sentiments


def test_benchmark_tickets_are_valid_and_spread_over_20_to_250_words():
    rows = jsonl(BENCH)
    assert len(rows) == 64
    assert len({r["ticket_id"] for r in rows}) == 64
    for row in rows:
        validate_ticket(row)
    lengths = [words(r) for r in rows]
    assert min(lengths) >= 20 and max(lengths) <= 250
    # eight equal-width bands over 20-250 words, each holding about an eighth of the tickets
    bands = Counter(min(int((n - 20) / (230 / 8)), 7) for n in lengths)
    assert all(6 <= bands[b] <= 10 for b in range(8)), sorted(bands.items())


def test_no_ticket_text_is_shared_between_sets():
    sets = {"samples": sample_tickets(), "labelled": jsonl(LABELLED), "benchmarks": jsonl(BENCH)}
    bodies = {name: [t["body"] for t in tickets] for name, tickets in sets.items()}
    for name, texts in bodies.items():
        assert len(set(texts)) == len(texts), f"duplicate body inside {name}"
    names = list(bodies)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not set(bodies[a]) & set(bodies[b]), f"{a} and {b} share ticket text"


def main() -> None:
    for name, tickets in (("samples", sample_tickets()), ("labelled", jsonl(LABELLED)), ("benchmarks", jsonl(BENCH))):
        lengths = [words(t) for t in tickets]
        print(f"{name}: {len(tickets)} tickets; words min {min(lengths)} median {statistics.median(lengths)} "
              f"mean {statistics.mean(lengths):.0f} max {max(lengths)}")
        print("  sources:", dict(Counter(t["metadata"]["source"] for t in tickets)))
        if "labels" in tickets[0]:
            for key in ("intent", "urgency", "sentiment"):
                print(f"  {key}:", dict(sorted(Counter(t["labels"][key] for t in tickets).items())))
    print("malformed samples:", len(list(SAMPLES.glob("malformed-*"))))


if __name__ == "__main__":
    main()
