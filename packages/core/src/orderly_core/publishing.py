"""Appending a domain event to the outbox of a use case's unit of work."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderly_core.context import Context
from orderly_core.events import EventType, new_event
from orderly_core.ports import Dependencies, UnitOfWork


async def publish(
    deps: Dependencies,
    uow: UnitOfWork,
    ctx: Context,
    event_type: EventType,
    *,
    subject: str,
    sequence: int,
    data: Mapping[str, Any],
) -> None:
    """Append the event to the outbox, in the transaction of the change it tells of."""
    event = new_event(
        deps.ids.new_id(),
        ctx,
        deps.clock.now(),
        event_type,
        subject=subject,
        sequence=sequence,
        data=data,
    )
    await uow.outbox.add(event)
