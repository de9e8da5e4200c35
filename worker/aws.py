"""AWS clients, built from the standard environment and passed in: never created at import time.

`AWS_ENDPOINT_URL` (or the per-service `AWS_ENDPOINT_URL_S3`, `_SQS`, `_DYNAMODB`), the region
and the credentials come from wherever boto3 looks for them, so the same code talks to AWS, to
moto server, or to any AWS-compatible emulator. Nothing here invents an endpoint: unset means AWS.

Faults are injected the way botocore intends, with event hooks on the session the clients are
built from (or on `client.meta.events`), for example::

    session = boto3.Session()
    session.events.register("before-call.dynamodb.PutItem", raise_throttling)
    clients = AwsClients.from_session(session)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from worker.errors import AwsError


def retry_config(total_attempts: int = 6) -> Config:
    """Botocore's `standard` retry mode: exponential backoff with jitter (at most ~31 s in all
    over 6 attempts) on throttling, 5xx and transient connection errors, plus a retry quota so an
    outage does not become a retry storm. The read timeout outlasts SQS's 20-second long poll."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": total_attempts},
        connect_timeout=5,
        read_timeout=40,
        max_pool_connections=16,
    )


@dataclass(frozen=True)
class AwsClients:
    s3: Any
    sqs: Any
    dynamodb: Any

    @classmethod
    def from_session(cls, session: boto3.Session | None = None, config: Config | None = None) -> AwsClients:
        session = session or boto3.Session()
        config = config or retry_config()
        return cls(
            s3=session.client("s3", config=config),
            sqs=session.client("sqs", config=config),
            dynamodb=session.client("dynamodb", config=config),
        )


LOCAL_HINT = ("for the local emulator, use make (`make worker`, `make status`, …: it sets the endpoint, region and "
              "credentials) or, after `make aws-up`, export AWS_ENDPOINT_URL=http://127.0.0.1:4566 "
              "AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing")


def clients_from_environment(session: boto3.Session | None = None) -> AwsClients:
    """AwsClients from the standard environment, or AwsError saying which part of the AWS
    configuration is missing or unusable (no region, no credentials, an unknown profile, a
    malformed endpoint URL) and how to set it: found before anything else starts."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    where = f"AWS_ENDPOINT_URL={endpoint}" if endpoint else "AWS_ENDPOINT_URL is unset: this means AWS itself"
    try:
        session = session or boto3.Session()
        if not session.region_name:
            raise NoRegionError()
        if session.get_credentials() is None:
            raise AwsError(f"no AWS credentials found ({where}). On AWS: a profile, the environment or the pod's "
                           f"role (IRSA); {LOCAL_HINT}")
        return AwsClients.from_session(session)
    except NoRegionError as exc:
        raise AwsError(f"no AWS region is set ({where}). On AWS: export AWS_DEFAULT_REGION; {LOCAL_HINT}") from exc
    except (BotoCoreError, ValueError) as exc:  # unknown profile, malformed endpoint URL or config file
        raise AwsError(f"the AWS configuration cannot be used: {exc} (check AWS_PROFILE, AWS_ENDPOINT_URL, "
                       f"AWS_DEFAULT_REGION); {LOCAL_HINT}") from exc


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


def describe_failure(action: str, exc: BaseException) -> str:
    """One line for logs and errors: what was attempted, what came back, what to check."""
    if isinstance(exc, ClientError):
        message = exc.response.get("Error", {}).get("Message", "")
        return f"{action} failed: {error_code(exc)} {message}".rstrip()
    if isinstance(exc, BotoCoreError):
        return (
            f"{action} failed: {exc} (check AWS_ENDPOINT_URL, the region and the credentials; "
            "with the local emulator, run `make aws-up`)"
        )
    return f"{action} failed: {type(exc).__name__}: {exc}"


def resolve_queue_url(sqs: Any, queue: str) -> str:
    """A queue URL as given, or the URL of a queue name."""
    if queue.startswith(("http://", "https://")):
        return queue
    try:
        return str(sqs.get_queue_url(QueueName=queue)["QueueUrl"])
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(
            describe_failure(f"looking up queue {queue!r}", exc) + "; run `ticket-enrich aws setup` to create it"
        ) from exc
