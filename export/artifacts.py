"""The artifacts folder: layout, byte-identical variants stored once, the up-to-date check and
an all-or-nothing replace.

Layout: <role>/tokenizer.json and <role>/<variant>/<name>.onnx, manifest.json at the top. An
export is built in a sibling staging folder and swapped in only when every parity check passed,
so a failed export leaves the previous artifacts untouched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from export.errors import ExportError
from export.optimize import DATA_SUFFIX
from runtime.errors import RuntimeArtifactError
from runtime.manifest import (
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    Variant,
    file_entry,
    load_manifest,
    verify_files,
)


def describe_inputs(profile: str, models: dict[str, dict[str, Any]], tools: dict[str, str]) -> dict[str, Any]:
    """What makes two exports the same: inputs and settings, not timestamps or parity figures.
    `models` maps role -> name, task, source, settings, labels, generation and, per variant,
    its quantization."""
    return {"profile": profile, "tools": dict(tools), "models": models}


def model_inputs(entry: Mapping[str, Any], variants: Mapping[str, dict[str, Any] | None]) -> dict[str, Any]:
    return {
        "name": entry["name"],
        "task": entry["task"],
        "source": entry["source"],
        "settings": entry["settings"],
        "labels": list(entry["labels"]),
        "generation": entry["generation"],
        "variants": variants,
    }


def inputs_of_manifest(manifest: Manifest) -> dict[str, Any]:
    models = {}
    for role, model in manifest.models.items():
        raw = asdict(model)
        models[role] = model_inputs(raw, {name: var.quantization for name, var in model.variants.items()})
    return describe_inputs(manifest.profile, models, manifest.tools)


MAX_SHOWN_DIFFERENCES = 8
MAX_VALUE_CHARS = 60


def _shown(value: Any) -> str:
    """A value in a difference line: short values as they are, a whole block as its kind."""
    if value is None:
        return "absent"
    if isinstance(value, (dict, list)) and len(repr(value)) > MAX_VALUE_CHARS:
        return f"{{…}} ({len(value)} keys)" if isinstance(value, dict) else f"[…] ({len(value)} items)"
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key in sorted(set(old) | set(new)):
        where = f"{prefix}{key}"
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found.extend(_differences(a, b, where + "."))
        elif a != b:
            found.append(f"{where}: {_shown(a)} -> {_shown(b)}")
    return found


def existing_state(out: Path, planned: dict[str, Any], force: bool) -> str:
    """ "empty" (nothing there), "current" (the same export, files verified: nothing to do, even
    with --force) or "replace" (something else, and --force was given). Without --force,
    anything else raises ExportError saying what differs."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return "empty"
    if not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder; choose another --out")
    problem = _mismatch(out, planned)
    if problem is None:
        return "current"
    if force:
        return "replace"
    raise ExportError(problem)


def _mismatch(out: Path, planned: dict[str, Any]) -> str | None:
    """Why `out` is not this export (a message ending in what to do), or None when it is."""
    if not (out / MANIFEST_NAME).is_file():
        return f"{out} is not empty and holds no {MANIFEST_NAME}; pass --force to replace it or choose another --out"
    try:
        manifest = load_manifest(out)
    except RuntimeArtifactError as exc:
        return f"{out} holds an unreadable manifest ({exc}); pass --force to rebuild it"
    changes = _differences(_jsonable(inputs_of_manifest(manifest)), _jsonable(planned))
    if changes:
        more = len(changes) - MAX_SHOWN_DIFFERENCES
        listed = "\n  ".join(changes[:MAX_SHOWN_DIFFERENCES]) + (f"\n  … and {more} more" if more > 0 else "")
        return f"{out} holds a different export:\n  {listed}\nPass --force to replace it (make export FORCE=1)."
    try:
        verify_files(out, manifest.all_files())
    except RuntimeArtifactError as exc:
        return f"{out} matches this export's inputs but its files are damaged; pass --force to rebuild it:\n{exc}"
    return None


def _jsonable(value: Any) -> Any:
    """Tuples -> lists and so on, so a planned description compares equal to a parsed one."""
    import json

    return json.loads(json.dumps(value))


def place_variant(
    root: Path,
    role: str,
    variant: str,
    produced: dict[str, Path],
    quantization: dict[str, Any] | None,
    earlier: dict[str, Variant],
) -> Variant:
    """Copy `produced` (name -> file) to <role>/<variant>/<name>.onnx (external weights,
    "<name>.data", keep the file name the graphs refer to), unless an earlier variant holds the
    same bytes: then point at its files and record `same_as`."""
    entries = {name: file_entry(path.parent, path) for name, path in produced.items()}
    for other_name, other in earlier.items():
        if other.same_as is None and {n: e.sha256 for n, e in other.files.items()} == {
            n: e.sha256 for n, e in entries.items()
        }:
            return Variant(files=dict(other.files), quantization=quantization, same_as=other_name)
    folder = root / role / variant
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, FileEntry] = {}
    for name, path in produced.items():
        target = folder / (path.name if name.endswith(DATA_SUFFIX) else f"{name}.onnx")
        shutil.copyfile(path, target)
        files[name] = FileEntry(
            path=target.relative_to(root).as_posix(), sha256=entries[name].sha256, size=entries[name].size
        )
    return Variant(files=files, quantization=quantization)


def staging_dir(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def commit(staging: Path, out: Path, manifest: Manifest) -> None:
    """Write the manifest, check every hash, then swap the staging folder in."""
    (staging / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    try:
        verify_files(staging, manifest.all_files())
    except RuntimeArtifactError as exc:  # a bug in the export itself; keep the old artifacts
        raise ExportError(
            f"the new manifest does not match the files just written; nothing replaced: {exc}"
        ) from exc
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
