"""The runtime's own errors. Messages say what went wrong and what to do about it."""


class RuntimeArtifactError(Exception):
    """The artifacts folder cannot be served: missing files, hash mismatch, unknown format."""


class VariantUnavailable(RuntimeArtifactError):
    """A forced CPU variant that this machine cannot run, or that the manifest does not have."""


class TicketRejected(ValueError):
    """A ticket that fails validation. Never retried: it gets a rejection record instead."""

    def __init__(self, field: str, reason: str, ticket_id: str | None = None):
        self.field = field
        self.reason = reason
        self.ticket_id = ticket_id
        where = f"ticket {ticket_id!r}: " if ticket_id else ""
        super().__init__(f"{where}{field}: {reason}")
