import json

from worker.messages import parse_message


def _message(body, message_id="m-1"):
    return {"MessageId": message_id, "ReceiptHandle": "r", "Body": body if isinstance(body, str) else json.dumps(body)}


def _s3_event(key, event="ObjectCreated:Put", bucket="tickets-raw"):
    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": event,
                         "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 10}}}]}


def test_s3_event_keys_are_url_decoded():
    parsed = parse_message(_message(_s3_event("incoming/T+1%2Bx%C3%A9.json")))
    [item] = parsed.items
    assert (item.bucket, item.key) == ("tickets-raw", "incoming/T 1+xé.json")
    assert item.source == "s3://tickets-raw/incoming/T 1+xé.json"
    assert item.from_s3 and parsed.skipped is None


def test_test_event_is_skipped():
    parsed = parse_message(_message({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "tickets-raw"}))
    assert parsed.items == () and parsed.skipped == "s3:TestEvent"


def test_events_other_than_created_are_skipped():
    parsed = parse_message(_message(_s3_event("a.json", event="ObjectRemoved:Delete")))
    assert parsed.items == () and "ObjectRemoved:Delete" in parsed.skipped


def test_sns_envelope_is_unwrapped():
    envelope = {"Type": "Notification", "Message": json.dumps(_s3_event("a.json"))}
    [item] = parse_message(_message(envelope)).items
    assert item.key == "a.json"


def test_direct_ticket_and_garbage_become_direct_items():
    ticket = {"ticket_id": "T-1", "body": "hello"}
    [item] = parse_message(_message(ticket, "m-9")).items
    assert not item.from_s3 and json.loads(item.body) == ticket and item.source == "sqs:m-9"
    [garbage] = parse_message(_message("{not json", "m-10")).items
    assert garbage.body == "{not json" and garbage.source == "sqs:m-10"
    # Looks like an S3 event but is not one: validation will reject it, with a record.
    [odd] = parse_message(_message({"Records": "nope"})).items
    assert not odd.from_s3
