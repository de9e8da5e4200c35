"""`ticket-enrich aws redrive` and what `status` shows of it, against the emulator over HTTP.

moto has no message move tasks (StartMessageMoveTask answers HTTP 500), so against it the redrive
moves the messages itself (receive, send, delete); the move-task path, which AWS takes, is
checked against a stand-in for the two SQS calls that records what it was asked and answers as
the SQS API reference documents.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from worker_harness import queue_url, run_worker, ticket, upload

from tools.rig import records
from worker import redrive
from worker.resources import queue_depth

TICKET_ENRICH = str(Path(sys.executable).with_name("ticket-enrich"))


def _cli(env: dict[str, str], stack, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **env, "TICKET_ENRICH_QUEUE": stack.queue_name, "TICKET_ENRICH_RAW_BUCKET": stack.raw_bucket,
               "TICKET_ENRICH_ENRICHED_BUCKET": stack.enriched_bucket, "TICKET_ENRICH_TABLE": stack.table}
    return subprocess.run([TICKET_ENRICH, "aws", *args], env=environ, capture_output=True, text=True, timeout=120)


def test_redrive_brings_dead_letters_back_and_the_worker_records_them(clients, make_stack, enricher, aws_env):
    stack = make_stack(visibility_timeout=2)
    for i in range(12):
        upload(clients, stack, f"dl/{i}.json", ticket(f"DL-{i:02d}"))
    # Dead-letter the events the way SQS does after 5 receives: here, moved there directly, with
    # a message attribute to show that the body and attributes travel unchanged.
    main, dlq = queue_url(clients, stack.queue_name), queue_url(clients, stack.dlq_name)
    bodies = []
    while got := clients.sqs.receive_message(QueueUrl=main, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages"):
        for message in got:
            bodies.append(message["Body"])
            clients.sqs.send_message(QueueUrl=dlq, MessageBody=message["Body"], MessageAttributes={
                "origin": {"DataType": "String", "StringValue": "scale-test"}})
            clients.sqs.delete_message(QueueUrl=main, ReceiptHandle=message["ReceiptHandle"])
    assert queue_depth(clients.sqs, stack.dlq_name)["visible"] == len(bodies) == 13  # 12 events and the TestEvent

    status = _cli(aws_env, stack, "status", "--json")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert state["queue"][stack.dlq_name]["visible"] == 13 and state["move_tasks"] is None

    moved = _cli(aws_env, stack, "redrive")
    assert moved.returncode == 0, moved.stderr
    assert "StartMessageMoveTask answered" in moved.stdout and "receive-and-send" in moved.stdout
    assert moved.stdout.strip().splitlines()[-1].startswith(f"moved 13 messages from {stack.dlq_name} to {stack.queue_name}")
    assert queue_depth(clients.sqs, stack.dlq_name) == {"visible": 0, "in_flight": 0, "delayed": 0}
    back = clients.sqs.receive_message(QueueUrl=main, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                       AttributeNames=["ApproximateReceiveCount"], VisibilityTimeout=0)["Messages"]
    assert {m["Body"] for m in back} <= set(bodies)
    assert all(m["MessageAttributes"]["origin"]["StringValue"] == "scale-test" for m in back)

    stats, _ = run_worker(stack, enricher, clients)
    assert sorted(records(clients, stack)) == [f"DL-{i:02d}" for i in range(12)]
    assert stats.outcomes["enriched"] == 12


def test_redrive_of_an_empty_dead_letter_queue_moves_nothing(clients, stack, aws_env):
    result = _cli(aws_env, stack, "redrive")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("moved 0 messages")


class MoveTasks:
    """SQS's StartMessageMoveTask and ListMessageMoveTasks as the API reference describes them:
    records each request; the task runs for `polls` list calls, then completes."""

    def __init__(self, polls: int = 2, moved: int = 7):
        self.requests: list[tuple[str, dict]] = []
        self.polls, self.moved = polls, moved

    def start_message_move_task(self, **request):
        self.requests.append(("start", request))
        return {"TaskHandle": "handle-1"}

    def list_message_move_tasks(self, **request):
        self.requests.append(("list", request))
        self.polls -= 1
        status = "RUNNING" if self.polls > 0 else "COMPLETED"
        return {"Results": [{"TaskHandle": "handle-1", "Status": status, "SourceArn": request["SourceArn"],
                             "ApproximateNumberOfMessagesMoved": self.moved if status == "COMPLETED" else 3,
                             "ApproximateNumberOfMessagesToMove": self.moved}]}


def test_where_the_endpoint_has_move_tasks_sqs_moves_the_messages(clients, stack, monkeypatch):
    monkeypatch.setattr(redrive.time, "sleep", lambda _s: None)
    probe = MoveTasks()
    result = redrive.redrive(clients, probe, stack, rate=50)
    arns = {name: clients.sqs.get_queue_attributes(QueueUrl=queue_url(clients, name), AttributeNames=["QueueArn"])
            ["Attributes"]["QueueArn"] for name in (stack.queue_name, stack.dlq_name)}
    assert probe.requests[0] == ("start", {"SourceArn": arns[stack.dlq_name], "DestinationArn": arns[stack.queue_name],
                                           "MaxNumberOfMessagesPerSecond": 50})
    assert all(kind == "list" and req["SourceArn"] == arns[stack.dlq_name] for kind, req in probe.requests[1:])
    assert (result.method, result.status, result.moved) == ("move-task", "COMPLETED", 7)
    assert "moved 7 messages" in result.describe(stack.dlq_name, stack.queue_name)


def test_only_unsupported_falls_back_other_errors_are_reported(clients, stack):
    class Refusing(MoveTasks):
        def __init__(self, code: str, status: int):
            super().__init__()
            self.code, self.status = code, status

        def start_message_move_task(self, **request):
            raise ClientError({"Error": {"Code": self.code, "Message": "no"},
                               "ResponseMetadata": {"HTTPStatusCode": self.status}}, "StartMessageMoveTask")

    result = redrive.redrive(clients, Refusing("UnsupportedOperation", 400), stack)
    assert result.method == "receive-and-send"
    with pytest.raises(ClientError, match="AccessDenied"):
        redrive.redrive(clients, Refusing("AccessDenied", 403), stack)


def test_status_shows_a_running_move_task(clients, stack):
    tasks = redrive.running_move_tasks(clients, MoveTasks(polls=5), stack)
    assert [t["Status"] for t in tasks] == ["RUNNING"]
    assert redrive.running_move_tasks(clients, MoveTasks(polls=1), stack) == []
