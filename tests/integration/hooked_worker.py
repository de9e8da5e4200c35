"""`ticket-enrich worker` with a botocore hook that slows one AWS operation down, so that a test
can signal the worker while a batch is in hand. The worker code is the same: the hook is
registered on the boto3 session its clients are built from.

    python hooked_worker.py --slow dynamodb.PutItem=0.5 --marker calls.txt -- [worker flags]

Each slowed call appends a line to the marker file before it sleeps; the calls are serialised,
so the batch's writes happen one after another.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import boto3  # noqa: E402

from worker import cli  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow", required=True, help="service.Operation=seconds")
    parser.add_argument("--marker", required=True, type=Path)
    own, rest = parser.parse_known_args()
    operation, _, seconds = own.slow.partition("=")
    lock = threading.Lock()

    def slow_call(**_kwargs):
        with lock:
            with open(own.marker, "a") as handle:
                handle.write(f"{operation}\n")
            time.sleep(float(seconds))

    session = boto3.Session()
    session.events.register(f"before-call.{operation}", slow_call)
    worker_parser = argparse.ArgumentParser()
    cli.add_arguments(worker_parser)
    return cli.run(worker_parser.parse_args([a for a in rest if a != "--"]), session=session)


if __name__ == "__main__":
    sys.exit(main())
