from decimal import Decimal

import numpy as np

from runtime.classify import Sentiment
from runtime.result import Enrichment, Intent
from runtime.ticket import Ticket
from runtime.urgency import Urgency
from worker.records import EnrichedRecord, RejectionRecord, enriched_document, rejection_key
from worker.sqs import retry_delay

ENRICHMENT = Enrichment(
    ticket_id="T-1", embedding=np.full(384, 0.1, dtype=np.float32), sentiment=Sentiment("NEGATIVE", 0.91),
    intent=Intent("billing", 0.770049), urgency=Urgency("high", ("refund",)), summary="Charged twice.",
    summary_kind="original", profile="offline", models={"embedding": {"model": "all-MiniLM-L6-v2", "stand_in": None}},
    timings_ms={"total": 3.2})


def test_enriched_record_is_typed_for_dynamodb():
    record = EnrichedRecord.from_enrichment(ENRICHMENT, source="s3://raw/a.json", enriched_object="s3://e/T-1.json",
                                            variant="avx2", enrich_ms=3.21, receive_count=2)
    item = record.to_item()
    assert item["ticket_id"] == {"S": "T-1"} and item["status"] == {"S": "enriched"}
    assert item["intent_confidence"] == {"N": str(Decimal("0.77"))}
    assert item["urgency_signals"] == {"L": [{"S": "refund"}]}
    assert item["models_ref"] == {"S": ENRICHMENT.models_ref} and len(ENRICHMENT.models_ref) == 12
    assert "models" not in item  # the provenance block lives in the S3 document, named by models_ref
    assert "embedding" not in item  # the vector lives in the S3 document
    # The record and the document agree on every label and score.
    body = enriched_document(Ticket("T-1", "Charged twice"), ENRICHMENT, source="s3://raw/a.json",
                             variant="avx2")["enrichment"]
    assert (record.intent, record.intent_confidence) == (body["intent"]["label"], body["intent"]["confidence"])
    assert (record.sentiment, record.sentiment_score) == (body["sentiment"]["label"], body["sentiment"]["score"])
    assert (record.urgency, record.urgency_signals) == (body["urgency"]["level"], body["urgency"]["signals"])
    assert (record.summary, record.summary_kind, record.profile) == (body["summary"], body["summary_kind"], body["profile"])


def test_rejection_is_keyed_by_source_and_capped():
    record = RejectionRecord.build(source="s3://raw/x.json", field="ticket_id", reason="r" * 5000,
                                   claimed_ticket_id="../" * 200)
    assert record.ticket_id == rejection_key("s3://raw/x.json") == "rejected:s3://raw/x.json"
    assert len(record.reason) == 1000 and len(record.claimed_ticket_id) == 256
    assert record.to_item()["status"] == {"S": "rejected"}
    assert "payload_object" not in record.to_item()


def test_enriched_document_carries_ticket_and_enrichment():
    ticket = Ticket(ticket_id="T-1", subject="Refund", body="Charged twice", priority="high")
    document = enriched_document(ticket, ENRICHMENT, source="s3://raw/a.json", variant="avx2")
    assert document["ticket"]["body"] == "Charged twice" and len(document["enrichment"]["embedding"]) == 384
    assert document["enrichment"]["models"] == ENRICHMENT.models  # the whole record of who produced what
    assert document["enrichment"]["models_ref"] == ENRICHMENT.models_ref


def test_retry_delay_backs_off_up_to_the_visibility_timeout():
    assert [retry_delay(n, 120) for n in (1, 2, 3, 4, 5, 6)] == [5, 10, 20, 40, 80, 120]
    assert retry_delay(3, 2) == 2
