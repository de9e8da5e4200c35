"""Regression gate: our ratios to PyTorch (measured in the same run) against the committed baseline.

    python -m benchmarks.check                      # exit 1 if a ratio fell by more than 15%
    python -m benchmarks.check --update-baseline    # accept the latest results as the baseline

Only our engines are gated (a peer getting slower is not our regression), on the metrics that
matter and are stable enough to gate: single-ticket p50, batched tickets/s, cold start, peak RSS
and artifact bytes. A metric present in only one of the files is listed, not failed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.results import load
from benchmarks.settings import REPO

RESULTS = REPO / "benchmarks" / "results"
GATED = ("b1.p50_ms", "cold_start_s", "peak_rss_mb", "artifact_bytes")
GATED_SUFFIX = ".tickets_per_s"  # batched throughput, whatever the batch size
# The end-to-end sections: equal work with the peers (30 greedy tokens) and the runtime's defaults
# (the `ticket` preset, every summary to its full budget). Gated once the baseline has them; a
# baseline section the latest results lack fails (re-measure it) instead of passing unseen.
END_TO_END = ("end_to_end", "end_to_end_default")
BUSY_ABOVE = 3.0  # load average; the run itself puts ~2 on a 2-core machine
TOLERANCE = 0.15


@dataclass(frozen=True)
class Comparison:
    section: str
    engine: str
    metric: str
    baseline: float
    latest: float

    @property
    def change(self) -> float:
        return self.latest / self.baseline - 1.0

    def regressed(self, tolerance: float) -> bool:
        return self.latest < self.baseline * (1.0 - tolerance)


def gated(metric: str) -> bool:
    return metric in GATED or metric.endswith(GATED_SUFFIX)


def gated_ratios(data: dict) -> dict[tuple[str, str, str], float]:
    out = {}
    for section_name, section in data.get("sections", {}).items():
        for engine, ratios in section.get("ratios", {}).items():
            if section.get("engines", {}).get(engine, {}).get("family") != "ours":
                continue
            for metric, value in ratios.items():
                if gated(metric):
                    out[(section_name, engine, metric)] = value
    return out


def busy_sections(data: dict) -> list[str]:
    """Sections measured while something else was running too (their ratios are less reliable)."""
    out = []
    for name, section in data.get("sections", {}).items():
        load = section.get("load_avg", {})
        if max([*load.get("before", [0])[:1], *load.get("after", [0])[:1]]) > BUSY_ABOVE:
            out.append(name)
    return out


def compare(baseline: dict, latest: dict) -> tuple[list[Comparison], list[tuple[str, str, str]]]:
    base, new = gated_ratios(baseline), gated_ratios(latest)
    both = [Comparison(*key, base[key], new[key]) for key in sorted(base) if key in new]
    unmatched = sorted(set(base) ^ set(new))
    return both, unmatched


def unmeasured(baseline: dict, latest: dict) -> list[str]:
    """The end-to-end sections the baseline gates that the latest results do not have."""
    return [name for name in END_TO_END if name in baseline.get("sections", {}) and name not in latest.get("sections", {})]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fail when a ratio to PyTorch regressed against the baseline.")
    parser.add_argument("--baseline", type=Path, default=RESULTS / "baseline.json")
    parser.add_argument("--latest", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, help="allowed fall of a ratio (0.15 = 15%%)")
    parser.add_argument("--update-baseline", action="store_true", help="copy the latest results over the baseline")
    args = parser.parse_args(argv)
    if not args.latest.is_file():
        print(f"no results at {args.latest}: run `make bench` first", file=sys.stderr)
        return 2
    if args.update_baseline:
        load(args.latest)  # refuse a file of another schema
        shutil.copyfile(args.latest, args.baseline)
        print(f"baseline updated from {args.latest}")
        return 0
    if not args.baseline.is_file():
        print(f"no baseline at {args.baseline}: run `python -m benchmarks.check --update-baseline`", file=sys.stderr)
        return 2
    baseline, latest = load(args.baseline), load(args.latest)
    comparisons, unmatched = compare(baseline, latest)
    for label, data in (("baseline", baseline), ("latest", latest)):
        busy = busy_sections(data)
        if busy:
            print(f"warning: the {label} results were measured on a busy machine (load average above "
                  f"{BUSY_ABOVE:g}) in: {', '.join(busy)}; re-measure on a quiet one before trusting a failure",
                  file=sys.stderr)
    failures = [c for c in comparisons if c.regressed(args.tolerance)]
    missing = unmeasured(baseline, latest)
    for section in missing:
        print(f"{section}: in the baseline, not in the latest results (run `make bench PYTEST_FLAGS=\"-k {section}\"`)",
              file=sys.stderr)
    for section in END_TO_END:
        if section not in baseline.get("sections", {}):
            print(f"{section}: not in the baseline yet, so not gated (after a quiet run: --update-baseline)",
                  file=sys.stderr)
    print(f"{'section':<13} {'engine':<20} {'metric':<22} {'baseline':>9} {'latest':>9} {'change':>8}")
    for c in comparisons:
        flag = "  REGRESSED" if c in failures else ""
        print(f"{c.section:<13} {c.engine:<20} {c.metric:<22} {c.baseline:>8.2f}× {c.latest:>8.2f}× {c.change:>+7.1%}{flag}")
    for section, engine, metric in unmatched:
        print(f"{section:<13} {engine:<20} {metric:<22} only in one of the files (not compared)")
    if not comparisons:
        print("nothing to compare: the baseline and the latest results share no gated ratio", file=sys.stderr)
        return 2
    if missing:
        return 1
    if failures:
        print(f"\n{len(failures)} ratio(s) to PyTorch fell by more than {args.tolerance:.0%} against the baseline",
              file=sys.stderr)
        return 1
    print(f"\nno ratio fell by more than {args.tolerance:.0%} ({len(comparisons)} compared)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
