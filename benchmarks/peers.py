"""Build the peers' models from the same checkpoints our artifacts came from, once, into
build/bench-peers (Optimum ONNX fp32 + int8, CTranslate2 int8, fastembed folders).

    python -m benchmarks.peers            # build whatever is missing (make bench-export runs it)

Each folder carries a `peer.json` naming the checkpoint weights it was built from; a changed
checkpoint rebuilds it, an interrupted build leaves nothing half-written behind.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MARKER = "peer.json"


def cached_build(target: Path, key: dict, build: Callable[[Path], None]) -> Path:
    """`target`, built by `build(staging_dir)` unless it already holds a build for `key`."""
    marker = target / MARKER
    if marker.is_file() and json.loads(marker.read_text()) == key:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"[peers] building {target} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as tmp:
        staging = Path(tmp) / "out"
        staging.mkdir()
        build(staging)
        (staging / MARKER).write_text(json.dumps(key, sort_keys=True) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    print(f"[peers] built {target} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return target


def checkpoint_key(models, role: str, **extra) -> dict:
    return {"role": role, "weights_sha256": models.entry(role).source.weights_sha256, **extra}


def prepare_all(models) -> None:
    from benchmarks.engines import ct2_peer, fastembed_peer, optimum_peer

    for role in ("embedding", "sentiment", "summary"):
        for precision in ("fp32", "int8"):
            optimum_peer.prepare(models, role, precision)
        ct2_peer.prepare(models, role)
    for precision in ("fp32", "int8"):
        fastembed_peer.prepare(models, precision)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.models import BenchSetupError, Models
    from benchmarks.settings import BenchSettings

    try:
        prepare_all(Models(BenchSettings.from_env()))
    except BenchSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
