"""Domain errors shared by every slice.

Errors are values, not exceptions: each is a frozen dataclass with a stable machine ``code``
and a human ``detail``. Adapters map error *types* outward (HTTP status, CLI exit code, job
retry policy); the words live here, once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol, cast


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input field: a dotted path (``lines.2.quantity``) and why it is wrong."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class InvalidInput:
    """The input broke one or more validation rules; every broken rule is listed."""

    errors: tuple[FieldError, ...]
    code: ClassVar[str] = "invalid_input"

    @property
    def detail(self) -> str:
        return "; ".join(f"{e.field}: {e.message}" for e in self.errors)

    @classmethod
    def single(cls, field: str, message: str) -> InvalidInput:
        return cls((FieldError(field, message),))


@dataclass(frozen=True, slots=True)
class Forbidden:
    """The actor is known but may not perform this operation."""

    action: str
    code: ClassVar[str] = "forbidden"

    @property
    def detail(self) -> str:
        return f"You are not allowed to {self.action}."


class DomainError(Protocol):
    """What every domain error offers: a stable machine code and a sentence for people."""

    code: ClassVar[str]

    @property
    def detail(self) -> str: ...


def error_members(error: DomainError) -> dict[str, Any]:
    """The error's own fields (``errors``, ``sku``, ``rows``...) as JSON-safe data, for the
    problem documents of the API and the ``--json`` output of the CLI."""
    fields: dict[str, Any] = asdict(cast("Any", error))  # every domain error is a dataclass
    return fields
