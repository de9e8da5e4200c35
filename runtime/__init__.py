"""The lean serve-time engine: onnxruntime, tokenizers and numpy only (no torch)."""

from runtime.config import RuntimeConfig
from runtime.enricher import Enricher
from runtime.errors import RuntimeArtifactError, TicketRejected, VariantUnavailable
from runtime.result import Enrichment, Intent
from runtime.ticket import Ticket

__all__ = [
    "Enricher",
    "Enrichment",
    "Intent",
    "RuntimeArtifactError",
    "RuntimeConfig",
    "Ticket",
    "TicketRejected",
    "VariantUnavailable",
]
