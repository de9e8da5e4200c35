"""Interleaved timing: every batch of the workload is run by every engine before the next batch,
in an order rotated batch by batch and round by round, so that a neighbour's burst of load on a
shared machine lands on all engines alike and the ratios between them stay honest even when
absolute times drift. (Interleaving whole passes, seconds to minutes each, did not: under another
engineer's benchmark the same ratios moved by up to 60% between two runs.)"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass, field

import numpy as np

from benchmarks.engines import Engine


@dataclass
class Samples:
    calls_s: list[float] = field(default_factory=list)  # one per call
    rounds_s: list[float] = field(default_factory=list)  # one pass over the workload per round
    items_per_round: int = 0

    def latency(self) -> dict[str, float]:
        """Per call, in ms (for batch-1 workloads: single-ticket latency)."""
        calls = np.asarray(self.calls_s) * 1000.0
        return {"p50_ms": float(np.percentile(calls, 50)), "p90_ms": float(np.percentile(calls, 90)),
                "mean_ms": float(calls.mean()), "calls": int(calls.size)}

    def throughput(self) -> dict[str, float]:
        """Tickets/s: the median over rounds of a whole pass's tickets over its time."""
        rates = [self.items_per_round / s for s in self.rounds_s]
        rate = float(np.median(rates))
        return {"tickets_per_s": rate, "ms_per_ticket": 1000.0 / rate, "tickets_per_min": 60.0 * rate,
                "rounds": [round(r, 3) for r in rates]}


def rotated(items: list, shift: int) -> list:
    shift %= max(len(items), 1)
    return items[shift:] + items[:shift]


def interleaved(engines: list[Engine], workload: list[list], rounds: int) -> dict[str, Samples]:
    """Time `engine.run(batch)` for every batch of `workload`, every engine, `rounds` times."""
    samples = {e.name: Samples(items_per_round=sum(len(b) for b in workload)) for e in engines}
    for engine in engines:  # warm-up: first-call allocations and lazy initialisation
        engine.run(workload[0])
    for index in range(rounds):
        gc.collect()
        spent = dict.fromkeys(samples, 0.0)
        for position, batch in enumerate(workload):
            for engine in rotated(engines, index + position):
                start = time.perf_counter()
                engine.run(batch)
                elapsed = time.perf_counter() - start
                samples[engine.name].calls_s.append(elapsed)
                spent[engine.name] += elapsed
        for name, seconds in spent.items():
            samples[name].rounds_s.append(seconds)
    return samples


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
