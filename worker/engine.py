"""What the worker needs of the runtime, and nothing more: `runtime.Enricher` is one, a test's
wrapper around it is another. The type checker holds the seam (`make lint`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from runtime.result import Enrichment
from runtime.ticket import Ticket


class Engine(Protocol):
    @property
    def variant(self) -> str:
        """The CPU variant the models run as (stamped on every record)."""
        ...

    @property
    def profile(self) -> str:
        """`full` or `offline` (shown on /metrics and in the run report)."""
        ...

    def enrich(self, tickets: Sequence[Ticket], /) -> list[Enrichment]:
        """One Enrichment per ticket, in order; raises TicketRejected for a ticket it refuses."""
        ...
