"""The held-out evaluation sets (tests/data/heldout/, labelled by docs/LABELLING.md) stay usable:
every line passes the real input schema, ids are unique across the three files, every label is
one the product knows, and each file keeps the coverage its README promises. Nothing here runs
a model; the accuracy floors on these sets belong to the tests that score the classifiers.

Never tune on these files: see tests/data/heldout/README.md.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ticket_schema import PRIORITY_ALIASES, validate_ticket

HELDOUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "heldout"
FILES = ("helpdesk.jsonl", "banking.jsonl", "no_label.jsonl")

INTENTS = {"login_issue", "account_management", "billing", "refund_request", "order_shipping",
           "cancellation", "bug_report", "feature_request", "general_inquiry"}
LABEL_VALUES: dict[str, set[str]] = {
    "intent": INTENTS,
    "urgency": {"low", "medium", "high", "critical"},
    "sentiment": {"NEGATIVE", "NEUTRAL", "POSITIVE"},
    "kind": {"content_free", "off_topic", "non_english"},
}
REQUIRED = {"helpdesk.jsonl": {"intent", "urgency", "sentiment"}, "banking.jsonl": {"intent"},
            "no_label.jsonl": {"kind"}}


def lines(name: str) -> list[str]:
    return [line for line in (HELDOUT / name).read_text("utf-8").splitlines() if line.strip()]


def rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(name)]


@pytest.mark.parametrize("name", FILES)
def test_every_line_passes_the_input_schema_with_known_labels(name: str) -> None:
    for line in lines(name):
        raw = json.loads(line)
        ticket = validate_ticket(line.encode("utf-8"))  # as the worker reads it
        assert ticket.text.strip(), raw["ticket_id"]
        labels = raw["labels"]
        assert REQUIRED[name] <= labels.keys(), raw["ticket_id"]
        for key, value in labels.items():
            assert value in LABEL_VALUES[key], (raw["ticket_id"], key, value)


def test_ticket_ids_are_unique_across_the_sets() -> None:
    ids = [row["ticket_id"] for name in FILES for row in rows(name)]
    assert len(ids) == len(set(ids))


def test_helpdesk_covers_every_label_in_the_promised_proportions() -> None:
    tickets = rows("helpdesk.jsonl")
    assert len(tickets) >= 240
    intents = Counter(t["labels"]["intent"] for t in tickets)
    assert set(intents) == INTENTS and min(intents.values()) >= 20
    share = {key: Counter(t["labels"][key] for t in tickets) for key in ("urgency", "sentiment")}
    bounds = {("urgency", "low"): (0.15, 0.28), ("urgency", "medium"): (0.30, 0.45),
              ("urgency", "high"): (0.20, 0.33), ("urgency", "critical"): (0.08, 0.17),
              ("sentiment", "NEGATIVE"): (0.33, 0.47), ("sentiment", "NEUTRAL"): (0.33, 0.47),
              ("sentiment", "POSITIVE"): (0.14, 0.26)}
    for (key, value), (low, high) in bounds.items():
        assert low <= share[key][value] / len(tickets) <= high, (key, value, share[key][value])


def test_helpdesk_stated_priority_is_a_hint_that_often_disagrees() -> None:
    tickets = rows("helpdesk.jsonl")
    stated = [t for t in tickets if t.get("priority")]
    assert 0.5 <= len(stated) / len(tickets) <= 0.7
    differs = [t for t in stated if PRIORITY_ALIASES[t["priority"].lower()] != t["labels"]["urgency"]]
    assert 0.35 <= len(differs) / len(stated) <= 0.55


def test_banking_and_no_label_sets_cover_every_class() -> None:
    banking = rows("banking.jsonl")
    assert len(banking) >= 120
    assert min(Counter(t["labels"]["intent"] for t in banking).values()) >= 10
    assert set(Counter(t["labels"]["intent"] for t in banking)) == INTENTS
    kinds = Counter(t["labels"]["kind"] for t in rows("no_label.jsonl"))
    assert sum(kinds.values()) >= 30 and set(kinds) == LABEL_VALUES["kind"] and min(kinds.values()) >= 8
