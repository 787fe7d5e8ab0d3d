"""Saving a record as its next version (the change, its version and time moved on, saved and
audited in the write's own transaction) and announcing it (its event, ordered by its version)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from orderly_core.platform.audit import HasAuditLog, record
from orderly_core.platform.outbox import EventType, HasOutbox, publish
from orderly_core.platform.ports import Services
from orderly_core.shared.context import Context

if TYPE_CHECKING:
    import uuid
    from dataclasses import Field


class Versioned(Protocol):
    """A frozen dataclass record whose every change is a new version."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def version(self) -> int: ...


async def save_version[V: Versioned](
    deps: Services[object],
    uow: HasAuditLog,
    ctx: Context,
    current: V,
    operation: str,
    *,
    save: Callable[[V], Awaitable[None]],
    target_type: str,
    view: Callable[[V], Mapping[str, Any]],
    changes: Mapping[str, Any],
) -> V:
    """``current`` (locked) with ``changes`` as its next version, saved with ``save`` and
    audited as ``operation`` on (``target_type``, its id), before and after as ``view``s."""
    changed = replace(current, **changes, version=current.version + 1, updated_at=deps.clock.now())
    await save(changed)
    await record(
        deps,
        uow,
        ctx,
        operation,
        target=(target_type, str(current.id)),
        before=view(current),
        after=view(changed),
    )
    return changed


async def announce_version[V: Versioned](
    deps: Services[object],
    uow: HasOutbox,
    ctx: Context,
    event_type: EventType,
    current: V,
    *,
    subject_type: str,
    view: Callable[[V], Mapping[str, Any]],
    extra: Mapping[str, Any] | None = None,
) -> None:
    """``current``'s event: its ``view`` as it now is (with the ``extra`` members), about
    ``<subject_type>:<id>``; its version orders the events about it."""
    await publish(
        deps,
        uow,
        ctx,
        event_type,
        subject=f"{subject_type}:{current.id}",
        sequence=current.version,
        data={**view(current), **(extra or {})},
    )
