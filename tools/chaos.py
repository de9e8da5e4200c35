"""Chaos: tickets are uploaded while a supervisor SIGKILLs the worker at random moments and
starts it again; then a last worker drains the queue, and every ticket must have ended as
exactly one record: none lost, none written twice, no good ticket in the dead-letter queue.

    python -m tools.chaos [--tickets 500] [--kills 10] [--artifacts DIR]   (make chaos)

The worker is `ticket-enrich worker`, run through journaled_worker.py so that its enrich calls
and its S3, DynamoDB and SQS calls are journaled: the journal counts the enrichment runs against
the records, which shows the redeliveries the kills caused. Writes a JSON summary
(--out) and exits 1 unless nothing was lost or duplicated.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tools.journaled_worker import read_journal
from tools.rig import (
    Rig,
    account,
    add_run_arguments,
    drive,
    log_lines,
    machine_load,
    make_uploads,
    put,
    start_worker,
    wait_logged_ready,
    worker_env,
)


@dataclass(frozen=True)
class ChaosConfig:
    tickets: int = 500
    kills: int = 10
    bad_every: int = 25  # every 25th upload is a malformed ticket (it must end as a rejection)
    min_up_s: float = 1.0  # each worker lives a random time in [min_up_s, max_up_s] before its SIGKILL
    max_up_s: float = 15.0
    from_ready: bool = False  # count the lifetime from "worker ready" instead of from the process start
    mid_batch: bool = False  # once the lifetime is up, hold the SIGKILL until the worker has a batch in hand
    upload_seconds: float = 60.0  # the uploads are spread over this long, in waves
    wave: int = 25
    visibility_timeout: int = 10
    drain_timeout_s: float = 900.0
    seed: int = 1
    profile: str = "offline"


@dataclass
class Kill:
    number: int
    lived_s: float
    phase: str  # start-up | polling | in batch, before writes | in batch, mid-writes


def phase_at_kill(pid: int, journal: list[dict[str, Any]], log: Path) -> str:
    if not any(line.get("msg") == "worker ready" for line in log_lines(log)):
        return "start-up"
    mine = [line for line in journal if line["pid"] == pid]
    received = [i for i, line in enumerate(mine) if line["op"] == "sqs.ReceiveMessage" and line["n"] > 0]
    if not received:
        return "polling"
    after = mine[received[-1] + 1:]
    if any(line["op"] == "sqs.DeleteMessageBatch" for line in after):
        return "polling"
    return "in batch, mid-writes" if any(line["op"] in ("s3.PutObject", "dynamodb.PutItem") for line in after) \
        else "in batch, before writes"


def wait_for_batch(process: subprocess.Popen, supervisor: Supervisor, log: Path, limit_s: float = 20.0) -> None:
    """Return once the worker holds received messages it has not deleted (or after limit_s)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and process.poll() is None:
        if phase_at_kill(process.pid, read_journal(supervisor.journal), log).startswith("in batch"):
            return
        time.sleep(0.02)


class Supervisor:
    def __init__(self, rig: Rig, artifacts: Path, config: ChaosConfig, workdir: Path):
        self.rig, self.config, self.workdir = rig, config, workdir
        self.journal = workdir / "journal.jsonl"
        self.env = worker_env(rig.env, rig.settings, artifacts, TICKET_ENRICH_PROFILE=config.profile,
                              TICKET_ENRICH_LOG_LEVEL="INFO", TICKET_ENRICH_HTTP_PORT="0")
        self.starts = 0

    def start(self, *flags: str) -> tuple[subprocess.Popen, Path]:
        self.starts += 1
        log = self.workdir / f"worker-{self.starts:03d}.log"
        command = [sys.executable, "-m", "tools.journaled_worker", "--journal", str(self.journal), "--", *flags]
        return start_worker(self.env, log, command), log


