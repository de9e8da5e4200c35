"""KEDA's decisions for our ScaledObject, simulated: the `aws-sqs-queue` scaler's metric, KEDA's
activation and scale-to-zero, and the HorizontalPodAutoscaler arithmetic KEDA hands the rest to,
with the numbers read from k8s/components/keda/scaledobject.yaml itself.

What is implemented, and where it is documented:
- the scaler's metric (KEDA pkg/scalers/aws_sqs_queue_scaler.go; keda.sh/docs/scalers/aws-sqs):
  ApproximateNumberOfMessages, plus ApproximateNumberOfMessagesNotVisible when `scaleOnInFlight`
  (default true), plus ApproximateNumberOfMessagesDelayed when `scaleOnDelayed` (default false);
  the trigger is active while that sum exceeds `activationQueueLength`. The metric target is an
  AverageValue of `queueLength` per pod.
- KEDA's executor (pkg/scaling/executor/scale_scaledobjects.go), every `pollingInterval`: an active
  trigger with 0 replicas scales to max(minReplicaCount, 1) and stamps the last active time; an
  inactive one scales to minReplicaCount (0) once `cooldownPeriod` has passed since then.
- the HPA (kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale), every sync period
  (15 s, the kube-controller-manager default) while replicas > 0: desired = ceil(metric /
  queueLength), unless metric / (queueLength x replicas) is within the 10 % tolerance of 1;
  clamped to [max(min, 1), max]; stabilised (scale-up: the lowest recommendation of the scale-up
  window, scale-down: the highest of the scale-down window); then rate-limited by the behavior
  policies, each counting from the replicas there were at the start of its period, `selectPolicy`
  choosing the policy that allows the most change.

For a local run the durations can be shortened by one factor (`scaled`): the arithmetic stays the
manifest's, only faster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

SCALEDOBJECT = Path(__file__).resolve().parents[1] / "k8s" / "components" / "keda" / "scaledobject.yaml"
HPA_SYNC_SECONDS = 15.0  # --horizontal-pod-autoscaler-sync-period (kube-controller-manager default)
HPA_TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance (default)


@dataclass(frozen=True)
class Policy:
    kind: str  # Pods | Percent
    value: int
    period_s: float


@dataclass(frozen=True)
class Behavior:
    window_s: float
    policies: tuple[Policy, ...]
    select: str = "Max"  # Max | Min | Disabled


@dataclass(frozen=True)
class Rules:
    queue_length: int
    activation_queue_length: int
    scale_on_in_flight: bool
    scale_on_delayed: bool
    min_replicas: int
    max_replicas: int
    polling_s: float
    cooldown_s: float
    up: Behavior
    down: Behavior
    hpa_sync_s: float = HPA_SYNC_SECONDS
    tolerance: float = HPA_TOLERANCE

    @classmethod
    def from_manifest(cls, path: Path = SCALEDOBJECT) -> Rules:
        spec = yaml.safe_load(path.read_text())["spec"]
        (trigger,) = [t for t in spec["triggers"] if t["type"] == "aws-sqs-queue"]
        meta = trigger["metadata"]
        behavior = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior", {})

        def flag(name: str, default: bool) -> bool:
            return str(meta.get(name, default)).lower() == "true"

        def read(part: dict[str, Any], default_window: float) -> Behavior:
            policies = tuple(Policy(p["type"], int(p["value"]), float(p["periodSeconds"]))
                             for p in part.get("policies", []))
            return Behavior(float(part.get("stabilizationWindowSeconds", default_window)), policies,
                            part.get("selectPolicy", "Max"))

        # Kubernetes' defaults where the manifest says nothing (scale-up: +100 % or +4 pods per 15 s,
        # no window; scale-down: -100 % per 15 s after a 300 s window).
        up = read(behavior.get("scaleUp", {"policies": [{"type": "Percent", "value": 100, "periodSeconds": 15},
                                                        {"type": "Pods", "value": 4, "periodSeconds": 15}]}), 0)
        down = read(behavior.get("scaleDown", {"policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}), 300)
        return cls(queue_length=int(meta.get("queueLength", 5)),
                   activation_queue_length=int(meta.get("activationQueueLength", 0)),
                   scale_on_in_flight=flag("scaleOnInFlight", True), scale_on_delayed=flag("scaleOnDelayed", False),
                   min_replicas=int(spec.get("minReplicaCount", 0)), max_replicas=int(spec.get("maxReplicaCount", 100)),
                   polling_s=float(spec.get("pollingInterval", 30)), cooldown_s=float(spec.get("cooldownPeriod", 300)),
                   up=up, down=down)

    def scaled(self, time_factor: float = 1.0, *, max_replicas: int | None = None,
               queue_length: int | None = None) -> Rules:
        """The same rules with every duration multiplied by `time_factor` (a local run in fast
        motion), and optionally another replica ceiling or queueLength."""

        def faster(b: Behavior) -> Behavior:
            return Behavior(b.window_s * time_factor,
                            tuple(replace(p, period_s=p.period_s * time_factor) for p in b.policies), b.select)

        return replace(self, polling_s=self.polling_s * time_factor, cooldown_s=self.cooldown_s * time_factor,
                       hpa_sync_s=self.hpa_sync_s * time_factor, up=faster(self.up), down=faster(self.down),
                       max_replicas=max_replicas or self.max_replicas, queue_length=queue_length or self.queue_length)

    def metric(self, visible: int, in_flight: int, delayed: int = 0) -> int:
        """What the aws-sqs-queue scaler reports: the "actual messages"."""
        return visible + (in_flight if self.scale_on_in_flight else 0) + (delayed if self.scale_on_delayed else 0)

    def describe(self) -> dict[str, Any]:
        return {"queue_length": self.queue_length, "min": self.min_replicas, "max": self.max_replicas,
                "polling_s": self.polling_s, "cooldown_s": self.cooldown_s, "hpa_sync_s": self.hpa_sync_s,
                "scale_on_in_flight": self.scale_on_in_flight, "scale_up_window_s": self.up.window_s,
                "scale_down_window_s": self.down.window_s,
                "scale_up": [f"{p.kind} {p.value}/{p.period_s:g}s" for p in self.up.policies],
                "scale_down": [f"{p.kind} {p.value}/{p.period_s:g}s" for p in self.down.policies]}


@dataclass
class Autoscaler:
    """KEDA + HPA for one ScaledObject. Call `observe(now, visible, in_flight, delayed)` as often as
    you like; it acts on KEDA's polling interval and the HPA's sync period, and returns the
    replica count the Deployment should have."""

    rules: Rules
    replicas: int = 0
    last_active: float | None = None
    next_poll: float = 0.0
    next_sync: float = 0.0
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    changes: list[tuple[float, int]] = field(default_factory=list)  # the HPA's: (time, replicas added/removed)
    decisions: list[dict[str, Any]] = field(default_factory=list)

    def observe(self, now: float, visible: int, in_flight: int, delayed: int = 0) -> int:
        metric = self.rules.metric(visible, in_flight, delayed)
        if now >= self.next_poll:
            self.next_poll = now + self.rules.polling_s
            self._keda(now, metric)
        if self.replicas > 0 and now >= self.next_sync:
            self.next_sync = now + self.rules.hpa_sync_s
            self._hpa(now, metric)
        return self.replicas

    def _set(self, now: float, replicas: int, why: str, metric: int) -> None:
        if replicas != self.replicas:
            if why == "hpa":  # the HPA's rate limits count its own scale events, not KEDA's
                self.changes.append((now, replicas - self.replicas))
            self.decisions.append({"t": round(now, 2), "from": self.replicas, "to": replicas, "metric": metric, "by": why})
            self.replicas = replicas

    def _keda(self, now: float, metric: int) -> None:
        active = metric > self.rules.activation_queue_length
        if active:
            self.last_active = now
            if self.replicas == 0:
                self._set(now, max(self.rules.min_replicas, 1), "keda: activated", metric)
                self.next_sync = now + self.rules.hpa_sync_s  # the HPA takes over from its next sync
        elif self.replicas > self.rules.min_replicas == 0:
            if self.last_active is None or now - self.last_active > self.rules.cooldown_s:
                self._set(now, 0, "keda: cooldown over, scale to zero", metric)
                self.recommendations.clear()

    def _hpa(self, now: float, metric: int) -> None:
        rules, current = self.rules, self.replicas
        ratio = metric / (rules.queue_length * current)
        proposal = current if abs(ratio - 1.0) <= rules.tolerance else math.ceil(metric / rules.queue_length)
        proposal = min(max(proposal, max(rules.min_replicas, 1)), rules.max_replicas)
        # Stabilisation: the lowest recommendation within the scale-up window, the highest within
        # the scale-down window (this one included).
        self.recommendations.append((now, proposal))
        keep = max(rules.up.window_s, rules.down.window_s)
        self.recommendations = [(t, r) for t, r in self.recommendations if now - t <= keep]
        up_to = min(r for t, r in self.recommendations if now - t <= rules.up.window_s)
        down_to = max(r for t, r in self.recommendations if now - t <= rules.down.window_s)
        desired = min(max(current, up_to), down_to)
        if desired > current:
            desired = min(desired, self._limit(now, current, rules.up, up=True))
        elif desired < current:
            desired = max(desired, self._limit(now, current, rules.down, up=False))
        self._set(now, desired, "hpa", metric)

    def _limit(self, now: float, current: int, behavior: Behavior, *, up: bool) -> int:
        if behavior.select == "Disabled" or not behavior.policies:
            return current
        limits = []
        for policy in behavior.policies:
            within = [d for t, d in self.changes if now - t < policy.period_s]
            start = current - sum(within)  # replicas at the start of the policy's period
            if policy.kind == "Pods":
                limits.append(start + policy.value if up else start - policy.value)
            elif up:
                limits.append(math.ceil(start * (1 + policy.value / 100)))
            else:
                limits.append(int(start * (1 - policy.value / 100)))
        most_change = max if up else min
        return most_change(limits) if behavior.select == "Max" else (min if up else max)(limits)
