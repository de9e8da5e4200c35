"""Two faults that tests/integration/faults.py does not make, injected the same way (a
`before-send` hook on the session the worker's clients are built from):

- `LostReply`: the request reaches the service and takes effect, then the reply is lost (a read
  timeout). Botocore retries it, so the service sees the same request twice.
- `DeleteEntriesFail`: SQS answers DeleteMessageBatch with 200 and every entry under `Failed`,
  the partial failure a batch call can return; the messages stay in the queue.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session
from faults import _Raw


@dataclass
class LostReply:
    """Let the next `times` first attempts of "service.Operation" through to the service, then
    raise a read timeout in place of its reply. Retries go through untouched and meet what their
    first attempt did: counting them too made the fault depend on thread timing (a quick retry
    of one ticket's put could take the injection meant for another ticket's first put)."""

    operation: str
    times: int = 1
    injected: int = 0
    _http: URLLib3Session = field(default_factory=URLLib3Session, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def register(self, events: Any) -> LostReply:
        service, name = self.operation.split(".", 1)
        events.register(f"before-send.{service}.{name}", self._on_send)
        return self

    def _on_send(self, request: Any, **_kwargs: Any) -> None:
        if _attempt(request) != 1:
            return None
        with self._lock:
            if self.injected >= self.times:
                return None
            self.injected += 1
        reply = self._http.send(request)
        assert reply.status_code < 300, f"the request itself failed: {reply.status_code} {reply.content[:200]!r}"
        raise ReadTimeoutError(endpoint_url=request.url)


def _attempt(request: Any) -> int:
    """Which attempt of its call a request is: botocore's `amz-sdk-request: attempt=N; max=M` header."""
    value = request.headers.get("amz-sdk-request", b"")
    text = value.decode() if isinstance(value, bytes) else str(value)
    fields = dict(part.strip().partition("=")[::2] for part in text.split(";") if "=" in part)
    return int(fields.get("attempt", 1))


@dataclass
class DeleteEntriesFail:
    """Answer the next `times` DeleteMessageBatch calls with every entry failed (HTTP 200)."""

    times: int = 1
    injected: int = 0
    entries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def register(self, events: Any) -> DeleteEntriesFail:
        events.register("before-send.sqs.DeleteMessageBatch", self._on_send)
        return self

    def _on_send(self, request: Any, **_kwargs: Any) -> AWSResponse | None:
        with self._lock:
            if self.injected >= self.times:
                return None
            self.injected += 1
        ids = [entry["Id"] for entry in json.loads(request.body)["Entries"]]
        self.entries += len(ids)
        body = json.dumps({"Successful": [], "Failed": [
            {"Id": i, "SenderFault": False, "Code": "InternalError", "Message": "injected entry failure"} for i in ids]})
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(body.encode()))
