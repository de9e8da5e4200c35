"""The capacity plan's numbers (docs/CAPACITY.md): a day of tickets through the KEDA formula, and
what it costs.

    python -m tools.capacity [--throughput build/reliability/throughput.json] [--png docs/capacity.png]

- Per-pod throughput: the measured "1 worker x 2 threads" median of tools/throughput.py (a 2-CPU
  pod on this build machine), per profile; `--pod-rate` overrides it. Other CPUs are scaled by the
  assumed factors in INSTANCES (to be replaced by `make throughput` on the instance).
- The day: arrivals follow a business-day curve whose peak is 5x the mean (a night floor plus one
  Gaussian peak at 14:00), second by second. Pods come from tools/keda.py's Autoscaler with the
  manifest's own rules (real time, maxReplicaCount as the manifest says, and without the cap);
  a pod serves `rate` tickets/s once it is ready, `--start-s` after KEDA asked for it. Each second
  the ready pods take tickets from the head of the backlog; a ticket's upload-to-record latency is
  its wait plus one batch (10 tickets at the pod's rate).
- Costs: pod-hours x (node price / pods per node), and the AWS requests the worker makes per ticket
  (REQUESTS, counted on the emulator by tests/integration/test_request_counts.py) at list prices.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.keda import Autoscaler, Rules
from tools.rig import REPO

DAY_S = 86_400
PEAK_TO_MEAN = 5.0
PEAK_AT_S = 14 * 3600
PEAK_WIDTH_S = 1.5 * 3600  # the Gaussian's standard deviation
BATCH = 10
VOLUMES = (100_000, 1_000_000, 10_000_000)

# Requests per ticket the worker makes (worker/loop.py, batch.py, sqs.py, store.py), at full
# batches of 10; test_request_counts.py counts them on the emulator.
REQUESTS = {
    "sqs": {"SendMessage (the S3 event notification)": 1.0, "ReceiveMessage": 1 / BATCH, "DeleteMessageBatch": 1 / BATCH},
    "s3": {"GetObject (the raw ticket)": 1.0, "PutObject (the enriched document)": 1.0},
    "dynamodb": {"BatchGetItem (dedupe, per batch)": 1 / BATCH, "PutItem (the record)": 1.0},
}
# Requests a pod makes while it runs, whatever the load: 3 empty long polls a minute when idle
# (20 s each) and the dead-letter gauge's GetQueueAttributes once a minute.
POD_REQUESTS_PER_HOUR = {"sqs idle ReceiveMessage": 180, "sqs GetQueueAttributes": 60}
# Capacity units per ticket: a record is 1-2 KB (1 WRU per KB, rounded up: 2); the dedupe read of
# a key is 0.5 RRU (eventually consistent, an item under 4 KB or none).
WRU_PER_RECORD, RRU_PER_LOOKUP = 2, 0.5
DOCUMENT_KB, RECORD_KB = 12, 2  # stored per ticket (test_request_counts.py checks the sizes)

# us-east-1 list prices (on-demand; USD), as published by AWS in 2024-2025 and known to the author:
# NOT fetched for this document (the build machine cannot reach aws.amazon.com). Check them.
PRICES = {
    "sqs_per_million": 0.40, "s3_put_per_thousand": 0.005, "s3_get_per_thousand": 0.0004,
    "dynamodb_wru_per_million": 0.625, "dynamodb_rru_per_million": 0.125,
    "s3_gb_month": 0.023, "dynamodb_gb_month": 0.25,
}


@dataclass(frozen=True)
class Instance:
    name: str
    variant: str
    cpu: str
    vcpus: int
    price_per_hour: float  # us-east-1, on-demand Linux, list price (see PRICES)
    speed: float  # per-pod throughput relative to this build machine's pod: an assumption unless measured

    @property
    def pods(self) -> int:
        """2-CPU pods per node, leaving about 2 vCPUs for the kubelet, the system and DaemonSets."""
        return (self.vcpus - 2) // 2


INSTANCES = (
    Instance("c7i.4xlarge", "avx512_vnni", "Intel Sapphire Rapids (AVX512-VNNI, AMX): this build machine's kind", 16, 0.714, 1.0),
    Instance("c6i.4xlarge", "avx512_vnni", "Intel Ice Lake (AVX512-VNNI)", 16, 0.680, 0.85),
    Instance("c7a.4xlarge", "avx512_vnni", "AMD Zen 4 (AVX512-VNNI)", 16, 0.821, 1.0),
    Instance("c6a.4xlarge", "avx2", "AMD Zen 3 (AVX2 only)", 16, 0.612, 0.6),
    Instance("c7g.4xlarge", "arm64", "AWS Graviton3 (Neoverse V1, int8 dot product)", 16, 0.580, 0.8),
    Instance("c8g.4xlarge", "arm64", "AWS Graviton4 (Neoverse V2)", 16, 0.638, 0.95),
)


def arrival_rate(t: float, mean: float) -> float:
    """Tickets/s at second t of the day: a floor plus a Gaussian peak, with mean `mean` over the
    day and a maximum of PEAK_TO_MEAN x mean at PEAK_AT_S."""
    area = PEAK_WIDTH_S * math.sqrt(2 * math.pi) / DAY_S  # the Gaussian's mean height over the day, per unit of k
    k = (PEAK_TO_MEAN - 1) / (1 - area)  # floor + k = PEAK_TO_MEAN, floor + k x area = 1
    floor = PEAK_TO_MEAN - k
    return mean * (floor + k * math.exp(-0.5 * ((t - PEAK_AT_S) / PEAK_WIDTH_S) ** 2))


def simulate_day(per_day: int, rate: float, rules: Rules, start_s: float = 60.0, step_s: float = 1.0) -> dict[str, Any]:
    """One day through KEDA; returns the timeline (every 5 min) and the day's figures."""
    mean = per_day / DAY_S
    scaler = Autoscaler(rules)
    backlog: deque[list[float]] = deque()  # [arrival second, tickets], oldest first
    waiting = 0.0
    starting: deque[float] = deque()  # when each pod asked for becomes ready
    ready = 0
    latencies: list[tuple[float, float]] = []  # (seconds, tickets)
    timeline, pod_seconds, peak_pods, peak_backlog, carry = [], 0.0, 0, 0.0, 0.0
    for second in range(0, DAY_S, int(step_s)):
        t = float(second)
        carry += arrival_rate(t, mean) * step_s
        arrived, carry = math.floor(carry), carry - math.floor(carry)
        if arrived:
            backlog.append([t, float(arrived)])
            waiting += arrived
        in_flight = min(waiting, ready * BATCH)
        desired = scaler.observe(t, int(waiting - in_flight), int(in_flight))
        while starting and starting[0] <= t:
            starting.popleft()
            ready += 1
        pods = ready + len(starting)
        if desired > pods:
            starting.extend([t + start_s] * (desired - pods))
        elif desired < pods:  # remove pods not yet ready first, then ready ones (they finish their batch)
            drop = pods - desired
            while drop and starting:
                starting.pop()
                drop -= 1
            ready -= drop
        capacity = ready * rate * step_s
        while capacity > 1e-9 and backlog:
            arrived_at, count = backlog[0]
            served = min(count, capacity)
            latencies.append((t - arrived_at + BATCH / rate, served))
            capacity -= served
            waiting -= served
            if served >= count:
                backlog.popleft()
            else:
                backlog[0][1] = count - served
        pod_seconds += (ready + len(starting)) * step_s
        peak_pods, peak_backlog = max(peak_pods, ready + len(starting)), max(peak_backlog, waiting)
        if second % 300 == 0:
            timeline.append({"t_h": round(t / 3600, 3), "arrivals_per_s": round(arrival_rate(t, mean), 2),
                             "pods": ready + len(starting), "ready": ready, "backlog": round(waiting)})
    return {"per_day": per_day, "mean_per_s": round(mean, 2), "peak_per_s": round(mean * PEAK_TO_MEAN, 2),
            "peak_pods": peak_pods, "pod_hours": round(pod_seconds / 3600, 1), "peak_backlog": round(peak_backlog),
            "latency_s": {"p50": round(weighted_percentile(latencies, 50), 1),
                          "p99": round(weighted_percentile(latencies, 99), 1),
                          "max": round(max((s for s, _ in latencies), default=0), 1)},
            "left_at_midnight": round(waiting), "timeline": timeline}


