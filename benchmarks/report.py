"""Tables from the results JSON (markdown, so they paste into docs/PERFORMANCE.md as they are).

    python -m benchmarks.report [--results benchmarks/results/latest.json] [section ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from benchmarks.results import ordered
from benchmarks.settings import REPO

TITLES = {
    "embed": "Embeddings (MiniLM)",
    "sentiment": "Sentiment (DistilBERT)",
    "summary": "Summary, greedy, exactly 30 new tokens (DistilBART)",
    "summary_beam": "Summary, beam search, exactly 30 new tokens",
    "end_to_end": "End to end, full profile, equal work (greedy, exactly 30 new tokens)",
    "end_to_end_default": "End to end, the runtime's default settings (summaries to the full token budget)",
    "worker": "The worker through the emulator (moto server over HTTP), default settings",
    "process": "Cold start and memory (fresh process per run)",
    "artifacts": "Artifact bytes",
    "limits": "Limits: work per ticket and what this machine can do",
}


def number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def check_text(check: dict[str, Any] | None) -> str:
    if not check:
        return ""
    mark = "" if check.get("ok") else "FAILED " if check.get("gated", True) else "below gate: "
    if "cosine_min" in check:
        return f"{mark}cos min {check['cosine_min']:.4f}"
    if "max_abs_diff" in check:
        return f"{mark}Δp {check['max_abs_diff']:.3f}, argmax {check['argmax_agreement']:.2f}"
    if "new_tokens" in check:
        return f"{mark}{'/'.join(map(str, check['new_tokens']))} tok, agree {check['token_agreement']:.2f}"
    return mark


def batch_mode(engines: dict[str, Any]) -> str | None:
    modes = {k for row in engines.values() for k in row if k.startswith("b") and k[1:].isdigit() and k != "b1"}
    return min(modes, key=lambda m: int(m[1:])) if modes else None


def stage_table(section: dict[str, Any]) -> str:
    engines, ratios = section["engines"], section.get("ratios", {})
    mode = batch_mode(engines)
    size = mode[1:] if mode else "?"
    header = ["engine", "load s", "p50 ms (1 ticket)", "p90 ms", f"tickets/s (batch {size})",
              f"ms/ticket (batch {size})", "× PyTorch p50", "× PyTorch t/s", "check"]
    rows = []
    for name, row in ordered(engines):
        b1, bn, ratio = row.get("b1", {}), row.get(mode, {}) if mode else {}, ratios.get(name, {})
        rows.append([f"{name}", number(row.get("load_s"), 2), number(b1.get("p50_ms")), number(b1.get("p90_ms")),
                     number(bn.get("tickets_per_s")), number(bn.get("ms_per_ticket")),
                     "1.00×" if name == section.get("reference") else times(ratio.get("b1.p50_ms")),
                     "1.00×" if name == section.get("reference") else times(ratio.get(f"{mode}.tickets_per_s")),
                     check_text(row.get("check"))])
    return table(header, rows)


def process_table(section: dict[str, Any]) -> str:
    header = ["engine", "cold start s", "imports s", "load s", "first ticket s", "peak RSS MB (1st ticket)",
              "peak RSS MB (batch 10)", "× PyTorch cold start", "× PyTorch RSS"]
    rows = []
    for name, row in ordered(section["engines"]):
        ratio = section.get("ratios", {}).get(name, {})
        rows.append([name, number(row.get("cold_start_s"), 2), number(row.get("phases", {}).get("import_s"), 2),
                     number(row.get("phases", {}).get("load_s"), 2), number(row.get("phases", {}).get("first_s"), 2),
                     number(row.get("first_rss_mb"), 0), number(row.get("peak_rss_mb"), 0),
                     times(ratio.get("cold_start_s")) if name != section.get("reference") else "1.00×",
                     times(ratio.get("peak_rss_mb")) if name != section.get("reference") else "1.00×"])
    return table(header, rows)


def artifacts_table(section: dict[str, Any]) -> str:
    header = ["engine", "embedding MB", "sentiment MB", "summary MB", "three models MB", "× PyTorch (smaller)"]
    rows = []
    for name, row in ordered(section["engines"]):
        ratio = section.get("ratios", {}).get(name, {})
        per = row.get("per_model_bytes", {})
        rows.append([name] + [number(per.get(r, 0) / 1e6, 1) for r in ("embedding", "sentiment", "summary")]
                    + [number(row["artifact_bytes"] / 1e6, 1),
                       "1.00×" if name == section.get("reference") else times(ratio.get("artifact_bytes"))])
    return table(header, rows)


def limits_table(section: dict[str, Any]) -> str:
    header = ["stage", "GMAC/ticket", "MB moved/ticket", f"measured ms/ticket ({section.get('engine', 'ours')})",
              "MAC floor ms", "bytes floor ms", "share of the floor reached"]
    rows = []
    stages = section.get("stages", {})
    for name in [n for n in ("embed", "sentiment", "summary", "end_to_end") if n in stages]:
        row = stages[name]
        rows.append([name, number(row.get("gmac_per_ticket"), 2), number(row.get("weight_mb_per_ticket"), 0),
                     number(row.get("measured_ms")), number(row.get("mac_bound_ms")), number(row.get("bytes_bound_ms")),
                     number(row.get("efficiency"), 2)])
    rates = section.get("machine", {})
    lines = [table(header, rows), "",
             "Measured on this machine (onnxruntime, same threads): " + ", ".join(
                 f"{k} {number(v, 1)}" for k, v in rates.items())]
    return "\n".join(lines)


def worker_table(section: dict[str, Any]) -> str:
    header = ["engine", "tickets", "start s (spawn to ready)", "drain s", "tickets/min", "AWS I/O share",
              "stage seconds"]
    rows = []
    for name, row in ordered(section["engines"]):
        stages = ", ".join(f"{k} {v:.1f}" for k, v in row.get("stage_seconds", {}).items())
        share = row.get("aws_io_share")
        rows.append([name, str(row.get("tickets")), number(row.get("start_s"), 2), number(row.get("drain_s"), 1),
                     number(row.get("tickets_per_min")), "—" if share is None else f"{share:.1%}", stages])
    return table(header, rows)


def render_section(name: str, section: dict[str, Any]) -> str:
    title = TITLES.get(name, name)
    meta = f"measured {section.get('measured_at', '?')}"
    if "load_avg" in section:
        meta += f", load average before/after {section['load_avg']['before'][0]}/{section['load_avg']['after'][0]}"
    if "rounds" in section:
        meta += f", {section['rounds']} interleaved rounds"
    if name == "process":
        body = process_table(section)
    elif name == "artifacts":
        body = artifacts_table(section)
    elif name == "limits":
        body = limits_table(section)
    elif name == "worker":
        body = worker_table(section)
    else:
        body = stage_table(section)
    return f"### {title}\n_{meta}_\n\n{body}\n"


ORDER = ("embed", "sentiment", "summary", "summary_beam", "end_to_end_default", "end_to_end", "worker", "process",
         "artifacts", "limits")


def render_sections(sections: dict[str, Any], only: list[str] | None = None) -> str:
    names = [n for n in ORDER if n in sections] + [n for n in sections if n not in ORDER]
    return "\n".join(render_section(n, sections[n]) for n in names if not only or n in only)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.results import load

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "latest.json")
    parser.add_argument("sections", nargs="*", help=f"any of {', '.join(ORDER)} (default: all)")
    args = parser.parse_args(argv)
    if not args.results.is_file():
        print(f"no results at {args.results}: run `make bench` first", file=sys.stderr)
        return 2
    print(render_sections(load(args.results)["sections"], args.sections))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
