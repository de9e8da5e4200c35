import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from worker.health import Health, HealthServer
from worker.metrics import WorkerMetrics


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def served():
    clock = FakeClock()
    health = Health(stale_after=60, clock=clock)
    metrics = WorkerMetrics()
    server = HealthServer(0, health, metrics.render, host="127.0.0.1").start()
    yield f"http://127.0.0.1:{server.port}", health, metrics, clock
    server.stop()


def test_probes_follow_the_worker_state(served):
    url, health, metrics, clock = served
    assert _get(url + "/healthz")[0] == 200
    status, body = _get(url + "/readyz")
    assert status == 503 and json.loads(body)["models_loaded"] is False
    health.ready = True
    assert _get(url + "/readyz")[0] == 200
    health.stopping = True  # SIGTERM: out of the load balancer, still alive
    assert _get(url + "/readyz")[0] == 503 and _get(url + "/healthz")[0] == 200
    clock.now += 61  # the loop has not beaten for longer than allowed
    assert _get(url + "/healthz")[0] == 503


def test_metrics_are_prometheus_text(served):
    url, _health, metrics, _clock = served
    metrics.tickets.labels(outcome="rejected").inc(2)
    status, body = _get(url + "/metrics")
    assert status == 200
    assert 'ticket_enrich_tickets_total{outcome="rejected"} 2.0' in body
    assert _get(url + "/nope")[0] == 404


def test_worker_imports_no_build_time_packages():
    # The CLI package (ticket_enrich) launches the worker; the worker never imports it back.
    code = ("import sys, runtime, worker.app, worker.aws_cli, worker.cli, worker.fetch, worker.resources, worker.emulator; "
            "bad = sorted(m for m in ('torch', 'transformers', 'optimum', 'export', 'ticket_enrich') if m in sys.modules); "
            "print(','.join(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_the_schema_imports_neither_the_worker_nor_the_cli():
    code = ("import sys, ticket_schema; "
            "bad = sorted(m for m in ('worker', 'ticket_enrich', 'export', 'torch', 'boto3') if m in sys.modules); "
            "print(','.join(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
