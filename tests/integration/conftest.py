"""The AWS emulator (moto server over HTTP, a subprocess on a free port), fresh resources per
test, and the real Enricher on the tiny test artifacts. Helpers live in worker_harness.py."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # worker_harness, for the tests of this folder

from worker import emulator as emu  # noqa: E402
from worker import resources  # noqa: E402
from worker.aws import AwsClients  # noqa: E402
from worker.settings import Settings  # noqa: E402


@pytest.fixture(scope="session")
def emulator(tmp_path_factory) -> Iterator[emu.Emulator]:
    server = emu.start(tmp_path_factory.mktemp("moto"), emu.free_port())
    yield server
    emu.stop_pid(server.pid)


@pytest.fixture(scope="session")
def aws_env(emulator) -> Iterator[dict[str, str]]:
    """The standard AWS environment, pointing at the emulator, for this process and its children."""
    env = {"AWS_ENDPOINT_URL": emulator.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {name: os.environ.get(name) for name in [*env, "AWS_PROFILE"]}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(env)
    yield env
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def clients(aws_env) -> AwsClients:
    return AwsClients.from_session(boto3.Session())


@pytest.fixture(scope="session")
def enricher(artifacts_dir):
    from runtime import Enricher

    return Enricher.from_artifacts(artifacts_dir)


@pytest.fixture
def make_stack(clients):
    """Fresh, uniquely named buckets, queue + DLQ and table, created by `resources.setup`."""

    def make(visibility_timeout: int = 10, extend_every: float | None = None) -> Settings:
        suffix = uuid.uuid4().hex[:8]
        settings = Settings(queue=f"tickets-{suffix}", raw_bucket=f"raw-{suffix}", enriched_bucket=f"enriched-{suffix}",
                            table=f"tickets-{suffix}", http_port=0, visibility_timeout=visibility_timeout,
                            visibility_extend_every=extend_every)
        resources.setup(clients, settings)
        return settings

    return make


@pytest.fixture
def stack(make_stack) -> Settings:
    return make_stack()
