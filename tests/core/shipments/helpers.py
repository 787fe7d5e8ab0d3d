"""Builders shared by the shipments' tests: a paid order of several lines, and the checks that
must hold after every step (units conserved per line, stock explained by the ledger)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from orderly_core.catalogue.stock import verify_stock
from orderly_core.orders.address import Address
from orderly_core.orders.model import Order, OrderQuery
from orderly_core.orders.placement import place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.payments.model import Refund
from orderly_core.platform.outbox import Event
from orderly_core.shipments.model import Shipment, ShipmentLine, Tracking
from orderly_core.shipments.use_cases import NewShipment
from orderly_core.shipping.use_cases import NewShippingRate, create_shipping_rate
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, STAFF, ctx, fresh, make_product, ok, order, pay_order

TRACKED = Tracking("DHL", "JD0001", "https://track.example/JD0001")


BERLIN = Address("Ann Example", "Hauptstr. 1", "Berlin", "DE", postal_code="10115")


async def paid_order(deps: Dependencies, *lines: tuple[str, int], express: bool = False) -> Order:
    """A paid order of these ``(sku, quantity)`` lines (each product 10.00 EUR, 50 on hand),
    shipped express (15.00 EUR) to Berlin when ``express``."""
    for sku, _ in lines:
        async with deps.unit_of_work() as uow:
            known = await uow.products.get(sku)
        if known is None:
            await make_product(deps, sku, on_hand=50, unit_price=1000)
    new = order(*lines)
    if express:
        async with deps.unit_of_work() as uow:
            known_rate = await uow.shipping_rates.get("EXPRESS")
        if known_rate is None:
            rate = NewShippingRate("express", "Express", 1500, "EUR")
            fresh(await create_shipping_rate(deps, ctx(), rate))
        new = replace(new, shipping_address=BERLIN, shipping_method="express")
    placed = fresh(await place_order(deps, ctx(ANN), new)).order
    return fresh(await pay_order(deps, ctx(STAFF), OrderStep(str(placed.id))))


def shipping(order: Order, *lines: tuple[str, int], tracking: Tracking = TRACKED) -> NewShipment:
    return NewShipment(
        str(order.id), tuple(ShipmentLine(sku, quantity) for sku, quantity in lines), tracking
    )


async def order_now(deps: Dependencies, order_id: uuid.UUID) -> Order:
    async with deps.unit_of_work() as uow:
        found = await uow.orders.get(order_id)
    assert found is not None
    return found


async def shipments_now(deps: Dependencies, order_id: uuid.UUID) -> list[Shipment]:
    async with deps.unit_of_work() as uow:
        return await uow.shipments.of_order(order_id)


async def refunds_now(deps: Dependencies, order_id: uuid.UUID) -> list[Refund]:
    async with deps.unit_of_work() as uow:
        return await uow.refunds.of_order(order_id)


async def events_now(deps: Dependencies) -> list[Event]:
    async with deps.unit_of_work() as uow:
        return await uow.outbox.claim(10_000)


async def assert_conserved(deps: Dependencies, order_id: uuid.UUID) -> None:
    """Every line's units are conserved, the shipments carry what the lines shipped, and
    every product's stock is what its ledger says."""
    found = await order_now(deps, order_id)
    carried: dict[str, int] = {}
    delivered: dict[str, int] = {}
    for shipment in await shipments_now(deps, order_id):
        for carrying in shipment.lines:
            carried[carrying.sku] = carried.get(carrying.sku, 0) + carrying.quantity
            if shipment.delivered_at is not None:
                delivered[carrying.sku] = delivered.get(carrying.sku, 0) + carrying.quantity
    for line in found.lines:
        assert line.shipped + line.cancelled + line.unshipped == line.quantity
        assert 0 <= line.unshipped <= line.quantity
        assert 0 <= line.returned <= line.delivered <= line.shipped
        assert carried.get(line.sku, 0) == line.shipped
        assert delivered.get(line.sku, 0) == line.delivered
    await assert_stock_is_ledger(deps, [line.sku for line in found.lines])
    await assert_reserved_is_unshipped(deps)


async def assert_reserved_is_unshipped(deps: Dependencies) -> None:
    """Every product's reserved stock is what the shop's orders have left to ship."""
    async with deps.unit_of_work() as uow:
        orders = await uow.orders.list(after=None, limit=10_000, query=OrderQuery())
        unshipped: dict[str, int] = {}
        for each in orders:
            for line in each.lines:
                unshipped[line.sku] = unshipped.get(line.sku, 0) + line.unshipped
        for sku, units in unshipped.items():
            product = await uow.products.get(sku)
            assert product is not None
            assert product.stock.reserved == units, sku


async def assert_stock_is_ledger(deps: Dependencies, skus: list[str]) -> None:
    report = ok(await verify_stock(deps, ctx(), repair=False))
    assert [d for d in report.drifts if d.sku in skus] == []
