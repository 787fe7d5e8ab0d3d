"""What the returns' use cases share: finding the return a request names (for an actor who
may see its order), saving a return as a new version, and announcing it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderly_core.orders.model import Order
from orderly_core.platform.outbox import EventType
from orderly_core.platform.ports import Services
from orderly_core.platform.versions import announce_version, save_version
from orderly_core.returns.errors import ReturnNotFound
from orderly_core.returns.model import Return, return_view
from orderly_core.returns.ports import ReturnsUnit
from orderly_core.shared.authorization import may_see_order
from orderly_core.shared.context import Context
from orderly_core.shared.validation import parse_id


async def visible_return(
    uow: ReturnsUnit, ctx: Context, return_id: str, *, for_update: bool
) -> tuple[Return, Order] | ReturnNotFound:
    """The return ``return_id`` names and its order, if the actor may see the order; anyone
    else's return is not found. ``for_update`` locks the return's row."""
    wanted = parse_id(return_id)
    found = await uow.returns.get(wanted, for_update=for_update) if wanted else None
    order = await uow.orders.get(found.order_id) if found else None
    if found is None or order is None or not may_see_order(ctx.actor, order.customer_id):
        return ReturnNotFound(return_id)
    return found, order


async def save_return(
    deps: Services[ReturnsUnit],
    uow: ReturnsUnit,
    ctx: Context,
    ret: Return,
    operation: str,
    **changes: Any,
) -> Return:
    """``ret`` (locked) with ``changes`` as its next version, saved and audited."""
    return await save_version(
        deps,
        uow,
        ctx,
        ret,
        operation,
        save=uow.returns.save,
        target_type="return",
        view=return_view,
        changes=changes,
    )


async def announce_return(
    deps: Services[ReturnsUnit],
    uow: ReturnsUnit,
    ctx: Context,
    event_type: EventType,
    ret: Return,
    *,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """The return's event, with the return as it now is; its version orders its events."""
    await announce_version(
        deps, uow, ctx, event_type, ret, subject_type="return", view=return_view, extra=extra
    )
