"""`/healthz` (the poll loop is alive), `/readyz` (models loaded, polling, not stopping) and
`/metrics` (Prometheus text) on TICKET_ENRICH_HTTP_PORT, from a daemon thread."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from worker.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

log = logging.getLogger("worker.health")


class Health:
    """What the probes read. The poll loop beats; a loop stuck longer than `stale_after` is dead."""

    def __init__(self, stale_after: float, clock: Callable[[], float] = time.monotonic):
        self.stale_after = stale_after
        self.clock = clock
        self.ready = False
        self.stopping = False
        self._beat = clock()

    def beat(self) -> None:
        self._beat = self.clock()

    def alive(self) -> tuple[bool, float]:
        age = self.clock() - self._beat
        return age < self.stale_after, age

    def is_ready(self) -> bool:
        return self.ready and not self.stopping and self.alive()[0]


def _handler(health: Health, render_metrics: Callable[[], str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - the name BaseHTTPRequestHandler dispatches to
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                alive, age = health.alive()
                self._send(200 if alive else 503, json.dumps({"alive": alive, "last_beat_s": round(age, 1)}))
            elif path == "/readyz":
                ready = health.is_ready()
                self._send(200 if ready else 503, json.dumps(
                    {"ready": ready, "models_loaded": health.ready, "stopping": health.stopping}))
            elif path == "/metrics":
                self._send(200, render_metrics(), METRICS_CONTENT_TYPE)
            else:
                self._send(404, json.dumps({"error": "not found", "paths": ["/healthz", "/readyz", "/metrics"]}))

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - probes are not news
            return

    return Handler


class HealthServer:
    def __init__(self, port: int, health: Health, render_metrics: Callable[[], str], host: str = "0.0.0.0"):
        self.server = ThreadingHTTPServer((host, port), _handler(health, render_metrics))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="health-http", daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("serving /healthz /readyz /metrics", extra={"fields": {"port": self.port}})
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
