"""`ticket-enrich aws setup | seed DIR | status | redrive | reset | fetch-artifacts | show ID`: the AWS
side of the pipeline, against whatever endpoint the standard environment names (unset: real AWS)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # boto3 and pydantic load only when a command runs
    from worker.aws import AwsClients
    from worker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    setup = actions.add_parser("setup", help="create buckets, queue + DLQ, table and the S3 notification (idempotent)")
    setup.add_argument("--visibility-timeout", type=int, help="queue visibility timeout in seconds")
    seed = actions.add_parser("seed", help="upload the *.json files of a folder to the raw bucket")
    seed.add_argument("directory", type=Path)
    seed.add_argument("--prefix", default="", help="key prefix, e.g. incoming/")
    status = actions.add_parser("status", help="queue depths (visible, in flight, DLQ), running DLQ redrives, "
                                               "record and object counts")
    status.add_argument("--json", action="store_true", help="print JSON")
    redrive = actions.add_parser(
        "redrive", help="move the dead-letter queue's messages back to the queue, to be processed again",
        description="Move every message in the dead-letter queue back to the ticket queue, where the "
                    "workers process it again as a new message (received 0 times). Uses SQS's "
                    "StartMessageMoveTask where the endpoint supports it (AWS does) and waits for it to "
                    "finish; otherwise receives each message, sends it to the queue with its body and "
                    "attributes, and deletes it from the dead-letter queue once sent. Look at why the "
                    "messages failed first (the workers' 'ticket failed' log lines): a message that "
                    "fails again returns to the dead-letter queue after 5 more receives.")
    redrive.add_argument("--rate", type=int, help="move task only: messages per second (SQS's default: as fast as it can)")
    redrive.add_argument("--no-wait", dest="wait", action="store_false",
                         help="move task only: start it and return; `ticket-enrich aws status` shows its progress")
    actions.add_parser("reset", help="DELETE every ticket, record and message: empty the queues, buckets and table")
    fetch = actions.add_parser("fetch-artifacts", help="download an artifacts folder from S3 and verify it")
    fetch.add_argument("--from", dest="source", required=True, help="s3://bucket/prefix")
    fetch.add_argument("--to", dest="target", required=True, type=Path, help="local folder")
    show = actions.add_parser("show", help="one ticket's stored record and enriched document, readable")
    show.add_argument("ticket_id", metavar="TICKET_ID",
                      help="a ticket id, a rejection's key (rejected:<source>) or an uploaded file's name")
    show.add_argument("--json", action="store_true", help="print the record and document as stored (384 floats included)")
    _describe_actions(actions)


# What each action does, for `ticket-enrich aws ACTION --help`. Every action has an entry
# (tests/unit/test_cli_help.py checks): add one beside a new action.
DESCRIPTIONS = {
    "setup": "Create the raw and enriched buckets, the queue and its dead-letter queue (after 5 receives), the "
             "DynamoDB table and the S3 -> SQS notification. Idempotent: existing resources are kept (and the "
             "queue's settings brought in line).",
    "seed": "Upload every *.json file under DIRECTORY, byte for byte (malformed ones too), to the raw bucket; "
            "each upload sends the worker a message.",
    "status": "Show the queue depths (visible, in flight, delayed; queue and DLQ), running dead-letter redrives "
              "(move tasks), the DynamoDB records per status and the objects per bucket.",
    "reset": "DELETE all data: purge both queues, delete every object in both buckets and every record in the "
             "table. The resources themselves stay. Cannot be undone.",
    "fetch-artifacts": "Download an artifacts folder from S3 (s3://bucket/prefix) and verify every file against "
                       "its manifest's sha256 before it is used (the pod's init container does this).",
    "show": "Show one ticket: its DynamoDB record and its S3 document (ticket text, intent, urgency, sentiment, "
            "summary, models, time), without the 384 floats; or a rejection: the field, the reason and the "
            "ticket as it was sent. Rejected uploads are found by file name too "
            "(ticket-enrich aws show malformed-invalid-json.json).",
}


def _describe_actions(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, parser in actions.choices.items():
        parser.description = parser.description or DESCRIPTIONS.get(name)


def _print_status(state: dict[str, Any], out: TextIO) -> None:
    for name, depth in state["queue"].items():
        print(f"queue  {name:<34} visible {depth['visible']:>5}  in flight {depth['in_flight']:>5}  "
              f"delayed {depth['delayed']:>5}", file=out)
    records = state["records"]
    detail = ", ".join(f"{count} {status}" for status, count in sorted(records.items())) or "none"
    print(f"table  records {sum(records.values())} ({detail})", file=out)
    for bucket, count in state["objects"].items():
        print(f"bucket {bucket:<34} {count} objects", file=out)
    tasks = state["move_tasks"]
    if tasks is None:
        print("redrive no move tasks on this endpoint (`ticket-enrich aws redrive` moves messages itself)", file=out)
    for task in tasks or []:
        print(f"redrive move task {task.get('Status', '?').lower()}: {task.get('ApproximateNumberOfMessagesMoved', 0)} of "
              f"about {task.get('ApproximateNumberOfMessagesToMove', '?')} moved", file=out)


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from runtime.errors import RuntimeArtifactError
    from worker import redrive, resources
    from worker.aws import AwsClients, clients_from_environment, describe_failure, retry_config
    from worker.errors import AwsError, SettingsError, WorkerError
    from worker.settings import Settings

    try:
        settings = Settings.from_env(visibility_timeout=getattr(args, "visibility_timeout", None))
        clients = clients_from_environment()
    except (SettingsError, AwsError) as exc:
        print(f"ticket-enrich aws: {exc}", file=sys.stderr)
        return 2
    # For calls an endpoint may not have (message move tasks): one retry, so "unsupported" is quick.
    probe = AwsClients.from_session(config=retry_config(2)).sqs
    try:
        if args.action == "setup":
            for line in resources.setup(clients, settings):
                print(line)
        elif args.action == "seed":
            keys = resources.seed(clients, settings, args.directory, args.prefix)
            print(f"uploaded {len(keys)} files from {args.directory} to s3://{settings.raw_bucket}/{args.prefix}")
        elif args.action == "status":
            state = {**resources.status(clients, settings),
                     "move_tasks": redrive.running_move_tasks(clients, probe, settings)}
            print(json.dumps(state, indent=2, default=str)) if args.json else _print_status(state, sys.stdout)
        elif args.action == "redrive":
            result = redrive.redrive(clients, probe, settings, rate=args.rate, wait=args.wait)
            for note in result.notes:
                print(note)
            print(result.describe(settings.dlq_name, settings.queue_name))
            if result.not_sent or result.status in ("FAILED", "CANCELLED"):
                return 1
        elif args.action == "reset":
            for line in resources.reset(clients, settings):
                print(line)
        elif args.action == "fetch-artifacts":
            from worker.fetch import fetch_artifacts

            keys = fetch_artifacts(clients.s3, args.source, args.target)
            print(f"fetched {len(keys)} files from {args.source} to {args.target}; hashes match the manifest")
        elif args.action == "show":
            return _show(clients, settings, args.ticket_id, args.json)
    except (ClientError, BotoCoreError) as exc:
        print(f"ticket-enrich aws {args.action}: {describe_failure(args.action, exc)}", file=sys.stderr)
        if args.action != "setup" and isinstance(exc, ClientError):
            print("Run `ticket-enrich aws setup` (make setup) first if the resources do not exist yet.", file=sys.stderr)
        return 1
    except (WorkerError, RuntimeArtifactError, FileNotFoundError, ValueError) as exc:
        print(f"ticket-enrich aws {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0


def _show(clients: AwsClients, settings: Settings, ticket_id: str, as_json: bool) -> int:
    from worker import show

    found = show.find(clients, settings, ticket_id)
    if found is None:
        known = ", ".join(show.some_keys(clients, settings)) or "none: run the worker first (make run)"
        print(f"ticket-enrich aws show: no record for {ticket_id!r} in table {settings.table!r}. Enriched tickets "
              f"are found by their ticket_id, rejected ones by their file name or rejected:<source>; records "
              f"there include: {known}", file=sys.stderr)
        return 1
    print(show.as_json(found)) if as_json else show.render(found, settings.table, sys.stdout)
    return 0
