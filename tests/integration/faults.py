"""Faults injected at the client, the way botocore intends: a `before-send` hook on the session
the worker's clients are built from answers in place of the service (or raises a connection
error). Requests never reach the emulator, and botocore's retry logic sees them as real
responses, so retries, backoff and the worker's own error handling all run unchanged.

    session = boto3.Session()
    fault = Fault("dynamodb.PutItem", "throttle", times=2).register(session.events)
    clients = AwsClients.from_session(session)
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError

# service -> (protocol, throttling error code)
SERVICES = {
    "dynamodb": ("json", "ProvisionedThroughputExceededException"),
    "sqs": ("json", "RequestThrottled"),
    "s3": ("rest-xml", "SlowDown"),
}


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_kwargs: Any):
        yield self.body


def error_response(url: str, service: str, status: int, code: str, message: str) -> AWSResponse:
    protocol, _ = SERVICES[service]
    if protocol == "json":
        body = json.dumps({"__type": f"com.amazonaws.{service}#{code}", "message": message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-query-error": f"{code};Sender"}
    else:
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
        headers = {"Content-Type": "application/xml"}
    return AWSResponse(url, status, headers, _Raw(body))


@dataclass
class Fault:
    """Fail the next `times` sends of one operation ("service.Operation"): kind "throttle" (the
    service's throttling error), "server_error" (HTTP 500) or "unreachable" (connection refused).
    Retries count as sends."""

    operation: str
    kind: str
    times: float = math.inf
    injected: int = 0
    sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def register(self, events: Any) -> Fault:
        service, name = self.operation.split(".", 1)
        if service not in SERVICES or self.kind not in ("throttle", "server_error", "unreachable"):
            raise ValueError(f"unsupported fault {self.operation} {self.kind}")
        events.register(f"before-send.{service}.{name}", self._on_send)
        return self

    def _on_send(self, request: Any, **_kwargs: Any) -> AWSResponse | None:
        with self._lock:
            self.sent += 1
            if self.injected >= self.times:
                return None
            self.injected += 1
        service = self.operation.split(".", 1)[0]
        if self.kind == "unreachable":
            raise EndpointConnectionError(endpoint_url=request.url)
        if self.kind == "throttle":
            return error_response(request.url, service, 503 if service == "s3" else 400, SERVICES[service][1],
                                  "injected throttling")
        return error_response(request.url, service, 500, "InternalError", "injected server error")
