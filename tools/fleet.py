"""The Deployment of the scale-out run (tools/scale.py): worker processes as pods, kept at the
replica count KEDA asks for. Kubernetes removes the newest pods first on scale-down; here a
removal is a SIGTERM (the worker finishes its batch and exits 0) or, for a share of them, a
SIGKILL (a lost node); a pod that exits by itself is counted and replaced; `maybe_crash` kills a
running pod at random (it is replaced, like a crashed container)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.rig import Rig, log_lines, start_worker, worker_env
from worker.emulator import free_port


@dataclass
class Pod:
    number: int
    process: subprocess.Popen[bytes]
    log: Path
    started: float
    state: str = "running"  # running | terminating | gone
    end: str = ""  # drained (SIGTERM, exit 0) | removed by SIGKILL | crashed (SIGKILL) | exited N
    ended: float | None = None

    def summary(self, origin: float) -> dict[str, Any]:
        stopped = next((line for line in log_lines(self.log) if line.get("msg") == "worker stopped"), None)
        return {"pod": self.number, "pid": self.process.pid, "up_s": round((self.ended or time.monotonic()) - self.started, 1),
                "started_at_s": round(self.started - origin, 1), "end": self.end,
                "outcomes": stopped["outcomes"] if stopped else None, "log": self.log.name}


class Fleet:
    """The Deployment: keeps `desired` pods running, removes the newest first, replaces crashed ones."""

    def __init__(self, rig: Rig, artifacts: Path, workdir: Path, rng: random.Random, *, profile: str, threads: int,
                 kill_fraction: float, crash_every_s: float):
        self.workdir, self.rng = workdir, rng
        self.kill_fraction, self.crash_every_s = kill_fraction, crash_every_s
        self.journal = workdir / "journal.jsonl"
        self.outage_flag = workdir / "outage.flag"
        self.env = worker_env(rig.env, rig.settings, artifacts, TICKET_ENRICH_PROFILE=profile,
                              TICKET_ENRICH_THREADS=str(threads), TICKET_ENRICH_LOG_LEVEL="INFO")
        self.pods: list[Pod] = []
        self.events: Counter[str] = Counter()

    def running(self) -> list[Pod]:
        return [p for p in self.pods if p.state == "running"]

    def terminating(self) -> list[Pod]:
        return [p for p in self.pods if p.state == "terminating"]

    def start(self) -> Pod:
        number = len(self.pods) + 1
        log = self.workdir / f"pod-{number:03d}.log"
        # Each pod its own probe port, as each pod has its own network namespace in a cluster.
        env = {**self.env, "TICKET_ENRICH_HTTP_PORT": str(free_port())}
        command = [sys.executable, "-m", "tools.journaled_worker", "--journal", str(self.journal),
                   "--outage-flag", str(self.outage_flag), "--"]
        pod = Pod(number, start_worker(env, log, command), log, time.monotonic())
        self.pods.append(pod)
        self.events["started"] += 1
        return pod

    def reap(self) -> None:
        for pod in self.pods:
            if pod.state != "gone" and pod.process.poll() is not None:
                code = pod.process.returncode
                if pod.state == "running":  # exited on its own: a bug, counted (and replaced)
                    pod.end = f"exited {code} by itself"
                    self.events["exited by itself"] += 1
                elif not pod.end and code == -signal.SIGTERM and not self.ready(pod):
                    pod.end = "stopped during start-up (SIGTERM)"  # it held nothing yet
                    self.events[pod.end] += 1
                elif not pod.end:
                    pod.end = "drained (SIGTERM, exit 0)" if code == 0 else f"SIGTERM, then exit {code}"
                    self.events["drained" if code == 0 else "drain failed"] += 1
                pod.state, pod.ended = "gone", time.monotonic()

    @staticmethod
    def ready(pod: Pod) -> bool:
        return any(line.get("msg") == "worker ready" for line in log_lines(pod.log))

    def kill(self, pod: Pod, end: str) -> None:
        pod.process.send_signal(signal.SIGKILL)
        pod.process.wait()
        pod.state, pod.end, pod.ended = "gone", end, time.monotonic()
        self.events[end] += 1

    def reconcile(self, desired: int) -> None:
        self.reap()
        running = self.running()
        for _ in range(desired - len(running)):
            self.start()
        for pod in sorted(running, key=lambda p: p.started, reverse=True)[:max(len(running) - desired, 0)]:
            if self.rng.random() < self.kill_fraction:
                self.kill(pod, "removed by SIGKILL")
            else:
                pod.process.send_signal(signal.SIGTERM)
                pod.state = "terminating"

    def maybe_crash(self, tick_s: float) -> None:
        running = [p for p in self.running() if time.monotonic() - p.started > 2.0]
        if running and self.crash_every_s and self.rng.random() < tick_s / self.crash_every_s:
            self.kill(self.rng.choice(running), "crashed (SIGKILL), replaced")

    def stop_all(self, timeout_s: float = 120.0) -> None:
        for pod in self.running():
            pod.process.send_signal(signal.SIGTERM)
            pod.state = "terminating"
        deadline = time.monotonic() + timeout_s
        while self.terminating() and time.monotonic() < deadline:
            time.sleep(0.2)
            self.reap()
        for pod in self.terminating():
            self.kill(pod, "SIGTERM ignored, SIGKILL")
