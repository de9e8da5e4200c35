"""The export pipeline: resolve sources -> pick the profile -> skip if up to date -> per model
(convert, check, quantize, check) -> fit the heads -> write the manifest -> swap in."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from export import metadata
from export.artifacts import commit, describe_inputs, existing_state, model_inputs, staging_dir
from export.catalog import CATALOG, PROFILE_ROLES
from export.checkpoints import Checkpoint, SourceOptions, hub_reachable, resolve
from export.errors import ExportError
from runtime.errors import RuntimeArtifactError
from runtime.manifest import Manifest


@dataclass(frozen=True)
class ExportOptions:
    out: Path
    profile: str | None  # None: full when every source resolves, else offline (announced)
    stand_ins: str | None
    folders: dict[str, Path]
    cache_dir: Path
    force: bool = False

    def __post_init__(self) -> None:
        if self.profile not in (None, *PROFILE_ROLES):
            raise ExportError(f"unknown profile {self.profile!r}; use one of {', '.join(PROFILE_ROLES)}")
        unknown = set(self.folders) - set(CATALOG)
        if unknown:
            raise ExportError(
                f"folders given for unknown models {sorted(unknown)}; known: {', '.join(CATALOG)}"
            )


class _HubProbe:
    """Asks once, and only when some model actually needs the Hub."""

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.answer: bool | None = None

    def __call__(self) -> bool:
        if self.answer is None:
            self.answer = hub_reachable()
            self.log(f"Hugging Face Hub {'reachable' if self.answer else 'unreachable'}")
        return self.answer


def choose_sources(options: ExportOptions, log: Callable[[str], None]) -> tuple[str, dict[str, Checkpoint]]:
    sources = SourceOptions(
        folders=dict(options.folders), stand_ins=options.stand_ins, cache_dir=options.cache_dir
    )
    hub = _HubProbe(log)
    roles = PROFILE_ROLES["offline" if options.profile == "offline" else "full"]
    found: dict[str, Checkpoint] = {}
    missing: list[str] = []
    for role in roles:
        checkpoint, reason = resolve(CATALOG[role], sources, hub)
        if checkpoint is None:
            missing.append(reason)
        else:
            found[role] = checkpoint
    if not missing:
        return ("offline" if options.profile == "offline" else "full"), found
    if options.profile == "full":
        raise ExportError("--profile full needs all three models, but " + "; ".join(missing))
    for reason in missing:
        log(f"NOTE: {reason}")
    log("NOTE: using the OFFLINE profile: MiniLM only; sentiment and summary are derived from the embeddings")
    offline = PROFILE_ROLES["offline"]
    return "offline", {role: found[role] for role in offline}


def planned_inputs(profile: str, checkpoints: dict[str, Checkpoint], tools: dict[str, str]) -> dict[str, Any]:
    from export.model_export import planned_variants

    models = {}
    for role, checkpoint in checkpoints.items():
        spec, config = checkpoint.spec, metadata.read_config(checkpoint.path)
        entry = {
            "name": spec.name,
            "task": spec.task,
            "source": asdict(checkpoint.source),
            "settings": metadata.settings(spec, config),
            "labels": spec.arch.labels(config),
            "generation": spec.arch.generation(checkpoint.path),
        }
        models[role] = model_inputs(entry, planned_variants(spec))
    return describe_inputs(profile, models, tools)


def run_export(options: ExportOptions, log: Callable[[str], None]) -> str:
    """Returns "current" when the artifacts were already up to date, else "written"."""
    from export.model_export import export_model

    profile, checkpoints = choose_sources(options, log)
    from export.heads import data_fingerprint

    # the data the heads are fitted from makes an export different too (a changed example refits them)
    tools = {**metadata.tool_versions(), "heads_data_sha256": data_fingerprint()}
    state = existing_state(options.out, planned_inputs(profile, checkpoints, tools), options.force)
    if state == "current":
        return "current"
    described = ", ".join(f"{role} <- {c.source.kind}:{c.source.ref}" + (f" [{c.source.stand_in} stand-in]" if c.source.stand_in else "")
                          for role, c in checkpoints.items())  # fmt: skip
    log(f"profile {profile}: {described}")
    staging = staging_dir(options.out)
    try:
        work = staging / "_work"
        models = {}
        for role, checkpoint in checkpoints.items():
            started = time.monotonic()
            models[role] = export_model(checkpoint, staging, work, log)
            log(
                f"{role}: done in {time.monotonic() - started:.0f}s; parity {_parity_line(models[role].parity)}"
            )
        shutil.rmtree(work, ignore_errors=True)
        log("fitting the embedding-space heads")
        from export.heads import build_heads

        try:
            extras = build_heads(staging, models)
        except RuntimeArtifactError as exc:
            raise ExportError(f"fitting the embedding-space heads failed: {exc}") from exc
        manifest = Manifest(
            profile=profile,
            models=models,
            extras=extras,
            tools=tools,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        commit(staging, options.out, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return "written"


def _parity_line(parity: dict[str, dict[str, Any]]) -> str:
    keys = (
        "cosine_min",
        "logits_max_abs_diff",
        "probs_max_abs_diff",
        "greedy_identical",
        "teacher_forced_top1",
    )
    parts = []
    for variant, figures in parity.items():
        shown = ", ".join(f"{k}={figures[k]}" for k in keys if k in figures)
        parts.append(f"{variant}[{shown}]")
    return " ".join(parts)
