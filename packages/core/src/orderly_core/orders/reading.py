"""Reading orders: one order, pages of orders, and what an order holds (its payments, refunds,
shipments, returns), each actor seeing what is theirs to see."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from returns.result import Failure, Result, Success

from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.model import Order, OrderQuery
from orderly_core.orders.ports import OrdersServices, OrdersUnit
from orderly_core.orders.steps import visible_order
from orderly_core.platform.ports import Services
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import customer_filter_for_listing, may_see_order
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.paging import NEWEST_FIRST, Page, checked_page
from orderly_core.shared.validation import FieldErrors, parse_id


async def get_order(
    deps: OrdersServices, ctx: Context, order_id: str
) -> Result[Order, OrderNotFound]:
    """One order. Customers see only their own: anyone else's is 'not found'."""

    async def work(uow: OrdersUnit) -> Result[Order, OrderNotFound]:
        wanted = parse_id(order_id)
        order = await uow.orders.get(wanted) if wanted else None
        if order is None or not may_see_order(ctx.actor, order.customer_id):
            return Failure(OrderNotFound(order_id))
        return Success(order)

    return await in_transaction(deps, ctx, work)


async def order_records[U: OrdersUnit, T](
    deps: Services[U],
    ctx: Context,
    order_id: str,
    records: Callable[[U, uuid.UUID], Awaitable[Sequence[T]]],
) -> Result[tuple[T, ...], OrderNotFound]:
    """What ``records`` reads of the order ``order_id`` names (its payments, its shipments...),
    if the actor may see the order: customers see their own orders' only, anyone else's
    order is not found."""

    async def work(uow: U) -> Result[tuple[T, ...], OrderNotFound]:
        order = await visible_order(uow, ctx, order_id, for_update=False)
        if isinstance(order, OrderNotFound):
            return Failure(order)
        return Success(tuple(await records(uow, order.id)))

    return await in_transaction(deps, ctx, work)


async def list_orders(
    deps: OrdersServices, ctx: Context, query: OrderQuery
) -> Result[Page[Order], Forbidden | InvalidInput]:
    """Orders newest first (keyset pagination). Customers see their own; staff see all and
    may filter by status, customer and a time range [since, until)."""
    customer = customer_filter_for_listing(ctx.actor, query.customer_id)
    if isinstance(customer, Forbidden):
        return Failure(customer)
    fields = FieldErrors()
    if query.customer_id not in (None, customer):
        # A customer's listing is their own whatever they named, but what they sent is text.
        fields.text("customer_id", query.customer_id)
    query = replace(query, customer_id=customer)
    page = checked_page(fields, query, NEWEST_FIRST)
    fields.time_range(query.since, query.until)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: OrdersUnit) -> Result[Page[Order], Forbidden | InvalidInput]:
        found = await uow.orders.list(after=page.after, limit=page.fetch_limit, query=query)
        return Success(page.cut(found, lambda o: (o.placed_at, o.id)))

    return await in_transaction(deps, ctx, work)
