"""`ticket-enrich aws setup | seed DIR | status | reset | fetch-artifacts`: the AWS side of the
pipeline, against whatever endpoint the standard environment names (unset: real AWS)."""

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
    status = actions.add_parser("status", help="queue depths (visible, in flight, DLQ) and record counts")
    status.add_argument("--json", action="store_true", help="print JSON")
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


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from runtime.errors import RuntimeArtifactError
    from worker import resources
    from worker.aws import AwsClients, describe_failure
    from worker.errors import SettingsError, WorkerError
    from worker.settings import Settings

    try:
        settings = Settings.from_env(visibility_timeout=getattr(args, "visibility_timeout", None))
    except SettingsError as exc:
        print(f"ticket-enrich aws: {exc}", file=sys.stderr)
        return 2
    clients = AwsClients.from_session()
    try:
        if args.action == "setup":
            for line in resources.setup(clients, settings):
                print(line)
        elif args.action == "seed":
            keys = resources.seed(clients, settings, args.directory, args.prefix)
            print(f"uploaded {len(keys)} files from {args.directory} to s3://{settings.raw_bucket}/{args.prefix}")
        elif args.action == "status":
            state = resources.status(clients, settings)
            print(json.dumps(state, indent=2)) if args.json else _print_status(state, sys.stdout)
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
