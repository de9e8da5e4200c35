"""Pydantic's messages, worded as the code that raised them: light (pydantic_core only for types)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails


def error_message(error: ErrorDetails) -> str:
    """One validation error's message without the "Value error, " pydantic puts before the text
    of a ValueError raised by a validator."""
    cause = error.get("ctx", {}).get("error")
    if error["type"] == "value_error" and cause is not None:
        return str(cause)
    return error["msg"]
