"""`ticket-enrich worker`: poll SQS, enrich each batch in one runtime call, write S3 + DynamoDB.

Settings come from the environment (worker/settings.py; flags here override) and AWS from the
standard environment (AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, credentials).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports boto3 only when it runs
    import boto3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--artifacts", help="artifacts folder (TICKET_ENRICH_ARTIFACTS; default artifacts)")
    parser.add_argument("--queue", help="queue name or URL (TICKET_ENRICH_QUEUE)")
    parser.add_argument("--http-port", type=int, help="port for /healthz /readyz /metrics; 0 = off (TICKET_ENRICH_HTTP_PORT)")
    parser.add_argument("--visibility-timeout", type=int, help="seconds a received batch stays invisible")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (TICKET_ENRICH_LOG_LEVEL)")
    parser.add_argument("--until-empty", action="store_true", help="stop once the queue is empty (batch jobs, demos)")
    parser.add_argument("--report", action="store_true", help="print a table of the enriched tickets when done")


def run(args: argparse.Namespace, session: boto3.Session | None = None) -> int:
    """`session`: a boto3.Session to build the clients from (its event hooks apply); default the environment's."""
    from worker import logs
    from worker.app import serve
    from worker.aws import clients_from_environment
    from worker.errors import AwsError, SettingsError
    from worker.settings import Settings

    try:
        settings = Settings.from_env(
            artifacts=args.artifacts, queue=args.queue, http_port=args.http_port,
            visibility_timeout=args.visibility_timeout, log_level=args.log_level,
        )
        clients_from_environment(session)  # the AWS configuration, checked before the models load
    except (SettingsError, AwsError) as exc:
        print(f"ticket-enrich worker: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    return serve(settings, until_empty=args.until_empty, report=args.report, session=session)
