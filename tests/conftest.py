"""Shared fixtures. `make test` builds the tiny artifacts (real MiniLM + tiny stand-ins) first
and points TEST_ARTIFACTS at them; run `make test-artifacts` before a bare `pytest`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(os.environ.get("TEST_ARTIFACTS", REPO / "build" / "test-artifacts"))
    if not (path / "manifest.json").is_file():
        pytest.fail(f"no test artifacts in {path}: run `make test-artifacts` (make test does it for you)")
    return path


@pytest.fixture(scope="session")
def checkpoints_dir() -> Path:
    """Where the export caches stand-in checkpoints (the PyTorch references for parity tests)."""
    return Path(os.environ.get("TICKET_ENRICH_CHECKPOINTS", REPO / "build" / "checkpoints"))


@pytest.fixture(scope="session")
def hub_artifacts_dir() -> Path:
    """Artifacts exported from checkpoint folders laid out like the Hub's (export/hub_layout.py:
    config.json generation settings, pytorch_model.bin, vocab.json + merges.txt, vocab.txt)."""
    path = Path(os.environ.get("TEST_HUB_ARTIFACTS", REPO / "build" / "test-artifacts-hub"))
    if not (path / "manifest.json").is_file():
        pytest.fail(f"no Hub-layout test artifacts in {path}: run `make test-artifacts` (make test does it for you)")
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny PyTorch models run many small ops: on a busy 2-core machine one thread is far faster
    than torch's contended pool. Use with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
