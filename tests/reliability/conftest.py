"""The integration suite's fixtures (moto server over HTTP, fresh resources per test, the real
Enricher on the tiny test artifacts), reused rather than copied, plus an offline-profile
Enricher: the real MiniLM with no stand-in models, fast enough to run hundreds of inputs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INTEGRATION = HERE.parent / "integration"
for path in (INTEGRATION, HERE):  # worker_harness, faults; this folder's helpers (the drivers are in tools/)
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_integration = _load("integration_fixtures", INTEGRATION / "conftest.py")
emulator = _integration.emulator
aws_env = _integration.aws_env
clients = _integration.clients
enricher = _integration.enricher
make_stack = _integration.make_stack
stack = _integration.stack


@pytest.fixture(scope="session")
def offline_enricher(artifacts_dir):
    from runtime import Enricher, RuntimeConfig

    return Enricher.from_artifacts(artifacts_dir, RuntimeConfig(profile="offline"))