def weighted_percentile(values: list[tuple[float, float]], q: float) -> float:
    ordered = sorted(values)
    total = sum(w for _, w in ordered)
    seen = 0.0
    for value, weight in ordered:
        seen += weight
        if seen >= total * q / 100:
            return value
    return ordered[-1][0] if ordered else 0.0


def request_costs_per_thousand() -> dict[str, float]:
    """USD per 1,000 tickets for the AWS requests (and write/read units) the worker causes."""
    sqs = sum(REQUESTS["sqs"].values()) * 1000 * PRICES["sqs_per_million"] / 1e6
    s3 = 1000 * (PRICES["s3_get_per_thousand"] + PRICES["s3_put_per_thousand"]) / 1000
    dynamodb = 1000 * (WRU_PER_RECORD * PRICES["dynamodb_wru_per_million"]
                       + RRU_PER_LOOKUP * PRICES["dynamodb_rru_per_million"]) / 1e6
    return {"sqs": round(sqs, 6), "s3": round(s3, 6), "dynamodb": round(dynamodb, 6),
            "total": round(sqs + s3 + dynamodb, 6)}


def plan(rate: float, rules: Rules, start_s: float) -> dict[str, Any]:
    """The day at each volume: with the manifest as it is (maxReplicaCount included) and without
    the replica cap; then, per instance type, the uncapped day at that CPU's rate, and its cost."""
    uncapped = rules.scaled(1.0, max_replicas=1000)
    days = {}
    for per_day in VOLUMES:
        capped = simulate_day(per_day, rate, rules, start_s)
        free = capped if capped["peak_pods"] < rules.max_replicas else simulate_day(per_day, rate, uncapped, start_s)
        days[str(per_day)] = {"manifest": capped, "uncapped": free}
    requests = request_costs_per_thousand()
    costs = {}
    for per_day in days:
        rows = []
        for instance in INSTANCES:
            run = simulate_day(int(per_day), rate * instance.speed, uncapped, start_s)
            compute = run["pod_hours"] * instance.price_per_hour / instance.pods
            aws = requests["total"] * int(per_day) / 1000
            idle = sum(POD_REQUESTS_PER_HOUR.values()) * run["pod_hours"] * PRICES["sqs_per_million"] / 1e6
            rows.append({"instance": instance.name, "variant": instance.variant, "pod_rate": round(rate * instance.speed, 2),
                         "peak_pods": run["peak_pods"], "nodes_at_peak": math.ceil(run["peak_pods"] / instance.pods),
                         "pod_hours": run["pod_hours"], "latency_p99_s": run["latency_s"]["p99"],
                         "compute_usd_day": round(compute, 2), "requests_usd_day": round(aws + idle, 2),
                         "total_usd_day": round(compute + aws + idle, 2),
                         "usd_per_thousand": round((compute + aws + idle) / int(per_day) * 1000, 4)})
        costs[per_day] = rows
    return {"pod_rate": rate, "start_s": start_s, "rules": rules.describe(), "days": days,
            "requests_per_ticket": REQUESTS, "request_usd_per_thousand": requests, "costs": costs,
            "instances": [vars(i) | {"pods_per_node": i.pods} for i in INSTANCES], "prices": PRICES}


