"""Scale-out: several `ticket-enrich worker` processes on one queue, their number set by a
simulation of our KEDA ScaledObject (tools/keda.py, the numbers read from the manifest), while
tickets arrive in bursts and lulls. Pods are removed the way Kubernetes removes them (SIGTERM:
finish the batch in hand, exit 0) and now and then killed outright (SIGKILL: a lost node, an OOM
kill), and a running pod crashes at random and is replaced. Midway DynamoDB has an outage: the
tickets that keep failing through it reach the dead-letter queue, and the run ends with
`ticket-enrich aws redrive` and a last drain. Every ticket must end as exactly one record.

    python -m tools.scale [--tickets 2000] [--max-pods 4] [--time-factor 0.1]   (make scale)

Uploads: good tickets, malformed ones (each must end as a rejection record), every
`--duplicate-every`-th good ticket uploaded a second time (same key, same bytes: a second S3
event), and `--poison` messages that fail on every delivery (an S3 event naming a bucket that does
not exist): those, and only those, belong in the dead-letter queue at the end.

Time runs `--time-factor` times as fast as the manifest says (polling interval, cooldown,
stabilisation windows, policy periods, the HPA's sync period); `--max-pods` caps the replicas on
this machine and `--queue-length` (default: the manifest's, times the time factor, because it is a
throughput times a delay) sets the per-pod backlog. Writes build/reliability/scale.json.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tools.fleet import Fleet
from tools.journaled_worker import read_journal
from tools.keda import Autoscaler, Rules
from tools.rig import (
    TICKET_ENRICH,
    Rig,
    Upload,
    account,
    add_run_arguments,
    drive,
    machine_load,
    make_uploads,
    percentile,
    put,
    records,
)
from worker.resources import queue_depth


@dataclass(frozen=True)
class ScaleConfig:
    tickets: int = 2000
    bad_every: int = 25
    duplicate_every: int = 20
    duplicate_delay_s: tuple[float, float] = (2.0, 30.0)  # a duplicate goes up this long after its original
    poison: int = 2
    # The arrival curve: (seconds, share of the tickets) per phase, in real seconds.
    phases: tuple[tuple[float, float], ...] = ((20, 0.15), (8, 0.35), (35, 0.0), (60, 0.3), (6, 0.2))
    time_factor: float = 0.1
    max_pods: int = 4
    queue_length: int | None = None
    visibility_timeout: int = 10
    kill_fraction: float = 0.25  # share of scale-down removals done with SIGKILL instead of SIGTERM
    crash_every_s: float = 30.0  # mean seconds between crashes (SIGKILL) of a running pod; 0: none
    outage: tuple[float, float] = (80.0, 45.0)  # DynamoDB writes fail from .. for .. seconds; (0, 0): none
    threads: int = 1
    profile: str = "offline"
    seed: int = 1
    tick_s: float = 0.25
    sample_every_s: float = 2.0
    drain_timeout_s: float = 900.0


def plan_uploads(config: ScaleConfig, run: str, rng: random.Random) -> tuple[list[Upload], list[tuple[float, Upload]]]:
    """The tickets, and when each upload happens (seconds from the start): phase by phase, spread
    evenly; a duplicate goes up `duplicate_delay_s` after its original."""
    uploads = make_uploads(config.tickets, run, config.bad_every)
    schedule: list[tuple[float, Upload]] = []
    start, given = 0.0, 0
    for number, (seconds, share) in enumerate(config.phases):
        count = round(config.tickets * share) if number < len(config.phases) - 1 else len(uploads) - given
        for i in range(count):
            schedule.append((start + seconds * i / max(count, 1), uploads[given + i]))
        given += count
        start += seconds
    good = [(t, u) for t, u in schedule if u.ticket_id]
    for t, upload in good[config.duplicate_every - 1::config.duplicate_every] if config.duplicate_every else []:
        schedule.append((t + rng.uniform(*config.duplicate_delay_s), upload))
    return uploads, sorted(schedule, key=lambda pair: pair[0])


def poison_body(number: int) -> str:
    """An S3 event for a bucket that does not exist: fails on every delivery (not a rejection: a
    missing bucket is a fault to retry, not a property of the ticket)."""
    return json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                    "s3": {"bucket": {"name": "no-such-bucket-scale-run"},
                                           "object": {"key": f"poison-{number}.json"}}}]})


class Timeline:
    """Pods and backlog over time, sampled; record writes counted from the journal as it grows."""

    def __init__(self, journal: Path):
        self.journal, self.offset, self.records = journal, 0, 0
        self.samples: list[dict[str, Any]] = []

    def sample(self, t: float, autoscaler: Autoscaler, fleet: Fleet, depth: dict[str, int], dlq: int) -> None:
        if self.journal.exists():
            with open(self.journal, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
            complete = chunk[:chunk.rfind(b"\n") + 1]
            self.offset += len(complete)
            self.records += sum(1 for line in complete.splitlines()
                                if b'"dynamodb.PutItem"' in line and b'"ok": true' in line)
        self.samples.append({"t": round(t, 1), "desired": autoscaler.replicas, "running": len(fleet.running()),
                             "terminating": len(fleet.terminating()), **depth, "dlq": dlq, "records": self.records})


def run_scale(rig: Rig, artifacts: Path, config: ScaleConfig, workdir: Path,
              say: Callable[[str], None] = print) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(config.seed)
    manifest = Rules.from_manifest()
    rules = manifest.scaled(config.time_factor, max_replicas=config.max_pods,
                            queue_length=config.queue_length or max(1, round(manifest.queue_length * config.time_factor)))
    autoscaler = Autoscaler(rules)
    fleet = Fleet(rig, artifacts, workdir, rng, profile=config.profile, threads=config.threads,
                  kill_fraction=config.kill_fraction, crash_every_s=config.crash_every_s)
    timeline = Timeline(fleet.journal)
    uploads, schedule = plan_uploads(config, f"SC{config.seed}-{int(time.time()) % 100000}", rng)
    settings, sqs = rig.settings, rig.clients.sqs
    queue_url = sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
    uploaded: dict[str, float] = {}

    def upload_all() -> None:
        origin = time.monotonic()
        for number in range(config.poison):
            sqs.send_message(QueueUrl=queue_url, MessageBody=poison_body(number))
        for due, upload in schedule:
            time.sleep(max(0.0, due - (time.monotonic() - origin)))
            started = put(rig, upload)
            if upload.ticket_id:
                uploaded.setdefault(upload.ticket_id, started)

    load_before = machine_load()
    origin = time.monotonic()
    uploader = threading.Thread(target=upload_all, name="uploader", daemon=True)
    uploader.start()
    outage_from, outage_for = config.outage
    redrives: list[dict[str, Any]] = []
    next_sample, quiet_since = 0.0, None
    deadline = origin + sum(s for s, _ in config.phases) + config.drain_timeout_s
    say(f"KEDA rules (time x{config.time_factor}): {rules.describe()}")
    while True:
        now = time.monotonic() - origin
        if time.monotonic() > deadline:
            fleet.stop_all()
            raise RuntimeError(f"not drained within {config.drain_timeout_s:.0f} s; see {workdir}")
        in_outage = outage_for > 0 and outage_from <= now < outage_from + outage_for
        if in_outage != fleet.outage_flag.exists():
            fleet.outage_flag.touch() if in_outage else fleet.outage_flag.unlink()
            say(f"{now:6.1f} s  DynamoDB outage {'begins' if in_outage else 'ends'}")
        depth = queue_depth(sqs, settings.queue_name)
        desired = autoscaler.observe(now, depth["visible"], depth["in_flight"], depth["delayed"])
        fleet.reconcile(desired)
        fleet.maybe_crash(config.tick_s)
        if now >= next_sample:
            next_sample = now + config.sample_every_s
            dlq = sum(queue_depth(sqs, settings.dlq_name).values())
            timeline.sample(now, autoscaler, fleet, depth, dlq)
            s = timeline.samples[-1]
            say(f"{now:6.1f} s  pods {s['running']} (+{s['terminating']} stopping, KEDA wants {desired})  "
                f"queue {s['visible']} visible, {s['in_flight']} in flight, {s['delayed']} delayed  DLQ {dlq}  "
                f"records {s['records']}")
        drained = not any(depth.values()) and not uploader.is_alive() and not in_outage and now > outage_from + outage_for
        quiet_since = (quiet_since or now) if drained else None
        if quiet_since is not None and now - quiet_since > 2 * config.visibility_timeout:
            if redrives:
                break
            redrives.append(redrive(rig, fleet, say))
            quiet_since = None
        time.sleep(config.tick_s)
    fleet.stop_all()
    elapsed = time.monotonic() - origin
    summary = summarize(rig, uploads, uploaded, fleet, autoscaler, timeline, rules, config, redrives, elapsed,
                        load_before, origin)
    summary["account"]["uploaded_twice"] = len(schedule) - len(uploads)
    return summary


def redrive(rig: Rig, fleet: Fleet, say: Callable[[str], None]) -> dict[str, Any]:
    """`ticket-enrich aws redrive`, the operator's command, on the run's resources."""
    started = time.time()
    result = subprocess.run([TICKET_ENRICH, "aws", "redrive"], env=fleet.env, capture_output=True, text=True,
                            timeout=300)
    say(f"redrive: {result.stdout.strip()}")
    if result.returncode != 0:
        raise RuntimeError(f"ticket-enrich aws redrive failed ({result.returncode}): {result.stderr}")
    last = result.stdout.strip().splitlines()[-1]  # "moved N messages from ... to ... (how)"
    return {"moved": int(last.split()[1]), "output": result.stdout.strip().splitlines(),
            "at_s": round(started, 3)}


def summarize(rig: Rig, uploads: list[Upload], uploaded: dict[str, float], fleet: Fleet, autoscaler: Autoscaler,
              timeline: Timeline, rules: Rules, config: ScaleConfig, redrives: list[dict[str, Any]],
              elapsed: float, load_before: dict[str, Any], origin: float) -> dict[str, Any]:
    journal = read_journal(fleet.journal)
    ok_writes = Counter(line["key"] for line in journal if line["op"] == "dynamodb.PutItem" and line["ok"])
    documents = Counter(line["key"] for line in journal if line["op"] == "s3.PutObject" and line["ok"]
                        and not line["key"].startswith("rejected/"))
    codes = Counter(line.get("code") for line in journal if line["op"] in ("dynamodb.PutItem", "s3.PutObject")
                    and not line["ok"])
    found = records(rig.clients, rig.settings)
    result = account(rig, uploads, [key for key, count in ok_writes.items() if count > 1])
    recorded = {t: datetime.fromisoformat(item["enriched_at"]["S"].replace("Z", "+00:00")).timestamp()
                for t, item in found.items() if item["status"]["S"] == "enriched"}
    latencies = [recorded[t] - uploaded[t] for t in uploaded if t in recorded]
    receive_counts = Counter(int(item.get("receive_count", {}).get("N", "1")) for item in found.values()
                             if item["status"]["S"] == "enriched")
    pods = [pod.summary(origin) for pod in fleet.pods]
    if redrives:  # the queue was drained before the redrive: what was recorded after it came from the DLQ
        redrives[0]["good_tickets_recorded_after"] = sum(1 for at in recorded.values() if at >= redrives[0]["at_s"])
    dlq_poison = result.dlq_total - result.dlq_good
    checks = {
        "nothing lost": not result.lost, "no record written twice": not result.duplicated,
        "every good ticket has its document": not result.missing_objects,
        "each document written once": all(count == 1 for count in documents.values()),
        "no good ticket in the DLQ": result.dlq_good == 0,
        "the DLQ holds exactly the poison messages": result.dlq_total == config.poison,
        "the queue is drained": not any(result.queue.values()),
        "every SIGTERM drained with exit 0": not fleet.events["drain failed"] and not fleet.events["exited by itself"],
        "the redrive moved the dead letters back": bool(redrives) and redrives[0]["moved"] > 0,
        "pods were removed with SIGTERM and with SIGKILL": fleet.events["drained"] > 0 and (
            fleet.events["removed by SIGKILL"] + fleet.events["crashed (SIGKILL), replaced"]) > 0,
    }
    return {
        "config": asdict(config),
        "ok": all(checks.values()),
        "checks": checks,
        "account": result.to_dict(),
        "dlq_poison": dlq_poison,
        "keda": {"manifest": Rules.from_manifest().describe(), "simulated": rules.describe(),
                 "decisions": autoscaler.decisions},
        "pods": {"events": dict(fleet.events), "peak": max((s["running"] for s in timeline.samples), default=0),
                 "list": pods},
        "redeliveries": {
            "messages_received": sum(line["n"] for line in journal if line["op"] == "sqs.ReceiveMessage"),
            "messages_deleted": sum(line["n"] for line in journal if line["op"] == "sqs.DeleteMessageBatch"),
            "records_by_receive_count": {str(k): v for k, v in sorted(receive_counts.items())},
            "enrichment_runs_started": sum(line["n"] for line in journal if line["op"] == "enrich-start"),
            "record_writes": sum(ok_writes.values()),
            "record_conflicts": codes.get("ConditionalCheckFailedException", 0),
            "documents_written": sum(documents.values()),
            "document_conflicts": codes.get("PreconditionFailed", 0),
            "outage_failures": sum(1 for line in journal if line["op"] == "outage"),
        },
        "redrives": redrives,
        "latency_s": {"p50": round(percentile(latencies, 50), 2), "p99": round(percentile(latencies, 99), 2),
                      "max": round(max(latencies, default=0), 2)},
        "tickets_per_min": round(len(recorded) / elapsed * 60, 1),
        "timeline": timeline.samples,
        "elapsed_s": round(elapsed, 1),
        "machine": {"before": load_before, "after": machine_load()},
    }


def report(summary: dict[str, Any]) -> str:
    a, r, pods = summary["account"], summary["redeliveries"], summary["pods"]
    rows = summary["timeline"][::max(len(summary["timeline"]) // 24, 1)]
    lines = ["   t s  pods  KEDA  visible  in flight  DLQ  records"] + [
        f"{s['t']:6.0f}  {s['running']:>4}  {s['desired']:>4}  {s['visible']:>7}  {s['in_flight']:>9}  {s['dlq']:>3}  "
        f"{s['records']:>7}" for s in rows]
    lines += [
        f"tickets uploaded      {a['tickets']} ({a['good']} good, {a['malformed']} malformed), "
        f"{a['uploaded_twice']} uploaded twice, {summary['config']['poison']} poison messages",
        f"KEDA (simulated)      {summary['keda']['simulated']}",
        f"pods                  peak {pods['peak']}; " + ", ".join(f"{n} {k}" for k, n in pods["events"].items()),
        f"records               {a['records']} ({a['enriched']} enriched, {a['rejected']} rejected)",
        f"lost                  {a['lost']}",
        f"duplicated            {a['duplicated']} (record writes {r['record_writes']}; "
        f"{r['record_conflicts']} conditional puts found the record; documents written {r['documents_written']}, "
        f"{r['document_conflicts']} found their document there)",
        f"redeliveries          {r['messages_received']} messages received, {r['messages_deleted']} deleted; "
        f"records by receive count {r['records_by_receive_count']}; {r['enrichment_runs_started']} tickets handed "
        f"to the runtime; {r['outage_failures']} writes failed in the outage",
        "redrive               " + "; ".join(f"{d['output'][-1]}; {d.get('good_tickets_recorded_after', 0)} good "
                                             "tickets recorded after it" for d in summary["redrives"]),
        f"DLQ at the end        {a['dlq_total']} ({summary['dlq_poison']} poison, {a['dlq_good']} good tickets)",
        f"upload -> record      p50 {summary['latency_s']['p50']} s, p99 {summary['latency_s']['p99']} s; "
        f"{summary['tickets_per_min']} tickets/min over {summary['elapsed_s']} s",
        f"machine               load average {summary['machine']['before']['loadavg']} -> "
        f"{summary['machine']['after']['loadavg']} on {summary['machine']['before']['cpus']} CPUs",
    ]
    lines += [f"check                 {'ok  ' if ok else 'FAIL'} {name}" for name, ok in summary["checks"].items()]
    lines.append("RESULT                " + ("PASS: every ticket ended as exactly one record" if summary["ok"] else "FAIL"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    d = ScaleConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=d.tickets)
    parser.add_argument("--bad-every", type=int, default=d.bad_every)
    parser.add_argument("--duplicate-every", type=int, default=d.duplicate_every)
    parser.add_argument("--poison", type=int, default=d.poison)
    parser.add_argument("--time-factor", type=float, default=d.time_factor)
    parser.add_argument("--max-pods", type=int, default=d.max_pods)
    parser.add_argument("--queue-length", type=int, help="per-pod backlog target (default: the manifest's x time factor)")
    parser.add_argument("--visibility-timeout", type=int, default=d.visibility_timeout)
    parser.add_argument("--kill-fraction", type=float, default=d.kill_fraction)
    parser.add_argument("--crash-every", type=float, default=d.crash_every_s, help="mean seconds between pod crashes; 0: none")
    parser.add_argument("--outage", type=float, nargs=2, default=d.outage, metavar=("FROM", "FOR"))
    parser.add_argument("--threads", type=int, default=d.threads)
    parser.add_argument("--seed", type=int, default=d.seed)
    add_run_arguments(parser, "scale")
    args = parser.parse_args(argv)
    config = ScaleConfig(tickets=args.tickets, bad_every=args.bad_every, duplicate_every=args.duplicate_every,
                         poison=args.poison, time_factor=args.time_factor, max_pods=args.max_pods,
                         queue_length=args.queue_length, visibility_timeout=args.visibility_timeout,
                         kill_fraction=args.kill_fraction, crash_every_s=args.crash_every, outage=tuple(args.outage),
                         threads=args.threads, profile=args.profile, seed=args.seed)
    return drive(args, "scale", config.visibility_timeout,
                 lambda rig, artifacts, workdir: run_scale(rig, artifacts, config, workdir), report, argv)


if __name__ == "__main__":
    sys.exit(main())
