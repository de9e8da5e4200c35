"""tools/keda.py: KEDA's aws-sqs-queue scaler and the HPA arithmetic, with the numbers of our
ScaledObject as the manifest has them (so a change to the manifest changes the simulation)."""

from __future__ import annotations

import yaml

from tools.keda import SCALEDOBJECT, Autoscaler, Rules


def test_the_rules_are_the_manifests():
    spec = yaml.safe_load(SCALEDOBJECT.read_text())["spec"]
    meta = spec["triggers"][0]["metadata"]
    rules = Rules.from_manifest()
    assert rules.queue_length == int(meta["queueLength"])
    assert (rules.min_replicas, rules.max_replicas) == (spec["minReplicaCount"], spec["maxReplicaCount"])
    assert (rules.polling_s, rules.cooldown_s) == (spec["pollingInterval"], spec["cooldownPeriod"])
    down = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    assert rules.down.window_s == down["stabilizationWindowSeconds"]
    assert rules.scale_on_in_flight is (meta["scaleOnInFlight"] == "true")


def test_the_metric_counts_in_flight_messages_but_not_delayed_ones():
    rules = Rules.from_manifest()
    assert rules.metric(visible=100, in_flight=20, delayed=7) == 120


# The arithmetic below is written for a queueLength of 150; the manifest's own (measured by
# `make throughput`) changes when the runtime does, the policies and windows are the manifest's.
QUEUE_LENGTH = 150


def test_activation_then_the_hpa_scales_up_within_its_policies():
    rules = Rules.from_manifest().scaled(queue_length=QUEUE_LENGTH)  # up: +100 % or +4 pods per 30 s (the larger)
    scaler = Autoscaler(rules)
    assert scaler.observe(0, visible=3000, in_flight=0) == 1  # KEDA activates: 0 -> 1
    assert scaler.observe(15, visible=3000, in_flight=0) == 5  # ceil(3000/150) = 20, limited to 1 + 4
    assert scaler.observe(30, visible=3000, in_flight=0) == 5  # 5 added within the last 30 s: no more yet
    assert scaler.observe(45, visible=3000, in_flight=0) == 10  # 5 at the period's start: +100 %
    for t in range(60, 200, 15):
        replicas = scaler.observe(t, visible=3000, in_flight=0)
    assert replicas == rules.max_replicas == 20


def test_within_the_tolerance_nothing_moves():
    scaler = Autoscaler(Rules.from_manifest().scaled(queue_length=QUEUE_LENGTH))
    scaler.observe(0, 10, 0)
    scaler.replicas = 4
    assert scaler.observe(15, visible=620, in_flight=0) == 4  # 620 / (150 x 4) = 1.03: within 10 %
    assert scaler.observe(30, visible=700, in_flight=0) == 5  # 1.17: ceil(700 / 150) = 5


def test_scale_down_waits_for_the_window_then_one_pod_a_minute_and_zero_after_the_cooldown():
    rules = Rules.from_manifest().scaled(queue_length=QUEUE_LENGTH)  # down: window 300 s, 1 pod per 60 s; cooldown 300 s
    scaler = Autoscaler(rules)
    for t in range(0, 200, 15):
        scaler.observe(t, visible=3000, in_flight=0)
    assert scaler.replicas == 20
    # A trickle (active, but one pod's worth): the HPA scales down, slowly.
    history = {t: scaler.observe(t, visible=50, in_flight=0) for t in range(210, 600, 15)}
    assert history[495] == 20, "the highest recommendation of the last 300 s is still 20"
    assert history[510] == 19 and history[555] == 19 and history[570] == 18
    # Empty: KEDA scales to zero once the cooldown has passed since the last active poll.
    history = {t: scaler.observe(t, visible=0, in_flight=0) for t in range(600, 1200, 15)}
    last_active = 585
    zero_at = min(t for t, n in history.items() if n == 0)
    assert last_active + rules.cooldown_s < zero_at <= last_active + rules.cooldown_s + rules.polling_s
    assert scaler.decisions[-1]["by"].startswith("keda")


def test_time_runs_faster_but_the_arithmetic_is_the_same():
    fast = Rules.from_manifest().scaled(0.1, max_replicas=4, queue_length=15)
    assert (fast.polling_s, fast.cooldown_s, fast.down.window_s, fast.hpa_sync_s) == (1.5, 30.0, 30.0, 1.5)
    assert [p.period_s for p in fast.up.policies] == [3.0, 3.0]
    scaler = Autoscaler(fast)
    assert scaler.observe(0.0, visible=300, in_flight=0) == 1
    assert scaler.observe(1.5, visible=300, in_flight=0) == 4



def test_queue_length_is_the_derivation_written_beside_it():
    """The manifest says where its queueLength comes from (`make throughput`); the arithmetic in
    that comment must give the number the trigger uses."""
    import math
    import re

    text = SCALEDOBJECT.read_text()
    rate, delay, result = re.search(r"([\d.]+) tickets/s per 2-CPU pod.*?x (\d+) s = (\d+)", text, re.S).groups()
    assert math.floor(float(rate) * int(delay)) == int(result) == Rules.from_manifest().queue_length
    assert "make throughput" in text
