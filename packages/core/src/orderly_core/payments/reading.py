"""Reading an order's payments and refunds: its owner and staff."""

from __future__ import annotations

from returns.result import Result

from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.reading import order_records
from orderly_core.payments.model import Payment, Refund
from orderly_core.payments.ports import PaymentsServices
from orderly_core.shared.context import Context


async def list_payments(
    deps: PaymentsServices, ctx: Context, order_id: str
) -> Result[tuple[Payment, ...], OrderNotFound]:
    """An order's payments, oldest first. Customers see their own orders' only: anyone
    else's order is 'not found'."""
    return await order_records(
        deps, ctx, order_id, lambda uow, wanted: uow.payments.of_order(wanted)
    )


async def list_refunds(
    deps: PaymentsServices, ctx: Context, order_id: str
) -> Result[tuple[Refund, ...], OrderNotFound]:
    """An order's refunds, oldest first. Customers see their own orders' only."""
    return await order_records(
        deps, ctx, order_id, lambda uow, wanted: uow.refunds.of_order(wanted)
    )
