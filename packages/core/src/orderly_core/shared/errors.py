"""Domain errors shared by every slice.

Errors are values, not exceptions: each is a frozen dataclass with a stable machine ``code``
and a human ``detail``. Adapters map error *types* outward (HTTP status, CLI exit code, job
retry policy); the words live here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
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


@dataclass(frozen=True, slots=True)
class _Versioned:
    """How a conflict over one type of record is told: the record's name in a sentence, what
    to do next, and the member that names it in problem documents and CLI output."""

    name: str  # with "{}" where the id goes
    then: str
    id_member: str


# The records changed under optimistic concurrency, by the target type their audit entries
# name. Each problem document names its record as it always has: `sku`, `order_id`,
# `endpoint_id`.
_VERSIONED: Mapping[str, _Versioned] = {
    "product": _Versioned("Product '{}'", "apply the change again", "sku"),
    "order": _Versioned("Order {}", "try again", "order_id"),
    "webhook": _Versioned("Webhook endpoint {}", "apply the change again", "endpoint_id"),
    "shipping_rate": _Versioned("Shipping rate '{}'", "apply the change again", "rate_code"),
}


@dataclass(frozen=True, slots=True)
class VersionConflict:
    """The caller changed a version of a record that is no longer the current one.

    Products, orders and webhook endpoints carry a version; a change that names the version
    it was made against (``If-Match``, ``--if-version``) is refused once another change came
    first. The target is named as in the audit trail: ``("order", "<id>")``.
    """

    target_type: str
    target_id: str
    expected: int
    current: int
    code: ClassVar[str] = "version_conflict"

    @property
    def detail(self) -> str:
        told = _VERSIONED.get(self.target_type)
        name = told.name if told else f"{self.target_type.capitalize()} {{}}"
        then = told.then if told else "apply the change again"
        return (
            f"{name.format(self.target_id)} is at version {self.current}, not {self.expected}: "
            f"reload it and {then}."
        )


def version_conflict(
    target: tuple[str, str], expected: int | None, current: int
) -> VersionConflict | None:
    """The conflict when a change made against version ``expected`` of ``target`` meets it at
    version ``current``; ``None`` when they agree or the change named no version."""
    if expected is None or expected == current:
        return None
    target_type, target_id = target
    return VersionConflict(target_type, target_id, expected, current)


class DomainError(Protocol):
    """What every domain error offers: a stable machine code and a sentence for people."""

    code: ClassVar[str]

    @property
    def detail(self) -> str: ...


def error_members(error: DomainError) -> dict[str, Any]:
    """The error's own fields (``errors``, ``sku``, ``rows``...) as JSON-safe data, for the
    problem documents of the API and the ``--json`` output of the CLI. A version conflict
    also names its record by the member clients have always read (``sku``, ``order_id``,
    ``endpoint_id``)."""
    fields: dict[str, Any] = asdict(cast("Any", error))  # every domain error is a dataclass
    if isinstance(error, VersionConflict) and (told := _VERSIONED.get(error.target_type)):
        return {told.id_member: error.target_id} | fields
    return fields
