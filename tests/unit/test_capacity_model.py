"""tools/capacity.py, the model behind docs/CAPACITY.md: the arrival curve has the mean and the
peak it claims, a simulated day serves every ticket through the manifest's KEDA rules, and the
request prices add up per ticket as the table says."""

from __future__ import annotations

import math

import pytest

from tools import capacity
from tools.keda import Rules


def test_the_day_has_its_mean_and_a_peak_five_times_it():
    mean = 10.0
    rates = [capacity.arrival_rate(t, mean) for t in range(0, capacity.DAY_S, 60)]
    assert sum(rates) / len(rates) == pytest.approx(mean, rel=0.01)
    assert max(rates) == pytest.approx(capacity.PEAK_TO_MEAN * mean, rel=0.01)
    assert min(rates) > 0


def test_a_simulated_day_serves_every_ticket_and_scales_with_the_load():
    rules = Rules.from_manifest()
    quiet = capacity.simulate_day(100_000, rate=5.0, rules=rules)
    busy = capacity.simulate_day(1_000_000, rate=5.0, rules=rules)
    assert quiet["left_at_midnight"] < 50 and busy["left_at_midnight"] < 500
    # The peak needs peak rate / per-pod rate pods at least; KEDA adds the backlog allowance.
    assert busy["peak_pods"] >= math.ceil(busy["peak_per_s"] / 5.0)
    assert busy["peak_pods"] > quiet["peak_pods"] >= 1
    # A ticket waits at most about queueLength / rate (30 s) plus a pod's start, at the peak.
    assert busy["latency_s"]["p99"] < rules.queue_length / 5.0 + 60 + 30


def test_the_replica_cap_binds_at_ten_million_a_day():
    rules = Rules.from_manifest()
    capped = capacity.simulate_day(10_000_000, rate=5.0, rules=rules)
    assert capped["peak_pods"] == rules.max_replicas
    assert capped["left_at_midnight"] > 1_000_000  # the backlog never drains at 20 pods


def test_request_costs_per_thousand_tickets():
    costs = capacity.request_costs_per_thousand()
    prices = capacity.PRICES
    assert costs["s3"] == pytest.approx(prices["s3_put_per_thousand"] + prices["s3_get_per_thousand"])
    assert costs["sqs"] == pytest.approx(1.2 * prices["sqs_per_million"] / 1000)  # send + 1/10 receive + 1/10 delete
    assert costs["total"] == pytest.approx(costs["sqs"] + costs["s3"] + costs["dynamodb"], abs=1e-6)
