import json

import pytest

from runtime.errors import TicketRejected
from runtime.ticket import MAX_TEXT_CHARS, Ticket
from ticket_schema import MAX_TICKET_BYTES, validate_ticket

GOOD = {
    "ticket_id": "TKT-1001",
    "subject": "Cannot log in",
    "body": "Since this morning the portal rejects my password.",
    "priority": "Urgent",
    "created_at": "2026-11-27T09:15:00Z",
    "customer_id": "CUST-42",
    "metadata": {"source": "email", "language": "en", "tags": ["login"]},
}


def test_a_good_ticket_becomes_a_runtime_ticket():
    ticket = validate_ticket(json.dumps(GOOD).encode())
    assert isinstance(ticket, Ticket)
    assert ticket.priority == "critical"  # "urgent" is the customer's word for it
    assert ticket.text.startswith("Cannot log in. Since this morning")
    assert ticket.metadata["tags"] == ["login"]


def test_chat_ticket_without_subject_is_fine():
    ticket = validate_ticket({"ticket_id": "chat-1", "subject": None, "body": "hi, my order never arrived"})
    assert ticket.text == "hi, my order never arrived"


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        (b"{not json", "ticket", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "ticket", "not valid UTF-8"),
        (b"[1, 2]", "ticket", "must be a JSON object"),
        ({"subject": "x", "body": "y"}, "ticket_id", "Field required"),
        ({"ticket_id": "../etc/passwd", "body": "y"}, "ticket_id", "pattern"),
        ({"ticket_id": "a/b", "body": "y"}, "ticket_id", "pattern"),
        ({"ticket_id": "T-1", "body": 42}, "body", "valid string"),
        ({"ticket_id": "T-1", "body": "a\x00b"}, "body", "NUL"),
        ({"ticket_id": "T-1", "body": "   ", "subject": ""}, "body", "no text"),
        ({"ticket_id": "T-1", "body": "x", "priority": "whenever"}, "priority", "unknown priority"),
        ({"ticket_id": "T-1", "body": "x", "metadata": {"blob": "z" * 20_000}}, "metadata", "larger than"),
        ({"ticket_id": "T-1", "body": "x", "metadata": {"tags": ["t"] * 100}}, "metadata.tags", "at most 50"),
    ],
)
def test_bad_tickets_name_the_field_and_the_reason(raw, field, reason):
    with pytest.raises(TicketRejected) as caught:
        validate_ticket(raw)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_rejection_keeps_the_ticket_id_when_there_is_one():
    with pytest.raises(TicketRejected) as caught:
        validate_ticket({"ticket_id": "T-9", "body": 3})
    assert caught.value.ticket_id == "T-9"
    assert "T-9" in str(caught.value)


def test_oversized_document_is_rejected_before_parsing():
    raw = json.dumps({"ticket_id": "T-1", "body": "x" * (MAX_TICKET_BYTES + 10)}).encode()
    with pytest.raises(TicketRejected, match="limit"):
        validate_ticket(raw)


def test_runtime_caps_text_before_tokenizing():
    ticket = Ticket(ticket_id="T-1", body="word " * 50_000)
    assert len(ticket.text) == MAX_TEXT_CHARS


def test_mapping_without_text_is_rejected_by_the_runtime_too():
    with pytest.raises(TicketRejected, match="no text"):
        Ticket.from_mapping({"ticket_id": "T-1", "body": ""})


@pytest.mark.parametrize(("raw", "field", "reason"), [
    ({"ticket_id": "T-1", "body": "x", "priority": "asap"}, "priority",
     "unknown priority 'asap'; use one of low, medium, high, critical"),
    ({"ticket_id": "T-1", "body": "x", "created_at": "yesterday"}, "created_at",
     "'yesterday' is not an ISO 8601 timestamp (e.g. 2009-02-13T23:31:30Z) nor epoch seconds"),
    ({"ticket_id": "T-1", "body": "x", "metadata": [[[[[[[[[["deep"]]]]]]]]]]}, "metadata",
     "is nested more than 8 levels deep"),
])
def test_reasons_read_as_written_without_pydantics_prefix(raw, field, reason):
    with pytest.raises(TicketRejected) as caught:
        validate_ticket(raw)
    assert (caught.value.field, caught.value.reason) == (field, reason)


def test_a_raw_control_character_is_named_once_with_its_place():
    raw = b'{\n "ticket_id": "TKT-7",\n "subject": "Hi",\n "body": "two\nlines"\n}'
    with pytest.raises(TicketRejected) as caught:
        validate_ticket(raw)
    reason = caught.value.reason
    assert reason.startswith("is not valid JSON (a raw control character, U+000A, inside a string at line 4 column")
    assert "at at" not in reason and "\\n" in reason
    assert caught.value.ticket_id == "TKT-7"  # read off its first bytes


def test_an_oversize_ticket_keeps_the_id_it_carried():
    raw = json.dumps({"ticket_id": "TKT-42", "body": "x" * (MAX_TICKET_BYTES + 10)}).encode()
    with pytest.raises(TicketRejected) as caught:
        validate_ticket(raw)
    assert caught.value.ticket_id == "TKT-42" and caught.value.field == "ticket"
    assert f"the limit is {MAX_TICKET_BYTES:,}" in caught.value.reason
    # Only a leading, well-formed id counts: one far past the first bytes, or a bad one, is not guessed at.
    late = json.dumps({"body": "x" * (MAX_TICKET_BYTES + 10), "ticket_id": "TKT-43"}).encode()
    bad = json.dumps({"ticket_id": "../etc", "body": "x" * (MAX_TICKET_BYTES + 10)}).encode()
    for raw in (late, bad):
        with pytest.raises(TicketRejected) as caught:
            validate_ticket(raw)
        assert caught.value.ticket_id is None


def test_settings_errors_read_without_pydantics_prefix():
    from worker.errors import SettingsError
    from worker.settings import Settings

    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"TICKET_ENRICH_VISIBILITY_TIMEOUT": "30", "TICKET_ENRICH_VISIBILITY_EXTEND_EVERY": "40"})
    assert "Value error" not in str(caught.value)
    assert "visibility_extend_every (40.0s) must be shorter than visibility_timeout (30s)" in str(caught.value)
