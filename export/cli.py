"""`ticket-enrich export`: build verified, quantized ONNX artifacts (needs the `export` extra).

Light at import time; torch, transformers and optimum are imported inside `run`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from export.pipeline import ExportOptions

ENV_FOLDERS = {"sentiment": "TICKET_ENRICH_SENTIMENT_DIR", "summary": "TICKET_ENRICH_SUMMARY_DIR"}
ENV_CHECKPOINTS = "TICKET_ENRICH_CHECKPOINTS"
DEFAULT_CHECKPOINTS = Path("build/checkpoints")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path("artifacts"), help="artifacts folder (default: artifacts)"
    )
    parser.add_argument(
        "--profile",
        choices=("full", "offline"),
        help="full: MiniLM + DistilBERT + DistilBART (fails if one is unavailable); offline: MiniLM only. "
        "Default: full when every model has a source, else offline, announced.",
    )
    parser.add_argument(
        "--stand-ins",
        choices=("tiny", "full"),
        help="seeded random-weight checkpoints with the real architectures and tokenizers for the models "
        "without a local folder (never the Hub then); tiny is shrunk for tests",
    )
    parser.add_argument(
        "--sentiment-dir",
        type=Path,
        help=f"local DistilBERT SST-2 checkpoint (env {ENV_FOLDERS['sentiment']})",
    )
    parser.add_argument(
        "--summary-dir", type=Path, help=f"local DistilBART-CNN-6-6 checkpoint (env {ENV_FOLDERS['summary']})"
    )
    parser.add_argument(
        "--checkpoints",
        type=Path,
        help=f"stand-in checkpoint cache (env {ENV_CHECKPOINTS}, default {DEFAULT_CHECKPOINTS})",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an artifacts folder that holds a different export (an identical, intact one is kept)",
    )


def options_from(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> ExportOptions:
    """The one place the export reads its environment variables."""
    from export.pipeline import ExportOptions

    folders = {}
    for role, env in ENV_FOLDERS.items():
        value = getattr(args, f"{role}_dir") or environ.get(env)
        if value:
            folders[role] = Path(value)
    cache = args.checkpoints or Path(environ.get(ENV_CHECKPOINTS) or DEFAULT_CHECKPOINTS)
    return ExportOptions(
        out=args.out,
        profile=args.profile,
        stand_ins=args.stand_ins,
        folders=folders,
        cache_dir=cache,
        force=args.force,
    )


def quiet() -> None:
    """Optimum, torch's tracer and the ONNX quantizer warn a lot about things that do not apply
    here; the export prints its own progress and its parity figures instead."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run(args: argparse.Namespace) -> int:
    from export.errors import ExportError

    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[export {time.monotonic() - started:5.1f}s] {message}", flush=True)

    try:
        options = options_from(args)
        quiet()
        from export.pipeline import run_export

        state = run_export(options, log)
    except ExportError as exc:
        print(f"export failed: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("export interrupted; the artifacts folder was left as it was", file=sys.stderr)
        return 130
    if state == "current":
        log(f"{options.out} is up to date (same sources, settings and tools); nothing to do")
    else:
        log(f"wrote {options.out} (manifest.json verified)")
    return 0
