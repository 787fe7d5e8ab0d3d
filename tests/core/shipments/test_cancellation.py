"""Cancelling what remains of a paid order: its stock released, what the cancelled units cost
refunded through the provider (shipping only when the whole order is cancelled before anything
shipped), its status following; and the whole-order cancel of a paid order refunds it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orderly_core.orders.model import OrderStatus
from orderly_core.orders.placement import place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.payments.model import RefundStatus
from orderly_core.payments.ports import ProviderUnavailable
from orderly_core.payments.refunds import OrderRefund, refund_order
from orderly_core.platform.idempotency import Replayed
from orderly_core.shared.context import Context, Mode
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shipments.errors import ExceedsRemaining, OrderNotFulfillable, RemainingLine
from orderly_core.shipments.model import ShipmentLine
from orderly_core.shipments.steps import (
    RemainderCancellation,
    cancel_order,
    cancel_remainder,
)
from orderly_core.shipments.use_cases import ShipmentStep, create_shipment, deliver_shipment
from orderly_core.testing.payments import FakePaymentProvider
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, STAFF, ctx, err, fresh, ok, order, pay_order, stored
from tests.core.shipments.helpers import (
    assert_conserved,
    events_now,
    order_now,
    paid_order,
    refunds_now,
    shipping,
)


@pytest.fixture
def shop(deps: Dependencies) -> Dependencies:
    """A shop whose staff record payments by hand and refund through a scripted provider."""
    return replace(deps, payment_provider=FakePaymentProvider(settles_by_event=False))


def lines(*pairs: tuple[str, int]) -> tuple[ShipmentLine, ...]:
    return tuple(ShipmentLine(sku, quantity) for sku, quantity in pairs)


async def test_cancelling_some_remaining_units_releases_and_refunds_them(
    shop: Dependencies,
) -> None:
    paid = await paid_order(shop, ("MUG-1", 3), ("CUP-1", 2))
    fresh(await create_shipment(shop, ctx(STAFF), shipping(paid, ("MUG-1", 2))))

    done = fresh(
        await cancel_remainder(
            shop, ctx(STAFF), RemainderCancellation(str(paid.id), lines(("CUP-1", 1)), "gone")
        )
    )

    assert done.order.status is OrderStatus.PARTIALLY_SHIPPED
    assert [(line.sku, line.cancelled, line.unshipped) for line in done.order.lines] == [
        ("MUG-1", 0, 1),
        ("CUP-1", 1, 1),
    ]
    assert [(r.amount.amount, r.status, r.reason) for r in done.refunds] == [
        (1000, RefundStatus.SUCCEEDED, "gone")
    ]
    cup = await stored(shop, "CUP-1")
    assert cup is not None
    assert (cup.stock.on_hand, cup.stock.reserved) == (50, 1)
    await assert_conserved(shop, paid.id)


async def test_cancelling_all_that_remains_of_a_partly_shipped_order_ships_it(
    shop: Dependencies,
) -> None:
    paid = await paid_order(shop, ("MUG-1", 3), express=True)
    first = fresh(await create_shipment(shop, ctx(STAFF), shipping(paid, ("MUG-1", 1))))

    done = fresh(await cancel_remainder(shop, ctx(STAFF), RemainderCancellation(str(paid.id))))
    fresh(await deliver_shipment(shop, ctx(STAFF), ShipmentStep(str(first.id))))

    assert done.order.status is OrderStatus.SHIPPED
    assert [r.amount.amount for r in done.refunds] == [2000]  # shipping is kept: it shipped
    assert (await order_now(shop, paid.id)).status is OrderStatus.DELIVERED
    await assert_conserved(shop, paid.id)
    types = [e.type.value for e in await events_now(shop)]
    assert "order.shipped" in types
    assert types[-1] == "order.delivered"


async def test_cancelling_the_rest_once_all_shipped_was_delivered_delivers_the_order(
    shop: Dependencies,
) -> None:
    paid = await paid_order(shop, ("MUG-1", 3))
    first = fresh(await create_shipment(shop, ctx(STAFF), shipping(paid, ("MUG-1", 2))))
    fresh(await deliver_shipment(shop, ctx(STAFF), ShipmentStep(str(first.id))))

    done = fresh(await cancel_remainder(shop, ctx(STAFF), RemainderCancellation(str(paid.id))))

    assert done.order.status is OrderStatus.DELIVERED
    await assert_conserved(shop, paid.id)


async def test_cancelling_everything_before_anything_shipped_refunds_the_shipping_too(
    shop: Dependencies,
) -> None:
    paid = await paid_order(shop, ("MUG-1", 2), express=True)

    done = fresh(await cancel_remainder(shop, ctx(STAFF), RemainderCancellation(str(paid.id))))

    assert done.order.status is OrderStatus.CANCELLED
    assert done.order.cancel_reason == "cancelled"
    assert paid.shipping_price == 1500
    assert sum(r.amount.amount for r in done.refunds) == 2000 + 1500
    mug = await stored(shop, "MUG-1")
    assert mug is not None
    assert (mug.stock.on_hand, mug.stock.reserved) == (50, 0)
    await assert_conserved(shop, paid.id)


async def test_a_cancelled_paid_order_is_refunded_in_full(shop: Dependencies) -> None:
    paid = await paid_order(shop, ("MUG-1", 2), express=True)

    cancelled = fresh(await cancel_order(shop, ctx(ANN), OrderStep(str(paid.id)), "too late"))

    refunds = await refunds_now(shop, paid.id)
    assert cancelled.status is OrderStatus.CANCELLED
    assert [(r.amount.amount, r.status) for r in refunds] == [(3500, RefundStatus.SUCCEEDED)]
    await assert_conserved(shop, paid.id)


async def test_a_cancelled_unpaid_order_refunds_nothing(shop: Dependencies) -> None:
    await paid_order(shop, ("MUG-1", 1))  # makes the product
    placed = fresh(await place_order(shop, ctx(ANN), order(("MUG-1", 2)))).order

    fresh(await cancel_order(shop, ctx(ANN), OrderStep(str(placed.id))))

    assert await refunds_now(shop, placed.id) == []
    await assert_conserved(shop, placed.id)


async def test_a_refund_made_before_is_not_made_twice(shop: Dependencies) -> None:
    paid = await paid_order(shop, ("MUG-1", 2))
    fresh(await refund_order(shop, ctx(STAFF), OrderRefund(str(paid.id), 1500, "goodwill")))

    fresh(await cancel_order(shop, ctx(STAFF), OrderStep(str(paid.id))))

    refunds = await refunds_now(shop, paid.id)
    assert [r.amount.amount for r in refunds] == [1500, 500]  # never more than was paid


async def test_a_refund_the_provider_cannot_take_now_stays_pending(shop: Dependencies) -> None:
    provider = FakePaymentProvider(settles_by_event=False, refund_answer=ProviderUnavailable("x"))
    shop = replace(shop, payment_provider=provider)
    paid = await paid_order(shop, ("MUG-1", 2))

    done = fresh(
        await cancel_remainder(
            shop, ctx(STAFF), RemainderCancellation(str(paid.id), lines(("MUG-1", 1)))
        )
    )

    assert [(r.amount.amount, r.status) for r in done.refunds] == [(1000, RefundStatus.PENDING)]
    assert done.order.status is OrderStatus.PAID


async def test_a_retried_cancellation_cancels_and_refunds_once(shop: Dependencies) -> None:
    paid = await paid_order(shop, ("MUG-1", 3))
    keyed = Context(actor=STAFF, request_id="req-c", idempotency_key="c-1")
    request = RemainderCancellation(str(paid.id), lines(("MUG-1", 1)))

    first = fresh(await cancel_remainder(shop, keyed, request))
    again = ok(await cancel_remainder(shop, keyed, request))

    assert isinstance(again, Replayed)
    assert again.original.order == first.order
    assert len(await refunds_now(shop, paid.id)) == 1
    assert (await order_now(shop, paid.id)).lines[0].cancelled == 1


async def test_a_dry_run_cancels_and_refunds_nothing(shop: Dependencies) -> None:
    paid = await paid_order(shop, ("MUG-1", 3))
    dry = Context(actor=STAFF, request_id="req-dry", mode=Mode.DRY_RUN)

    preview = fresh(await cancel_remainder(shop, dry, RemainderCancellation(str(paid.id))))

    assert preview.order.status is OrderStatus.CANCELLED
    assert await order_now(shop, paid.id) == paid
    assert await refunds_now(shop, paid.id) == []


async def test_what_may_not_be_cancelled(shop: Dependencies) -> None:
    paid = await paid_order(shop, ("MUG-1", 2))
    placed = fresh(await place_order(shop, ctx(ANN), order(("MUG-1", 1)))).order
    whole = RemainderCancellation(str(paid.id))

    assert isinstance(err(await cancel_remainder(shop, ctx(ANN), whole)), Forbidden)
    assert err(
        await cancel_remainder(shop, ctx(STAFF), RemainderCancellation(str(placed.id)))
    ) == OrderNotFulfillable(str(placed.id), "placed")
    too_many = RemainderCancellation(str(paid.id), lines(("MUG-1", 3)))
    assert err(await cancel_remainder(shop, ctx(STAFF), too_many)) == ExceedsRemaining(
        str(paid.id), (RemainingLine("MUG-1", 3, 2),)
    )
    bad = RemainderCancellation(str(paid.id), lines(("MUG-1", 1)), "x\x00")
    assert isinstance(err(await cancel_remainder(shop, ctx(STAFF), bad)), InvalidInput)
    fresh(await pay_order(shop, ctx(STAFF), OrderStep(str(placed.id))))
    assert (await order_now(shop, paid.id)) == paid
