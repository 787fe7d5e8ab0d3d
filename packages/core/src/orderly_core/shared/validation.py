"""Collecting every broken rule of one input, instead of stopping at the first."""

from __future__ import annotations

import uuid

from returns.result import Failure

from orderly_core.shared.errors import FieldError, InvalidInput


def parse_id(raw: str) -> uuid.UUID | None:
    """The UUID ``raw`` spells, or ``None``: an id that cannot exist is simply not found."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


class FieldErrors:
    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self.errors: list[FieldError] = []

    def fail(self, field: str, message: str) -> None:
        self.errors.append(FieldError(self._prefix + field, message))

    def invalid(self) -> Failure[InvalidInput] | None:
        """The failure to return when any rule was broken, else ``None``."""
        return Failure(InvalidInput(tuple(self.errors))) if self.errors else None
