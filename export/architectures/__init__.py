"""The architectures the export knows, by name. A catalog entry (export/catalog.py) names the one
its checkpoint is; everything the export does differently per architecture is that class's
(export/architectures/base.py lists what it owns, and the defaults).

Adding a model of a known architecture is a catalog entry. Adding an architecture is one module
here with one `Architecture` subclass (its converter, manifest settings, labels, generation
settings, calibration and parity checker with its tolerances), listed below, and its catalog
entry: docs/EXPORT.md, "Adding a model".
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from export.architectures.bart import BartSeq2Seq
from export.architectures.base import Architecture, ParityChecker
from export.architectures.encoder_classifier import EncoderClassifier
from export.architectures.encoder_embedding import EncoderEmbedding
from export.errors import ExportError

ARCHITECTURES: Mapping[str, Architecture] = MappingProxyType(
    {arch.name: arch for arch in (EncoderEmbedding(), EncoderClassifier(), BartSeq2Seq())}
)


def architecture(name: str) -> Architecture:
    """The registered architecture called `name`; ExportError naming the registered ones if none is."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ExportError(f"no architecture {name!r} is registered; known: {', '.join(ARCHITECTURES)}") from None


__all__ = ["ARCHITECTURES", "Architecture", "ParityChecker", "architecture"]
