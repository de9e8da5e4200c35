"""Dispatch `ticket-enrich <subcommand>` to the package that owns it."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# subcommand -> module with `add_arguments(parser)` and `run(args) -> int`, plus one line of help.
# The modules are light at import time; each imports what it needs inside `run`.
SUBCOMMANDS = {
    "export": ("export.cli", "build verified, quantized ONNX artifacts (needs the `export` extra)"),
    "parity": ("export.recheck", "check artifacts again against the checkpoints they were exported from "
               "(needs the `export` extra)"),
    "enrich": ("ticket_enrich.enrich_cmd", "enrich tickets from a JSONL file, one enriched JSON per line"),
    "accuracy": ("ticket_enrich.accuracy_cmd", "score the hand-labelled tickets with the given artifacts and profile"),
    "worker": ("worker.cli", "poll SQS, enrich, write DynamoDB + S3"),
    "aws": ("worker.aws_cli", "create, seed, inspect (status, show) and empty the queue, buckets and table"),
    "fit": ("ticket_enrich.fit_cmd", "fit intent/urgency/sentiment heads on your own labelled tickets"),
}
# The heads' cross-validation is many small dense solves, which OpenBLAS's thread pool makes slower,
# not faster, when the CPUs are shared (measured: the export's head fitting 91 s -> 4 s on 2 busy
# cores). Set before numpy is first imported; an explicit OPENBLAS_NUM_THREADS wins.
SINGLE_THREADED_BLAS = ("export", "fit")


DESCRIPTION = """\
Enrich customer-support tickets on a CPU: for each ticket a 384-d embedding (MiniLM), sentiment,
intent (9 classes), urgency (4 levels, with the signals that set it) and a short summary, from
int8 ONNX models checked against PyTorch. Export the models once (export), enrich a JSONL file
(enrich), or run the SQS worker that writes DynamoDB + S3 (worker, aws)."""

EPILOG = """\
start here: `make run` exports the models, starts a local AWS emulator and enriches the sample
tickets; `ticket-enrich COMMAND --help` describes each command."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticket-enrich", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # a package whose extra is not installed
            sub.set_defaults(_unavailable=f"`ticket-enrich {name}` is unavailable here: {exc}")
            continue
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in SINGLE_THREADED_BLAS:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if getattr(args, "_unavailable", None):
        print(args._unavailable, file=sys.stderr)
        return 2
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
