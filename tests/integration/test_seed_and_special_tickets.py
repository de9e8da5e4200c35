"""Through the worker (moto server over HTTP): the seed pipeline's own example tickets, with
`created_at` as epoch seconds, and tickets holding every special token of the three tokenizers on
the Hub-layout artifacts (where `<mask>` is one past DistilBART's rows), each an enriched record,
never a failure or a dead letter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from worker_harness import run_worker, upload

from tests.special_tokens import special_tickets
from tools.rig import records
from worker.resources import queue_depth

SEED = Path(__file__).resolve().parents[2] / "samples" / "seed"


@pytest.fixture(scope="module")
def hub_enricher(hub_artifacts_dir):
    from runtime import Enricher, RuntimeConfig

    return Enricher.from_artifacts(hub_artifacts_dir, RuntimeConfig(profile="full", summary_min_words=0))


def test_seed_tickets_are_enriched_with_created_at_normalized(clients, stack, enricher):
    for path in sorted(SEED.glob("*.json")):
        upload(clients, stack, f"seed/{path.name}", path.read_bytes())
    stats, _ = run_worker(stack, enricher, clients)

    assert stats.outcomes == {"enriched": 2, "duplicate": 0, "rejected": 0, "failed": 0}
    found = records(clients, stack)
    for ticket_id in ("TEST-001", "TICKET-123"):
        assert found[ticket_id]["status"]["S"] == "enriched"
        document = json.loads(clients.s3.get_object(Bucket=stack.enriched_bucket, Key=f"{ticket_id}.json")["Body"].read())
        assert document["ticket"]["created_at"] == "2009-02-13T23:31:30Z"
    assert found["TEST-001"]["intent"]["S"] == "login_issue"


def test_special_token_tickets_are_enriched_records(clients, stack, hub_enricher):
    tickets = special_tickets()
    for ticket in tickets:
        upload(clients, stack, f"special/{ticket['ticket_id']}.json", json.dumps(ticket).encode())
    stats, _ = run_worker(stack, hub_enricher, clients)

    assert stats.outcomes == {"enriched": len(tickets), "duplicate": 0, "rejected": 0, "failed": 0}
    found = records(clients, stack)
    for ticket in tickets:
        record = found[ticket["ticket_id"]]
        assert record["status"]["S"] == "enriched" and record["summary_kind"]["S"] == "abstractive"
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == 0
