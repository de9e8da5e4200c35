"""The worker's own errors, under one base: callers catch `WorkerError` for any of them.
AWS and botocore exceptions are translated at the boundary (`raise ... from exc`); messages say
what failed and what to check."""

from __future__ import annotations


class WorkerError(Exception):
    """Anything the worker reports as its own failure (not a rejected ticket: that is
    runtime.errors.TicketRejected, and never an error of the worker)."""


class SettingsError(WorkerError):
    """A setting with a value the worker cannot use; the message names the variable."""


class AwsError(WorkerError):
    """An AWS call failed after botocore's retries; the message names the call and what to check."""


class StoreError(WorkerError):
    """An S3 or DynamoDB call failed after retries; the ticket is left for redelivery."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


class ObjectMissing(StoreError):
    """The object an event names no longer exists: retrying cannot help."""


class EnrichmentMismatch(WorkerError):
    """The runtime returned enrichments for other tickets than it was given (a runtime bug): the
    batch is retried ticket by ticket, and what still fails is left for redelivery."""


class EmulatorError(WorkerError):
    """The local emulator did not start or stop; the message names the log file to read."""
