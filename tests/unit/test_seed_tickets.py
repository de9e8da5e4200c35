"""The seed pipeline's ticket format: `created_at` as epoch seconds (int or float) or ISO 8601,
stored as ISO 8601 in UTC; its README's two example tickets enrich through the Python API (the
CLI and the worker: test_enrich_cmd.py, tests/integration/test_seed_and_special_tickets.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime import Enricher, RuntimeConfig, Ticket, TicketRejected
from ticket_schema import validate_ticket

SEED = Path(__file__).resolve().parents[2] / "samples" / "seed"


@pytest.mark.parametrize("given, stored", [
    (1234567890, "2009-02-13T23:31:30Z"),
    (1234567890.25, "2009-02-13T23:31:30.250Z"),
    ("2009-02-13T23:31:30Z", "2009-02-13T23:31:30Z"),
    ("2009-02-13T18:31:30-05:00", "2009-02-13T23:31:30Z"),
    ("2009-02-13 23:31:30", "2009-02-13T23:31:30Z"),  # no offset: UTC
    ("2026-11-27T09:15:00.123+01:00", "2026-11-27T08:15:00.123Z"),
    (None, None),
    ("", None),
])
def test_created_at_is_stored_as_iso_8601_utc(given, stored):
    raw = {"ticket_id": "T-1", "body": "hello", "created_at": given}
    assert validate_ticket(raw).created_at == stored
    assert validate_ticket(json.dumps(raw).encode()).created_at == stored  # as the worker reads it
    assert Ticket.from_mapping(raw).created_at == stored  # the Python API without the schema


@pytest.mark.parametrize("given, reason", [
    (True, "not bool"),
    (1234567890123, "milliseconds? divide by 1000"),
    (-5, "between 0 and"),
    ("yesterday", "not an ISO 8601 timestamp"),
    ({"day": 1}, "valid string"),
    ("2009-02-13T23:31:30Z" * 4, "at most 64"),
])
def test_other_created_at_values_are_rejected_with_the_reason(given, reason):
    raw = {"ticket_id": "T-1", "body": "hello", "created_at": given}
    with pytest.raises(TicketRejected) as caught:
        validate_ticket(raw)
    assert caught.value.field == "created_at" and reason in caught.value.reason
    with pytest.raises(TicketRejected, match=reason.split("?")[0]):
        Ticket.from_mapping(raw)


@pytest.mark.parametrize("profile", ["full", "offline"])
def test_seed_tickets_enrich_through_the_python_api(artifacts_dir, profile):
    raw = [json.loads(p.read_text()) for p in sorted(SEED.glob("*.json"))]
    assert [t["ticket_id"] for t in raw] == ["TEST-001", "TICKET-123"] and raw[0]["created_at"] == 1234567890
    enricher = Enricher.from_artifacts(artifacts_dir, RuntimeConfig(profile=profile))
    results = enricher.enrich(raw)
    assert [r.ticket_id for r in results] == ["TEST-001", "TICKET-123"]
    assert results[0].intent.label == "login_issue"
    assert all(r.summary for r in results)
