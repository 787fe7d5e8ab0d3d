"""Builders shared by the returns' tests: delivered orders in a shop whose staff record
payments by hand (and whose scripted provider takes refunds), and reads of what the steps
left behind."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from orderly_core.catalogue.ledger import StockMovement
from orderly_core.catalogue.model import Product
from orderly_core.orders.model import Order
from orderly_core.orders.placement import place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.returns.model import Disposition, Return
from orderly_core.returns.requests import ReturnLineRequest, ReturnRequest, request_return
from orderly_core.returns.steps import (
    ReceivedLine,
    ReturnDecision,
    ReturnReceipt,
    approve_return,
)
from orderly_core.shared.context import Actor
from orderly_core.shipments.steps import deliver_order, ship_order
from orderly_core.testing import FixedClock
from orderly_core.testing.payments import FakePaymentProvider
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, STAFF, ctx, fresh, make_product, order, pay_order
from tests.core.payments.helpers import keyed, shop

SKUS = ("MUG-1", "CUP-2")


async def returns_shop(deps: Dependencies) -> tuple[Dependencies, FakePaymentProvider, FixedClock]:
    """A shop (manual payments, scripted refunds) selling mugs at 12.50 and cups at 4.00."""
    deps, provider, clock = shop(deps, by_event=False)
    await make_product(deps, "MUG-1", on_hand=100, unit_price=1250)
    await make_product(deps, "CUP-2", on_hand=100, unit_price=400)
    return deps, provider, clock


async def delivered(deps: Dependencies, *lines: tuple[str, int], customer: Actor = ANN) -> Order:
    """An order of ``lines`` (3 mugs and 2 cups by default), paid, shipped and delivered."""
    placed = fresh(
        await place_order(deps, keyed(customer), order(*(lines or (("MUG-1", 3), ("CUP-2", 2)))))
    )
    step = OrderStep(str(placed.order.id))
    fresh(await pay_order(deps, ctx(STAFF), step))
    fresh(await ship_order(deps, ctx(STAFF), step))
    return fresh(await deliver_order(deps, ctx(STAFF), step))


def asking(
    order_id: uuid.UUID | str, *lines: tuple[str, int], reason: str = "too small"
) -> ReturnRequest:
    return ReturnRequest(
        str(order_id), tuple(ReturnLineRequest(sku, quantity, reason) for sku, quantity in lines)
    )


def receipt(ret: Return | str, *lines: tuple[str, int, str], **fields: Any) -> ReturnReceipt:
    return_id = ret if isinstance(ret, str) else str(ret.id)
    received = tuple(ReceivedLine(sku, q, Disposition(d)) for sku, q, d in lines)
    return ReturnReceipt(return_id, received, **fields)


async def approved(deps: Dependencies, order_id: uuid.UUID, *lines: tuple[str, int]) -> Return:
    """A return of ``lines`` of the order, asked for by its customer and approved."""
    ret = fresh(await request_return(deps, keyed(ANN), asking(order_id, *lines)))
    return fresh(await approve_return(deps, ctx(STAFF), ReturnDecision(str(ret.id))))


async def product(deps: Dependencies, sku: str) -> Product:
    async with deps.unit_of_work() as uow:
        found = await uow.products.get(sku)
    assert found is not None
    return found


async def movements(deps: Dependencies, sku: str) -> list[StockMovement]:
    """The product's movements, oldest first."""
    async with deps.unit_of_work() as uow:
        found = await uow.stock_ledger.history(sku, after=None, limit=1000)
    return sorted(found, key=lambda m: (m.at, m.id))


async def stored_order(deps: Dependencies, order_id: uuid.UUID) -> Order:
    async with deps.unit_of_work() as uow:
        found = await uow.orders.get(order_id)
    assert found is not None
    return found


def later(clock: FixedClock, days: float) -> None:
    clock.advance(timedelta(days=days))
