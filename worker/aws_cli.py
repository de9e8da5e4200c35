"""`ticket-enrich aws setup | seed DIR | status | redrive | reset | fetch-artifacts`: the AWS side
of the pipeline, against whatever endpoint the standard environment names (unset: real AWS)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO


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
    actions.add_parser("reset", help="empty the queues, buckets and table")
    fetch = actions.add_parser("fetch-artifacts", help="download an artifacts folder from S3 and verify it")
    fetch.add_argument("--from", dest="source", required=True, help="s3://bucket/prefix")
    fetch.add_argument("--to", dest="target", required=True, type=Path, help="local folder")


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
    from worker.aws import AwsClients, describe_failure, retry_config
    from worker.errors import SettingsError, WorkerError
    from worker.settings import Settings

    try:
        settings = Settings.from_env(visibility_timeout=getattr(args, "visibility_timeout", None))
    except SettingsError as exc:
        print(f"ticket-enrich aws: {exc}", file=sys.stderr)
        return 2
    clients = AwsClients.from_session()
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
    except (ClientError, BotoCoreError) as exc:
        print(f"ticket-enrich aws {args.action}: {describe_failure(args.action, exc)}", file=sys.stderr)
        if args.action != "setup":
            print("Run `ticket-enrich aws setup` (make setup) first if the resources do not exist yet.", file=sys.stderr)
        return 1
    except (WorkerError, RuntimeArtifactError, FileNotFoundError, ValueError) as exc:
        print(f"ticket-enrich aws {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0
