"""What an order does outside itself, in its own transaction: it moves stock and announces
its events.

Placing reserves each line (``reserved += q``), cancelling or expiring releases what is left
to ship, each shipment consumes what it carries (``on_hand -= q`` and ``reserved -= q``).
Product rows are locked in SKU order, so orders sharing products never deadlock. Each movement
goes to the stock ledger; each event carries the order as it now is, its version ordering its
events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from orderly_core.catalogue.ledger import MovementKind
from orderly_core.catalogue.model import Product, Stock
from orderly_core.catalogue.ports import CatalogueUnit
from orderly_core.catalogue.stock import record_movement
from orderly_core.orders.model import Order, OrderStatus, order_view
from orderly_core.orders.ports import OrdersServices, OrdersUnit
from orderly_core.platform.outbox import EventType
from orderly_core.platform.ports import Services
from orderly_core.platform.versions import announce_version
from orderly_core.shared.context import Context


async def move_stock(
    deps: OrdersServices,
    uow: OrdersUnit,
    ctx: Context,
    order: Order,
    *,
    kind: MovementKind,
    products: dict[str, Product] | None = None,
) -> None:
    """Apply one stock effect to every line of ``order`` (all its units), rows locked in SKU
    order."""
    units = {line.sku: line.quantity for line in order.lines}
    await move_units(deps, uow, ctx, units, kind=kind, reference=str(order.id), products=products)


async def move_units(
    deps: Services[CatalogueUnit],
    uow: CatalogueUnit,
    ctx: Context,
    units: Mapping[str, int],
    *,
    kind: MovementKind,
    reference: str,
    products: dict[str, Product] | None = None,
) -> None:
    """Apply one stock effect to ``units`` (SKU: quantity) of an order's products, rows locked
    in SKU order, with one ledger movement per SKU naming ``reference`` (the order, or the
    shipment that carried the units)."""
    moving = {sku: quantity for sku, quantity in units.items() if quantity > 0}
    if not moving:
        return
    if products is None:
        products = await uow.products.get_many(sorted(moving), for_update=True)
    now = deps.clock.now()
    for sku in sorted(moving):
        quantity = moving[sku]
        delta = {
            MovementKind.RESERVATION: Stock(0, quantity),
            MovementKind.RELEASE: Stock(0, -quantity),
            MovementKind.SHIPMENT: Stock(-quantity, -quantity),
        }[kind]
        product = products[sku]
        stock = Stock(
            product.stock.on_hand + delta.on_hand, product.stock.reserved + delta.reserved
        )
        moved = replace(product, stock=stock).bumped(now)
        await uow.products.save(moved)
        await record_movement(
            deps,
            uow,
            ctx,
            product=moved,
            kind=kind,
            delta=delta,
            note=f"order {kind.value}",
            reference=reference,
        )


EVENT_OF = {
    OrderStatus.PAID: EventType.ORDER_PAID,
    OrderStatus.PARTIALLY_SHIPPED: EventType.ORDER_PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED: EventType.ORDER_SHIPPED,
    OrderStatus.DELIVERED: EventType.ORDER_DELIVERED,
    OrderStatus.CANCELLED: EventType.ORDER_CANCELLED,
}


async def announce(
    deps: Services[OrdersUnit],
    uow: OrdersUnit,
    ctx: Context,
    event_type: EventType,
    order: Order,
    *,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """The order's event, with the order as it now is (and ``extra`` members, such as the
    payment that paid it); its version orders its events."""
    await announce_version(
        deps, uow, ctx, event_type, order, subject_type="order", view=order_view, extra=extra
    )
