"""Changing an order's contact email and shipping address until it ships: who may, the
version it applies to, the rate's countries, the audit entry and the event; on the fakes and
on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from orderly_core.orders.address import Address
from orderly_core.orders.details import OrderDetailsChange, change_order_details
from orderly_core.orders.errors import OrderNotChangeable, OrderNotFound, ShippingMethodUnavailable
from orderly_core.orders.placement import place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.outbox import EventType
from orderly_core.shared.context import Actor, Mode
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict
from orderly_core.shipments.steps import ship_order
from orderly_core.shipping.use_cases import NewShippingRate, create_shipping_rate
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, BOB, STAFF, ctx, err, fresh, make_product, order, pay_order

BERLIN = Address("Ann Example", "Hauptstr. 1", "Berlin", "DE")
PARIS = Address("Ann Example", "1 rue de Rivoli", "Paris", "fr", postal_code="75001")
BOSTON = Address("Ann Example", "1 Main St", "Boston", "US")


async def placed(deps: Dependencies) -> str:
    await make_product(deps, "MUG-1", on_hand=100)
    rate = NewShippingRate("std-eur", "Standard", 490, "EUR", ("DE", "FR"))
    fresh(await create_shipping_rate(deps, ctx(), rate))
    new = replace(order(("MUG-1", 1)), shipping_address=BERLIN, shipping_method="std-eur")
    return str(fresh(await place_order(deps, ctx(ANN), new)).order.id)


async def test_the_owner_changes_the_address_and_email_once_per_version(
    deps: Dependencies,
) -> None:
    order_id = await placed(deps)
    change = OrderDetailsChange(order_id, 1, email="Ann@Example.org", shipping_address=PARIS)

    preview = fresh(await change_order_details(deps, ctx(ANN, Mode.DRY_RUN), change))
    changed = fresh(await change_order_details(deps, ctx(ANN), change))
    stale = err(await change_order_details(deps, ctx(ANN), change))
    same = fresh(await change_order_details(deps, ctx(ANN), replace(change, expected_version=None)))

    assert preview.version == 2
    assert (changed.version, changed.email) == (2, "ann@example.org")
    assert changed.shipping_address == replace(PARIS, country="FR")
    assert (changed.shipping_method, changed.shipping.amount) == ("std-eur", 490)
    assert isinstance(stale, VersionConflict)
    assert same == changed  # nothing changes: no new version
    async with deps.unit_of_work() as uow:
        events = [e for e in await uow.outbox.claim(100) if e.type is EventType.ORDER_UPDATED]
        assert [e.sequence for e in events] == [2]
        assert events[0].data["shipping_address"]["city"] == "Paris"


async def test_staff_may_another_customer_may_not(deps: Dependencies) -> None:
    order_id = await placed(deps)
    change = OrderDetailsChange(order_id, email="orders@example.com")

    other = err(await change_order_details(deps, ctx(BOB), change))
    anonymous = err(await change_order_details(deps, ctx(Actor.anonymous()), change))
    by_staff = fresh(await change_order_details(deps, ctx(STAFF), change))

    assert other == OrderNotFound(order_id)
    assert isinstance(anonymous, Forbidden)
    assert by_staff.email == "orders@example.com"


async def test_a_shipped_order_keeps_its_details(deps: Dependencies) -> None:
    order_id = await placed(deps)
    fresh(await pay_order(deps, ctx(STAFF), OrderStep(order_id)))
    paid = fresh(
        await change_order_details(deps, ctx(ANN), OrderDetailsChange(order_id, email="a@b.de"))
    )
    fresh(await ship_order(deps, ctx(STAFF), OrderStep(order_id)))

    refused = err(
        await change_order_details(deps, ctx(STAFF), OrderDetailsChange(order_id, email="c@d.de"))
    )

    assert paid.email == "a@b.de"
    assert refused == OrderNotChangeable(order_id, "shipped")


async def test_the_new_address_is_checked_and_served_by_the_orders_rate(
    deps: Dependencies,
) -> None:
    order_id = await placed(deps)

    abroad = err(
        await change_order_details(
            deps, ctx(ANN), OrderDetailsChange(order_id, shipping_address=BOSTON)
        )
    )
    broken = err(
        await change_order_details(
            deps,
            ctx(ANN),
            OrderDetailsChange(order_id, shipping_address=replace(BERLIN, city="\x00")),
        )
    )
    nothing = err(await change_order_details(deps, ctx(ANN), OrderDetailsChange(order_id)))
    not_email = err(
        await change_order_details(deps, ctx(ANN), OrderDetailsChange(order_id, email="no"))
    )

    assert abroad == ShippingMethodUnavailable("std-eur", "US", "EUR")
    assert isinstance(broken, InvalidInput)
    assert [e.field for e in broken.errors] == ["shipping_address.city"]
    assert isinstance(nothing, InvalidInput)
    assert [e.field for e in nothing.errors] == ["changes"]
    assert isinstance(not_email, InvalidInput)