def draw(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = result["days"]
    figure, axes = plt.subplots(len(days), 1, figsize=(9, 3.2 * len(days)), sharex=True)
    for axis, (per_day, day) in zip(axes, days.items(), strict=True):
        run = day["uncapped"]
        hours = [p["t_h"] for p in run["timeline"]]
        axis.plot(hours, [p["arrivals_per_s"] / result["pod_rate"] for p in run["timeline"]], color="0.6",
                  label="arrivals / one pod's rate")
        axis.step(hours, [p["pods"] for p in run["timeline"]], where="post", color="tab:blue", label="pods (KEDA)")
        if day["manifest"] is not run:
            axis.step(hours, [p["pods"] for p in day["manifest"]["timeline"]], where="post", color="tab:red",
                      linestyle="--", label=f"pods, maxReplicaCount {result['rules']['max']}")
        axis.set_ylabel("pods")
        twin = axis.twinx()
        twin.plot(hours, [p["backlog"] for p in run["timeline"]], color="tab:orange", alpha=0.6, label="backlog")
        twin.set_ylabel("backlog (messages)")
        lat = run["latency_s"]
        axis.set_title(f"{int(per_day):,} tickets/day: peak {run['peak_pods']} pods, latency p50 {lat['p50']} s, "
                       f"p99 {lat['p99']} s", fontsize=10)
        lines = axis.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        axis.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=8)
    axes[-1].set_xlabel("hour of the day")
    figure.suptitle(f"A day through the KEDA formula at {result['pod_rate']:.2f} tickets/s per pod", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def pod_rate_from(path: Path, profile: str) -> float | None:
    if not path.exists():
        return None
    table = json.loads(path.read_text())["table"]
    row = table.get(profile, {}).get("1x2")
    return row["median_tickets_per_s"] if row else None


def report(result: dict[str, Any]) -> str:
    """Markdown tables (docs/CAPACITY.md quotes them as printed)."""
    rules = result["rules"]
    lines = [f"Per-pod rate {result['pod_rate']:.2f} tickets/s (2-CPU pod, this build machine's CPU); a pod is ready "
             f"{result['start_s']:.0f} s after KEDA asks for it; queueLength {rules['queue_length']}.", "",
             f"| tickets/day | mean/s | peak/s | peak pods (maxReplicaCount {rules['max']}) | peak pods (uncapped) | "
             "pod-hours/day | peak backlog | latency p50 / p99 (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for per_day, day in result["days"].items():
        capped, free = day["manifest"], day["uncapped"]
        capped_note = "" if capped is free else (f" (capped: p99 {capped['latency_s']['p99']:,.0f} s, "
                                                 f"{capped['left_at_midnight']:,} left at midnight)")
        lines.append(f"| {int(per_day):,} | {free['mean_per_s']} | {free['peak_per_s']} | {capped['peak_pods']} | "
                     f"{free['peak_pods']} | {free['pod_hours']} | {free['peak_backlog']:,} | "
                     f"{free['latency_s']['p50']} / {free['latency_s']['p99']}{capped_note} |")
    requests = result["request_usd_per_thousand"]
    lines += ["", f"AWS requests per 1,000 tickets: SQS ${requests['sqs']:.5f}, S3 ${requests['s3']:.5f}, "
                  f"DynamoDB ${requests['dynamodb']:.5f}; total ${requests['total']:.5f}", "",
              "| tickets/day | instance | variant | pod t/s (assumed) | peak pods | nodes at peak | pod-hours | "
              "compute $/day | requests $/day | total $/day | $ per 1,000 tickets | p99 latency s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for per_day, rows in result["costs"].items():
        for row in rows:
            lines.append(f"| {int(per_day):,} | {row['instance']} | {row['variant']} | {row['pod_rate']} | {row['peak_pods']} | "
                         f"{row['nodes_at_peak']} | {row['pod_hours']} | {row['compute_usd_day']:,.2f} | "
                         f"{row['requests_usd_day']:,.2f} | {row['total_usd_day']:,.2f} | {row['usd_per_thousand']:.4f} | "
                         f"{row['latency_p99_s']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--throughput", type=Path, default=REPO / "build" / "reliability" / "throughput.json")
    parser.add_argument("--profile", default="full", choices=["full", "offline"])
    parser.add_argument("--pod-rate", type=float, help="tickets/s per 2-CPU pod (default: from --throughput)")
    parser.add_argument("--start-s", type=float, default=60.0, help="seconds from KEDA's request to a ready pod")
    parser.add_argument("--png", type=lambda s: Path(s) if s else None, default=REPO / "docs" / "capacity.png",
                        help="the chart ('' for none)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "reliability" / "capacity.json")
    args = parser.parse_args(argv)
    rate = args.pod_rate or pod_rate_from(args.throughput, args.profile)
    if rate is None:
        parser.error(f"no per-pod rate: run `make throughput` (writes {args.throughput}) or pass --pod-rate")
    result = plan(rate, Rules.from_manifest(), args.start_s)
    result["command"] = "python -m tools.capacity " + " ".join(sys.argv[1:] if argv is None else argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    if args.png:
        draw(result, args.png)
    print(report(result))
    print(f"summary: {args.out}" + (f"; chart: {args.png}" if args.png else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
