"""Reading an order's payments and refunds: its owner and staff."""

from __future__ import annotations

from returns.result import Failure, Result, Success

from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.steps import visible_order
from orderly_core.payments.model import Payment, Refund
from orderly_core.payments.ports import PaymentsServices, PaymentsUnit
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.context import Context


async def list_payments(
    deps: PaymentsServices, ctx: Context, order_id: str
) -> Result[tuple[Payment, ...], OrderNotFound]:
    """An order's payments, oldest first. Customers see their own orders' only: anyone
    else's order is 'not found'."""

    async def work(uow: PaymentsUnit) -> Result[tuple[Payment, ...], OrderNotFound]:
        order = await visible_order(uow, ctx, order_id, for_update=False)
        if isinstance(order, OrderNotFound):
            return Failure(order)
        return Success(tuple(await uow.payments.of_order(order.id)))

    return await in_transaction(deps, ctx, work)


async def list_refunds(
    deps: PaymentsServices, ctx: Context, order_id: str
) -> Result[tuple[Refund, ...], OrderNotFound]:
    """An order's refunds, oldest first. Customers see their own orders' only."""

    async def work(uow: PaymentsUnit) -> Result[tuple[Refund, ...], OrderNotFound]:
        order = await visible_order(uow, ctx, order_id, for_update=False)
        if isinstance(order, OrderNotFound):
            return Failure(order)
        return Success(tuple(await uow.refunds.of_order(order.id)))

    return await in_transaction(deps, ctx, work)
