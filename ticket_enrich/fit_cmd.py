"""`ticket-enrich fit LABELLED.jsonl --artifacts DIR`: fit intent, urgency and/or sentiment heads
on a team's own labelled tickets (any label set), report how they do on tickets they did not see
(5-fold cross-validation: accuracy, macro-F1, per class, confusion matrix as text and PNG,
calibration), and put them in the artifacts, hashes in the manifest, for the runtime and the
worker to pick up at start-up. `--report-only` fits and reports without touching the artifacts.

Exit status: 0 fitted, 2 bad input or artifacts (the message says what to fix; nothing written).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ticket_enrich.team_fit import FitResult, LabelledHistory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("labelled", help="JSONL: one ticket per line with \"labels\": {intent?, urgency?, sentiment?}")
    parser.add_argument("--artifacts", default="artifacts", help="folder with manifest.json (default: artifacts)")
    parser.add_argument("--labels", default="intent,urgency,sentiment",
                        help="which label kinds to fit, comma-separated (default: every kind the file carries)")
    parser.add_argument("--report", help="folder for the report (default: beside the new heads in the artifacts)")
    parser.add_argument("--report-only", action="store_true", help="fit and report, but leave the artifacts as they are")


def _kinds(value: str) -> tuple[str, ...]:
    from ticket_enrich.team_fit import KINDS

    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"--labels {value!r}: unknown label kind {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(KINDS)}")
    return kinds


def write_report(folder: Path, result: FitResult, history: LabelledHistory) -> str:
    """fit-report.txt, fit-report.json and confusion-<kind>.png; returns the text."""
    from runtime.metrics import summary_text
    from ticket_enrich.png import confusion_png

    folder.mkdir(parents=True, exist_ok=True)
    sections = [f"ticket-enrich fit {history.path.name} (sha256 {history.sha256[:12]}…): {len(history.tickets)} tickets;"
                " figures are 5-fold cross-validated (each ticket scored by a head that did not see it)"]
    for kind, report in result.reports.items():
        sections.append(summary_text(report, kind))
        confusion_png(folder / f"confusion-{kind}.png", list(report.labels), report.confusion,
                      f"{kind}: accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f} (5-fold CV)")
    sections.extend(result.notes)
    text = "\n\n".join(sections) + "\n"
    (folder / "fit-report.txt").write_text(text, encoding="utf-8")
    payload = {"file": history.path.name, "sha256": history.sha256, "tickets": len(history.tickets),
               "reports": {kind: report.to_dict() for kind, report in result.reports.items()}, "notes": result.notes}
    (folder / "fit-report.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return text


def run(args: argparse.Namespace) -> int:
    import logging

    from runtime import Enricher, RuntimeArtifactError, RuntimeConfig
    from ticket_enrich.team_fit import FitInputError, fit_history, read_history, write_fit

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    root = Path(args.artifacts)
    try:
        history = read_history(Path(args.labelled), _kinds(args.labels))
        enricher = Enricher.from_artifacts(root, RuntimeConfig.from_env(profile="offline"))
    except (FitInputError, ValueError, RuntimeArtifactError) as exc:
        print(f"ticket-enrich fit: {exc}", file=sys.stderr)
        return 2
    print(f"fitting on {len(history.tickets)} tickets: "
          + ", ".join(f"{kind} ({len(history.classes(kind))} classes)" for kind in ("intent", "urgency", "sentiment")
                      if history.classes(kind)), file=sys.stderr)
    result = fit_history(enricher, history)
    if args.report_only:
        folder = Path(args.report or "fit-report")
    else:
        written = write_fit(root, enricher, history, result)
        folder = Path(args.report) if args.report else (root / next(iter(written.values())).path).parent / "report"
        for name, entry in written.items():
            print(f"  {name}: {entry.path} (sha256 {entry.sha256[:12]}…)", file=sys.stderr)
    print(write_report(folder, result, history))
    print(f"report: {folder}" + ("" if args.report_only else f"; the manifest in {root} now serves these heads "
                                 "(the previous one is kept as manifest.before-fit-*.json)"), file=sys.stderr)
    return 0
