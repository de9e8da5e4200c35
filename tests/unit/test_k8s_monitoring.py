"""k8s/monitoring: the alerts render with the real kustomize, and every metric they name is one
the worker serves (so renaming a metric breaks this test, not the alert in production)."""

from __future__ import annotations

import re
from pathlib import Path

from kustomize import build

from worker.metrics import WorkerMetrics

ROOT = Path(__file__).resolve().parents[2]


def test_the_alerts_render_and_name_metrics_the_worker_serves():
    (rule,) = build(ROOT / "k8s" / "monitoring")
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["metadata"]["namespace"] == "ticket-enrich"
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    assert set(alerts) == {"TicketEnrichDeadLetters", "TicketEnrichFailing"}
    served = set(re.findall(r"^# TYPE (\S+) ", WorkerMetrics().render(), re.M))
    for name, alert in alerts.items():
        named = set(re.findall(r"\b(ticket_enrich_\w+)", alert["expr"]))
        assert named and named <= served, (name, named - served)
        assert alert["labels"]["severity"] and alert["annotations"]["description"]
    assert "ticket-enrich aws redrive" in alerts["TicketEnrichDeadLetters"]["annotations"]["description"]
