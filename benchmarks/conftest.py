"""Fixtures for `pytest benchmarks/`: settings from the environment, the artifacts and matching
checkpoints, the input tickets, and a recorder whose sections are written to the results JSON and
printed as tables at the end of the run."""

from __future__ import annotations

import dataclasses
import gc
import os

import pytest

from benchmarks.inputs import load_tickets, spread, ticket_texts, word_count
from benchmarks.models import BenchSetupError, Models
from benchmarks.results import Recorder
from benchmarks.settings import BenchSettings

RECORDER = pytest.StashKey[Recorder]()
SETTINGS = pytest.StashKey[BenchSettings]()


def pytest_configure(config):
    # Peers and PyTorch read these at import; the Hub is unreachable here and must not be tried.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    config.stash[SETTINGS] = BenchSettings.from_env()
    config.stash[RECORDER] = Recorder()


@pytest.fixture(scope="session")
def settings(pytestconfig) -> BenchSettings:
    return pytestconfig.stash[SETTINGS]


@pytest.fixture(scope="session")
def recorder(pytestconfig) -> Recorder:
    return pytestconfig.stash[RECORDER]


@pytest.fixture(scope="session")
def models(settings, recorder) -> Models:
    from runtime.manifest import sha256_file

    try:
        models = Models(settings)
        manifest = models.manifest  # parse and check it now, with a clear message
    except BenchSetupError as exc:
        pytest.fail(str(exc), pytrace=False)
    recorder.provenance = {"root": str(models.root), "created_at": manifest.created_at,
                           "manifest_sha256": sha256_file(models.root / "manifest.json")}
    return models


@pytest.fixture(scope="session")
def tickets() -> list[dict]:
    return load_tickets()


@pytest.fixture(scope="session")
def texts(tickets) -> list[str]:
    return ticket_texts(tickets)


@pytest.fixture(scope="session")
def stage_texts(texts, settings) -> list[str]:
    """The tickets timed in batches per stage (all 64 unless BENCH_QUICK)."""
    return texts if settings.stage_tickets >= len(texts) else spread(texts, word_count, settings.stage_tickets)


@pytest.fixture(scope="session")
def latency_texts(texts, settings) -> list[str]:
    """The single-ticket subset for the slow stages, spread over the ticket lengths."""
    return spread(texts, word_count, settings.latency_tickets)


@pytest.fixture(autouse=True)
def _release_engines():
    """Engines are built inside each test; drop them before the next stage loads its own."""
    yield
    gc.collect()


# Stages first: end to end, the process figures and the limits read the stage results of the run.
FILE_ORDER = ("test_regression_gate", "test_stages", "test_end_to_end", "test_worker", "test_process", "test_limits")


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        stem = item.path.stem
        return FILE_ORDER.index(stem) if stem in FILE_ORDER else len(FILE_ORDER)

    items.sort(key=rank)  # stable: tests keep their order within a file


def pytest_sessionfinish(session, exitstatus):
    recorder = session.config.stash.get(RECORDER, None)
    settings = session.config.stash.get(SETTINGS, None)
    if recorder is None or not recorder.sections:
        return
    recorder.write(settings.results, dataclasses.asdict(settings) | {
        k: str(v) for k, v in dataclasses.asdict(settings).items() if hasattr(v, "parts")})


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from benchmarks.report import render_sections

    recorder = config.stash.get(RECORDER, None)
    if recorder is None or not recorder.sections:
        return
    terminalreporter.section("benchmark results (ratios: times better than PyTorch eager, same run)")
    terminalreporter.write_line(render_sections(recorder.sections))
    terminalreporter.write_line(f"written to {config.stash[SETTINGS].results}")
