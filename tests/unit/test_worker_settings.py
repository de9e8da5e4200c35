from pathlib import Path

import pytest

from worker.errors import SettingsError
from worker.settings import Settings


def test_defaults_are_the_documented_names():
    settings = Settings.from_env({})
    assert settings.artifacts == Path("artifacts")
    assert (settings.queue, settings.raw_bucket, settings.enriched_bucket, settings.table) == (
        "ticket-processing-queue", "tickets-raw", "tickets-enriched", "tickets")
    assert settings.http_port == 8080
    assert settings.dlq_name == "ticket-processing-queue-dlq"
    assert settings.extend_every == settings.visibility_timeout / 3


def test_environment_then_flags():
    env = {"TICKET_ENRICH_QUEUE": "https://sqs.eu-west-1.amazonaws.com/1234/orders", "TICKET_ENRICH_HTTP_PORT": "0",
           "TICKET_ENRICH_VISIBILITY_TIMEOUT": "60", "TICKET_ENRICH_LOG_LEVEL": "debug",
           "TICKET_ENRICH_TABLE": "  "}
    settings = Settings.from_env(env, http_port=9000, artifacts=None)
    assert settings.queue_name == "orders"
    assert settings.dlq_name == "orders-dlq"
    assert settings.http_port == 9000  # the flag wins
    assert settings.visibility_timeout == 60
    assert settings.log_level == "DEBUG"
    assert settings.table == "tickets"  # blank means unset
    assert settings.artifacts == Path("artifacts")  # a flag left as None does not override


def test_bad_values_name_the_variable():
    with pytest.raises(SettingsError, match="TICKET_ENRICH_HTTP_PORT"):
        Settings.from_env({"TICKET_ENRICH_HTTP_PORT": "eighty"})
    with pytest.raises(SettingsError, match="TICKET_ENRICH_LOG_LEVEL"):
        Settings.from_env({"TICKET_ENRICH_LOG_LEVEL": "LOUD"})


def test_extension_must_come_before_the_timeout():
    with pytest.raises(SettingsError, match="shorter than visibility_timeout"):
        Settings.from_env({"TICKET_ENRICH_VISIBILITY_TIMEOUT": "30", "TICKET_ENRICH_VISIBILITY_EXTEND_EVERY": "30"})
    assert Settings.from_env({"TICKET_ENRICH_VISIBILITY_EXTEND_EVERY": "0"}).extend_every == 0


def test_settings_are_frozen():
    settings = Settings.from_env({})
    with pytest.raises(ValueError):
        settings.table = "other"
