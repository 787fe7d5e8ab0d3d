"""Asking to return delivered units of an order, and reading returns."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from returns.result import Failure, Result, Success

from orderly_core.catalogue.model import SKU_RULE, normalise_sku
from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.model import MAX_LINES, MAX_QUANTITY, Order
from orderly_core.orders.reading import order_records
from orderly_core.orders.steps import visible_order
from orderly_core.payments.common import actor_ref
from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.outbox import EventType
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.returns.common import announce_return, visible_return
from orderly_core.returns.errors import (
    NothingDelivered,
    OverLine,
    ReturnExceedsDelivered,
    ReturnNotFound,
    ReturnWindowClosed,
)
from orderly_core.returns.model import (
    OPEN_STATUSES,
    REASON_MAX,
    Return,
    ReturnLine,
    ReturnQuery,
    ReturnStatus,
    return_view,
)
from orderly_core.returns.ports import ReturnsServices, ReturnsUnit
from orderly_core.shared.authorization import return_request_denied, returns_handling_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.paging import NEWEST_FIRST, Page, checked_page
from orderly_core.shared.validation import FieldErrors


@dataclass(frozen=True, slots=True)
class ReturnLineRequest:
    sku: str
    quantity: int
    reason: str


@dataclass(frozen=True, slots=True)
class ReturnRequest:
    order_id: str
    lines: tuple[ReturnLineRequest, ...]


RequestReturnError = (
    Forbidden
    | InvalidInput
    | OrderNotFound
    | NothingDelivered
    | ReturnWindowClosed
    | ReturnExceedsDelivered
)

# The refusals that are outcomes of a request, replayed to its retries like a success.
_REQUEST_OUTCOMES = (OrderNotFound, NothingDelivered, ReturnWindowClosed, ReturnExceedsDelivered)


def _checked(request: ReturnRequest) -> ReturnRequest | InvalidInput:
    fields = FieldErrors()
    fields.text("order_id", request.order_id)
    if not 1 <= len(request.lines) <= MAX_LINES:
        fields.fail("lines", f"must hold 1-{MAX_LINES} lines")
    lines: list[ReturnLineRequest] = []
    seen: set[str] = set()
    for index, line in enumerate(request.lines):
        sku = normalise_sku(line.sku) if fields.text(f"lines.{index}.sku", line.sku) else line.sku
        if sku is None:
            fields.fail(f"lines.{index}.sku", SKU_RULE)
            sku = line.sku
        elif sku in seen:
            fields.fail(f"lines.{index}.sku", "repeats a SKU of an earlier line")
        seen.add(sku)
        if not 1 <= line.quantity <= MAX_QUANTITY:
            fields.fail(f"lines.{index}.quantity", f"must be 1-{MAX_QUANTITY}")
        reason = line.reason.strip()
        reason_ok = fields.text(f"lines.{index}.reason", line.reason, multiline=True)
        if reason_ok and not 1 <= len(reason) <= REASON_MAX:
            fields.fail(f"lines.{index}.reason", f"must be 1-{REASON_MAX} characters")
        lines.append(ReturnLineRequest(sku, line.quantity, reason))
    if fields.errors:
        return InvalidInput(tuple(fields.errors))
    return ReturnRequest(request.order_id, tuple(lines))


def _over_lines(
    order: Order, request: ReturnRequest, open_returns: list[Return]
) -> tuple[OverLine, ...]:
    """The lines asking for more than the order delivered and has not had back or been asked
    for by an open return."""
    claimed: Counter[str] = Counter()
    for ret in open_returns:
        for asked in ret.lines:
            claimed[asked.sku] += asked.quantity
    ordered = {line.sku: line for line in order.lines}
    over: list[OverLine] = []
    for wanted in request.lines:
        line = ordered.get(wanted.sku)
        allowed = line.delivered - line.returned - claimed[wanted.sku] if line else 0
        if wanted.quantity > allowed:
            over.append(OverLine(wanted.sku, wanted.quantity, max(allowed, 0)))
    return tuple(over)


async def request_return(
    deps: ReturnsServices, ctx: Context, request: ReturnRequest
) -> Idempotent[Return, RequestReturnError]:
    """Ask to return delivered units of an order (its customer, or staff), each line with a
    reason (1-255 characters); each SKU once.

    Only an order whose units were delivered may be returned (``nothing_delivered``), within
    the return window (``RETURN_WINDOW_DAYS``, 30 days by default) of the delivery of its last
    units (``return_window_closed``). A line asks for at most the units of its SKU delivered,
    minus those returned and those an open (requested or approved) return already asks for
    (``return_exceeds_delivered``). The return starts ``requested``; ``return.requested`` is
    announced.
    """
    if denied := return_request_denied(ctx.actor):
        return Failure(denied)
    checked = _checked(request)
    if isinstance(checked, InvalidInput):
        return Failure(checked)

    async def work(uow: ReturnsUnit) -> Result[Return, RequestReturnError]:
        # The order's row is locked: requests for one order take turns, so two cannot both
        # claim the same delivered units.
        order = await visible_order(uow, ctx, checked.order_id, for_update=True)
        if isinstance(order, OrderNotFound):
            return Failure(order)
        if order.delivered_at is None or not any(line.delivered for line in order.lines):
            return Failure(NothingDelivered(str(order.id)))
        now = deps.clock.now()
        closes = order.delivered_at + deps.return_window
        if now > closes:
            return Failure(ReturnWindowClosed(str(order.id), closes))
        open_returns = [
            r for r in await uow.returns.of_order(order.id) if r.status in OPEN_STATUSES
        ]
        if over := _over_lines(order, checked, open_returns):
            return Failure(ReturnExceedsDelivered(over))
        ret = Return(
            id=deps.ids.new_id(),
            order_id=order.id,
            status=ReturnStatus.REQUESTED,
            lines=tuple(
                ReturnLine(line.sku, line.quantity, line.reason)
                for line in sorted(checked.lines, key=lambda line: line.sku)
            ),
            requested_by=actor_ref(ctx.actor),
            created_at=now,
            updated_at=now,
            version=1,
        )
        await uow.returns.add(ret)
        target = ("return", str(ret.id))
        await record(
            deps, uow, ctx, "return.request", target=target, before=None, after=return_view(ret)
        )
        await announce_return(deps, uow, ctx, EventType.RETURN_REQUESTED, ret)
        return Success(ret)

    async def replay_refusal(uow: ReturnsUnit) -> RequestReturnError | None:
        order = await visible_order(uow, ctx, checked.order_id, for_update=False)
        return order if isinstance(order, OrderNotFound) else None

    operation = Operation("return.request", checked, Return, _REQUEST_OUTCOMES)
    return await in_idempotent_transaction(
        deps, ctx, operation, work, replay_refusal=replay_refusal
    )


async def get_return(
    deps: ReturnsServices, ctx: Context, return_id: str
) -> Result[Return, ReturnNotFound]:
    """One return. Customers see the returns of their own orders only: anyone else's is
    'not found'."""

    async def work(uow: ReturnsUnit) -> Result[Return, ReturnNotFound]:
        found = await visible_return(uow, ctx, return_id, for_update=False)
        if isinstance(found, ReturnNotFound):
            return Failure(found)
        return Success(found[0])

    return await in_transaction(deps, ctx, work)


async def list_order_returns(
    deps: ReturnsServices, ctx: Context, order_id: str
) -> Result[tuple[Return, ...], OrderNotFound]:
    """An order's returns, oldest first. Customers see their own orders' only."""
    return await order_records(
        deps, ctx, order_id, lambda uow, wanted: uow.returns.of_order(wanted)
    )


async def list_returns(
    deps: ReturnsServices, ctx: Context, query: ReturnQuery
) -> Result[Page[Return], Forbidden | InvalidInput]:
    """Every order's returns, newest first (keyset pagination), optionally in one status:
    staff and admins, operators and Orderly itself."""
    if denied := returns_handling_denied(ctx.actor, "list returns"):
        return Failure(denied)
    fields = FieldErrors()
    page = checked_page(fields, query, NEWEST_FIRST)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: ReturnsUnit) -> Result[Page[Return], Forbidden | InvalidInput]:
        found = await uow.returns.list(after=page.after, limit=page.fetch_limit, query=query)
        return Success(page.cut(found, lambda r: (r.created_at, r.id)))

    return await in_transaction(deps, ctx, work)
