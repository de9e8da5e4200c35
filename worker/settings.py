"""The worker's settings: read from the environment in one place, validated when built.

Every name here is part of the deployment contract (k8s manifests, the Makefile, docs/WORKER.md).
Runtime knobs (TICKET_ENRICH_VARIANT, TICKET_ENRICH_THREADS, TICKET_ENRICH_PROFILE) are not
read here: the runtime reads them itself, and the worker passes the environment through.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ticket_schema.errors import error_message
from worker.errors import SettingsError

# field name -> environment variable
ENV_NAMES = {
    "artifacts": "TICKET_ENRICH_ARTIFACTS",
    "queue": "TICKET_ENRICH_QUEUE",
    "raw_bucket": "TICKET_ENRICH_RAW_BUCKET",
    "enriched_bucket": "TICKET_ENRICH_ENRICHED_BUCKET",
    "table": "TICKET_ENRICH_TABLE",
    "http_port": "TICKET_ENRICH_HTTP_PORT",
    "visibility_timeout": "TICKET_ENRICH_VISIBILITY_TIMEOUT",
    "visibility_extend_every": "TICKET_ENRICH_VISIBILITY_EXTEND_EVERY",
    "log_level": "TICKET_ENRICH_LOG_LEVEL",
    "gather_messages": "TICKET_ENRICH_GATHER_MESSAGES",
    "gather_seconds": "TICKET_ENRICH_GATHER_SECONDS",
    "first_batch": "TICKET_ENRICH_FIRST_BATCH",
    "isolate_after": "TICKET_ENRICH_ISOLATE_AFTER",
}

# The longest batch is 30 long tickets gathered from three receives through all three models (the
# summary's decoder loop dominates): tens of seconds on two cores. Two minutes covers it with room, and a batch that
# runs longer still keeps its messages because the worker extends their visibility.
DEFAULT_VISIBILITY_TIMEOUT = 120


# Measured in docs/RELIABILITY.md ("A crash-looping pod"), with tools/crashloop.py.
DEFAULT_FIRST_BATCH = 1
DEFAULT_ISOLATE_AFTER = 3


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    artifacts: Path = Path("artifacts")
    queue: str = Field(default="ticket-processing-queue", min_length=1)  # a name or a queue URL
    raw_bucket: str = Field(default="tickets-raw", min_length=3, max_length=63)
    enriched_bucket: str = Field(default="tickets-enriched", min_length=3, max_length=63)
    table: str = Field(default="tickets", min_length=3, max_length=255)
    http_port: int = Field(default=8080, ge=0, le=65535)  # 0 turns the HTTP server off
    visibility_timeout: int = Field(default=DEFAULT_VISIBILITY_TIMEOUT, ge=1, le=43_200)
    # None: a third of the visibility timeout. 0: never extend.
    visibility_extend_every: float | None = Field(default=None, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # One batch from several receives while the queue has messages at once (worker/loop.py
    # PollSettings.gather_*): up to this many messages, within this many seconds of the first.
    gather_messages: int = Field(default=30, ge=1, le=200)
    gather_seconds: float = Field(default=2.0, ge=0, le=20)
    # Crash-loop guards (docs/RELIABILITY.md, "A crash-looping pod"): the first batch a fresh process
    # asks for (doubling after each batch it finishes, up to 10), and the receive count from which a
    # message is processed alone (0: never). 10 and 0 give the behaviour without guards.
    first_batch: int = Field(default=DEFAULT_FIRST_BATCH, ge=1, le=10)
    isolate_after: int = Field(default=DEFAULT_ISOLATE_AFTER, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _upper_log_level(cls, values: Any) -> Any:
        if isinstance(values, dict) and isinstance(values.get("log_level"), str):
            values = {**values, "log_level": values["log_level"].strip().upper()}
        return values

    @model_validator(mode="after")
    def _extension_fits(self) -> Settings:
        every = self.visibility_extend_every
        if every and every >= self.visibility_timeout:
            raise ValueError(
                f"visibility_extend_every ({every}s) must be shorter than visibility_timeout "
                f"({self.visibility_timeout}s), or messages become visible before they are extended"
            )
        if self.isolate_after == 1:
            raise ValueError("isolate_after 1 would process every message alone: use 0 (never) or 2 and up")
        return self

    @property
    def extend_every(self) -> float:
        """Seconds between visibility extensions of the batch in hand; 0 means never."""
        if self.visibility_extend_every is None:
            return self.visibility_timeout / 3
        return self.visibility_extend_every

    @property
    def queue_name(self) -> str:
        return self.queue.rstrip("/").rsplit("/", 1)[-1]

    @property
    def dlq_name(self) -> str:
        return f"{self.queue_name}-dlq"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Environment first, then `overrides` (CLI flags; None means "not given")."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            field: environ[name] for field, name in ENV_NAMES.items() if environ.get(name, "").strip()
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else ""
                where = ENV_NAMES.get(field, field) or "settings"
                problems.append(f"{where}: {error_message(error)}")
            raise SettingsError("invalid worker settings: " + "; ".join(problems)) from exc

    def describe(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), "dlq": self.dlq_name, "extend_every_s": self.extend_every}