def run_chaos(rig: Rig, artifacts: Path, config: ChaosConfig, workdir: Path,
              say: Callable[[str], None] = print) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(config.seed)
    uploads = make_uploads(config.tickets, f"CH{config.seed}-{int(time.time()) % 100000}", config.bad_every)
    waves = [uploads[i:i + config.wave] for i in range(0, len(uploads), config.wave)]
    pause = config.upload_seconds / max(len(waves) - 1, 1)

    def upload_all() -> None:
        for number, wave in enumerate(waves):
            for item in wave:
                put(rig, item)
            if number < len(waves) - 1:
                time.sleep(pause)

    started = time.monotonic()
    load_before = machine_load()
    uploader = threading.Thread(target=upload_all, name="uploader", daemon=True)
    uploader.start()
    supervisor = Supervisor(rig, artifacts, config, workdir)
    kills: list[Kill] = []
    early_exits: list[dict[str, Any]] = []
    while len(kills) < config.kills or uploader.is_alive():
        process, log = supervisor.start()
        began = time.monotonic()
        if config.from_ready:
            wait_logged_ready(process, log)
        lifetime = rng.uniform(config.min_up_s, config.max_up_s)
        try:
            process.wait(timeout=max(lifetime - (time.monotonic() - began), 0) if not config.from_ready else lifetime)
            early_exits.append({"code": process.returncode, "log": log.name})
            say(f"worker exited by itself with code {process.returncode}; see {log}")
            if len(early_exits) > 3:
                raise RuntimeError(f"the worker keeps exiting by itself; see {log}")
            continue
        except subprocess.TimeoutExpired:
            pass
        if config.mid_batch:
            wait_for_batch(process, supervisor, log)
        process.send_signal(signal.SIGKILL)
        process.wait()
        kill = Kill(len(kills) + 1, round(time.monotonic() - began, 2),
                    phase_at_kill(process.pid, read_journal(supervisor.journal), log))
        kills.append(kill)
        say(f"kill {kill.number:2d}: SIGKILL after {kill.lived_s:5.1f} s ({kill.phase})")
    uploader.join()
    say(f"all {len(uploads)} tickets uploaded; {len(kills)} kills; a last worker drains the queue")
    process, log = supervisor.start("--until-empty")
    try:
        code = process.wait(timeout=config.drain_timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        raise RuntimeError(f"the last worker did not drain the queue within {config.drain_timeout_s:.0f} s; see {log}") from None
    if code != 0:
        raise RuntimeError(f"the last worker exited with code {code}; see {log}")
    elapsed = time.monotonic() - started
    return summarize(rig, uploads, kills, early_exits, supervisor, config, elapsed, load_before)


def summarize(rig: Rig, uploads, kills: list[Kill], early_exits, supervisor: Supervisor, config: ChaosConfig,
              elapsed: float, load_before: dict[str, Any]) -> dict[str, Any]:
    journal = read_journal(supervisor.journal)
    started = Counter(key for line in journal if line["op"] == "enrich-start" for key in line["keys"])
    runs = Counter(key for line in journal if line["op"] == "enrich" for key in line["keys"])
    documents = Counter(line["key"] for line in journal
                        if line["op"] == "s3.PutObject" and line["ok"] and not line["key"].startswith("rejected/"))
    record_writes = Counter(line["key"] for line in journal if line["op"] == "dynamodb.PutItem" and line["ok"])
    conflicts = sum(1 for line in journal if line["op"] == "dynamodb.PutItem"
                    and line.get("code") == "ConditionalCheckFailedException")
    written_twice = [key for key, count in record_writes.items() if count > 1]
    result = account(rig, uploads, written_twice)
    return {
        "config": asdict(config),
        "ok": result.ok and len(kills) >= config.kills,
        "account": result.to_dict(),
        "kills": len(kills),
        "kill_phases": dict(Counter(k.phase for k in kills)),
        "kill_log": [asdict(k) for k in kills],
        "worker_starts": supervisor.starts,
        "early_exits": early_exits,
        "enrichment_runs_started": sum(started.values()),  # tickets handed to the runtime, redeliveries included
        "enrichment_runs": sum(runs.values()),  # tickets through a completed enrich call
        "tickets_enriched_more_than_once": sum(1 for count in started.values() if count > 1),
        "documents_written": sum(documents.values()),
        "record_writes": sum(record_writes.values()),
        "conditional_put_conflicts": conflicts,
        "messages_received": sum(line["n"] for line in journal if line["op"] == "sqs.ReceiveMessage"),
        "messages_deleted": sum(line["n"] for line in journal if line["op"] == "sqs.DeleteMessageBatch"),
        "elapsed_s": round(elapsed, 1),
        "machine": {"before": load_before, "after": machine_load()},
    }


def report(summary: dict[str, Any]) -> str:
    a = summary["account"]
    lines = [
        f"tickets uploaded      {a['tickets']} ({a['good']} good, {a['malformed']} malformed)",
        f"SIGKILLs              {summary['kills']} ({', '.join(f'{n} {p}' for p, n in summary['kill_phases'].items())}); "
        f"worker starts {summary['worker_starts']}",
        f"records               {a['records']} ({a['enriched']} enriched, {a['rejected']} rejected)",
        f"lost                  {a['lost']}",
        f"duplicated            {a['duplicated']}",
        f"DLQ                   {a['dlq_total']} messages, {a['dlq_good']} of them good tickets",
        f"enrichment runs       {summary['enrichment_runs_started']} started, {summary['enrichment_runs']} completed, "
        f"for {a['enriched']} enriched records ({summary['tickets_enriched_more_than_once']} tickets handed to the "
        f"runtime more than once); {summary['documents_written']} documents written",
        f"redelivered           {a['redelivered']} records came from a message received more than once; "
        f"{summary['conditional_put_conflicts']} conditional puts found the record already there",
        f"messages              {summary['messages_received']} received, {summary['messages_deleted']} deleted",
        f"queue at the end      {a['queue']}",
        f"elapsed               {summary['elapsed_s']} s; load average before {summary['machine']['before']['loadavg']}, "
        f"after {summary['machine']['after']['loadavg']} on {summary['machine']['before']['cpus']} CPUs",
        "RESULT                " + ("PASS: every ticket ended as exactly one record" if summary["ok"] else "FAIL"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    defaults = ChaosConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=defaults.tickets)
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--bad-every", type=int, default=defaults.bad_every)
    parser.add_argument("--min-up", type=float, default=defaults.min_up_s, help="shortest worker lifetime, seconds")
    parser.add_argument("--max-up", type=float, default=defaults.max_up_s, help="longest worker lifetime, seconds")
    parser.add_argument("--upload-seconds", type=float, default=defaults.upload_seconds)
    parser.add_argument("--visibility-timeout", type=int, default=defaults.visibility_timeout)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    add_run_arguments(parser, "chaos")
    args = parser.parse_args(argv)
    config = ChaosConfig(tickets=args.tickets, kills=args.kills, bad_every=args.bad_every, min_up_s=args.min_up,
                         max_up_s=args.max_up, upload_seconds=args.upload_seconds,
                         visibility_timeout=args.visibility_timeout, seed=args.seed, profile=args.profile)
    return drive(args, "chaos", config.visibility_timeout,
                 lambda rig, artifacts, workdir: run_chaos(rig, artifacts, config, workdir), report, argv)


if __name__ == "__main__":
    sys.exit(main())
