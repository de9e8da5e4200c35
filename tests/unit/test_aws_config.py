"""Running `ticket-enrich worker` or `ticket-enrich aws …` outside make, with the AWS
configuration missing or broken, gives one line of advice and exit status 2: never a traceback,
and never after the models have loaded. No emulator is needed: the check comes first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TICKET_ENRICH = str(Path(sys.executable).with_name("ticket-enrich"))


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No AWS settings at all (no ~/.aws either), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TICKET_ENRICH_"))}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_EC2_METADATA_DISABLED="true", **extra)
    return env


CASES = {
    "no-region": ({}, "no AWS region is set"),
    "no-credentials": ({"AWS_DEFAULT_REGION": "us-east-1"}, "no AWS credentials found"),
    "unknown-profile": ({"AWS_PROFILE": "nobody", "AWS_DEFAULT_REGION": "us-east-1"}, "nobody"),
    "malformed-endpoint": ({"AWS_ENDPOINT_URL": "localhost 4566", "AWS_DEFAULT_REGION": "us-east-1",
                            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}, "Invalid endpoint"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("command", [["worker", "--artifacts", "artifacts"], ["aws", "status"]])
def test_a_missing_or_broken_aws_configuration_is_one_line_of_advice(tmp_path, case, command):
    extra, phrase = CASES[case]
    result = subprocess.run([TICKET_ENRICH, *command], env=clean_env(tmp_path, **extra), capture_output=True,
                            text=True, timeout=120, cwd=REPO)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"ticket-enrich {command[0]}: ") and phrase in line, line
    assert "make worker" in line and "AWS_DEFAULT_REGION=us-east-1" in line  # how to reach the local emulator
    assert "worker ready" not in result.stderr and "variant" not in result.stderr  # before any model loads
