"""docs/performance.png from the results JSON, one command:

    python -m benchmarks.chart [--results benchmarks/results/latest.json] [--out docs/performance.png]

Eight panels: tickets/s per stage (batch 8), end to end tickets/min at the runtime's default
settings and with equal work (30 greedy tokens, batch 10), the worker itself through the
emulator, cold start and peak RSS; PyTorch grey, ours blue, peers orange; dashed lines are the
targets (issues 7 and 15).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.results import ordered
from benchmarks.settings import REPO

COLOURS = {"reference": "#8c8c8c", "ours": "#1f77b4", "peer": "#ff7f0e"}


def batch_size(section: dict | None) -> str:
    sizes = {k[1:] for row in (section or {}).get("engines", {}).values() for k in row
             if k.startswith("b") and k[1:].isdigit() and k != "b1"}
    return ", batch " + "/".join(sorted(sizes)) if sizes else ""


def batched(row: dict, scale: float = 1.0) -> float | None:
    modes = [k for k in row if k.startswith("b") and k != "b1" and isinstance(row[k], dict)]
    return row[modes[0]]["tickets_per_s"] * scale if modes else None


def bars(ax, section: dict | None, value, title: str, unit: str, target: float | None = None,
         lower_is_better: bool = False) -> None:
    ax.set_title(title, fontsize=10)
    if not section:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    rows = [(name, row, value(row)) for name, row in ordered(section["engines"])]
    rows = [(n, r, v) for n, r, v in rows if v is not None]
    names = [n for n, _, _ in rows]
    values = [v for _, _, v in rows]
    positions = range(len(rows))
    ax.barh(positions, values, color=[COLOURS.get(r.get("family"), "#333333") for _, r, _ in rows])
    ax.set_yticks(list(positions), names, fontsize=8)
    ax.set_ylim(len(rows) - 0.4, -1.3)  # first engine on top, room above it for the target's label
    ax.set_xlabel(unit + (" (lower is better)" if lower_is_better else ""), fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    for position, number in zip(positions, values, strict=True):
        ax.text(number, position, f" {number:,.1f}" if number < 100 else f" {number:,.0f}", va="center", fontsize=7)
    if target is not None:
        ax.axvline(target, color="#d62728", linestyle="--", linewidth=1)
        ax.text(target, -0.95, f" target {target:g}", color="#d62728", fontsize=7, ha="left")
    ax.set_xlim(0, max(values + ([target] if target else [])) * 1.25)


def draw(sections: dict, out: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(21, 9.5))
    get = sections.get
    bars(axes[0][0], get("embed"), batched, "Embeddings (MiniLM)" + batch_size(get("embed")), "tickets/s")
    bars(axes[0][1], get("sentiment"), batched, "Sentiment (DistilBERT)" + batch_size(get("sentiment")), "tickets/s")
    bars(axes[0][2], get("summary"), batched, "Summary, greedy 30 tokens" + batch_size(get("summary")), "tickets/s",
         target=25.0)  # <= 40 ms a ticket
    bars(axes[0][3], get("end_to_end_default"), lambda r: batched(r, 60.0),
         "End to end, the runtime's defaults" + batch_size(get("end_to_end_default")), "tickets/min", target=1000.0)
    bars(axes[1][0], get("end_to_end"), lambda r: batched(r, 60.0),
         "End to end, equal work (30 greedy tokens)" + batch_size(get("end_to_end")), "tickets/min")
    bars(axes[1][1], get("worker"), lambda r: r.get("tickets_per_min"),
         "The worker through the emulator, defaults", "tickets/min", target=1000.0)
    bars(axes[1][2], sections.get("process"), lambda r: r.get("cold_start_s"),
         "Cold start: process start to first enriched ticket", "s", target=1.0, lower_is_better=True)
    bars(axes[1][3], sections.get("process"), lambda r: r.get("peak_rss_mb"),
         "Peak RSS, three models, after a batch of 10", "MB", target=500.0, lower_is_better=True)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    from benchmarks.results import load

    parser = argparse.ArgumentParser(description="Draw the benchmark chart from the results JSON.")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "latest.json")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "performance.png")
    args = parser.parse_args(argv)
    if not args.results.is_file():
        print(f"no results at {args.results}: run `make bench` first", file=sys.stderr)
        return 2
    data = load(args.results)
    machine = data.get("machine", {})
    title = (f"ticket-enrichment vs PyTorch eager and peers — {machine.get('cpu', '?')}, "
             f"{data.get('settings', {}).get('threads', '?')} threads, {data.get('written_at', '')[:10]}")
    print(draw(data["sections"], args.out, title))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
