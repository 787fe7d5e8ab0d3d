"""Domain events go to the outbox in the transaction of their change, on the fakes and on
PostgreSQL: committed changes tell of themselves once; refused, rolled-back and dry-run ones
say nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from returns.pipeline import is_successful

from orderly_core.catalogue.use_cases import (
    ProductChanges,
    StockAdjustment,
    adjust_stock,
    update_product,
)
from orderly_core.orders.model import order_view
from orderly_core.orders.placement import place_order
from orderly_core.orders.steps import OrderStep, expire_orders
from orderly_core.payments.manual import ManualPayment, record_manual_payment
from orderly_core.platform.outbox import Event, EventType, json_ready
from orderly_core.shared.context import Actor, Context, Mode
from orderly_core.shared.errors import InvalidInput
from orderly_core.shipments.steps import cancel_order
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, STAFF, ctx, err, fresh, make_product, order, pay_order


def as_ann(request_id: str = "req-ann", mode: Mode = Mode.EXECUTE) -> Context:
    return Context(actor=ANN, request_id=request_id, mode=mode)


async def published(deps: Dependencies) -> list[Event]:
    """Every event not yet dispatched, oldest first (read in a transaction that rolls back)."""
    async with deps.unit_of_work() as uow:
        return await uow.outbox.claim(1000)


async def test_each_step_of_an_order_is_an_event_numbered_by_the_orders_version(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    placed = fresh(await place_order(deps, as_ann("req-place"), order(("MUG-1", 2)))).order
    staff = Context(actor=STAFF, request_id="req-pay")
    paid = fresh(await pay_order(deps, staff, OrderStep(str(placed.id))))
    cancelled = fresh(
        await cancel_order(deps, as_ann("req-cancel"), OrderStep(str(placed.id)), "too late")
    )

    events = await published(deps)

    assert [(e.type, e.subject, e.sequence, e.request_id) for e in events] == [
        (EventType.ORDER_PLACED, f"order:{placed.id}", 1, "req-place"),
        (EventType.PAYMENT_SUCCEEDED, events[1].subject, 1, "req-pay"),
        (EventType.ORDER_PAID, f"order:{placed.id}", 2, "req-pay"),
        (EventType.ORDER_CANCELLED, f"order:{placed.id}", 3, "req-cancel"),
    ]
    assert events[0].data == json_ready(order_view(placed))
    payment = events[2].data["payment"]  # order.paid carries the payment that paid it
    assert events[2].data == json_ready(order_view(paid)) | {"payment": payment}
    assert events[1].subject == f"payment:{payment['id']}"
    assert (payment["status"], payment["amount"]) == ("succeeded", placed.total.amount)
    assert events[3].data["cancel_reason"] == "too late"
    assert events[3].data == json_ready(order_view(cancelled))
    assert events[0].data["created_at"].endswith("Z")


async def test_refusals_dry_runs_and_replays_tell_nothing(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=3)
    keyed = Context(actor=ANN, request_id="req-1", idempotency_key="cart-1")
    placed = fresh(await place_order(deps, keyed, order(("MUG-1", 1)))).order
    before = await published(deps)

    await place_order(deps, keyed, order(("MUG-1", 1)))  # a replay
    err(await place_order(deps, as_ann(), order(("MUG-1", 5))))  # out of stock
    fresh(await place_order(deps, as_ann(mode=Mode.DRY_RUN), order(("MUG-1", 1))))
    staff = Context(actor=STAFF, request_id="req-2", mode=Mode.DRY_RUN)
    fresh(await pay_order(deps, staff, OrderStep(str(placed.id))))
    too_much = ManualPayment(str(placed.id), placed.total.amount + 1, "too much")
    err(await record_manual_payment(deps, ctx(STAFF), too_much))

    assert await published(deps) == before
    assert len(before) == 1


async def test_an_expired_order_is_cancelled_with_reason_expired(deps: Dependencies) -> None:
    clock = FixedClock()
    deps = replace(deps, clock=clock)
    await make_product(deps, "MUG-1", on_hand=3)
    placed = fresh(await place_order(deps, as_ann(), order(("MUG-1", 1)))).order
    clock.advance(timedelta(minutes=31))

    report = await expire_orders(deps, Context(Actor.system("scheduler"), "req-expire"))

    assert is_successful(report)
    last = (await published(deps))[-1]
    assert (last.type, last.subject, last.request_id) == (
        EventType.ORDER_CANCELLED,
        f"order:{placed.id}",
        "req-expire",
    )
    assert last.data["cancel_reason"] == "expired"


async def test_stock_low_is_told_once_each_time_available_falls_below_the_threshold(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", on_hand=10, low_stock_threshold=5)

    fresh(await place_order(deps, as_ann(), order(("MUG-1", 5))))  # available 5: not below
    assert [e.type for e in await published(deps)] == [EventType.ORDER_PLACED]
    fresh(await place_order(deps, as_ann(), order(("MUG-1", 1))))  # 4: below
    fresh(await place_order(deps, as_ann(), order(("MUG-1", 1))))  # 3: still below
    fresh(await adjust_stock(deps, ctx(), StockAdjustment("MUG-1", 10, "delivery")))  # 13
    fresh(await adjust_stock(deps, ctx(), StockAdjustment("MUG-1", -12, "breakage")))  # 1

    low = [e for e in await published(deps) if e.type is EventType.STOCK_LOW]
    assert [(e.subject, e.data["available"], e.data["low_stock_threshold"]) for e in low] == [
        ("product:MUG-1", 4, 5),
        ("product:MUG-1", 1, 5),
    ]
    assert low[0].sequence < low[1].sequence


async def test_the_threshold_is_a_product_field_with_rules(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)

    changed = fresh(
        await update_product(deps, ctx(), ProductChanges("MUG-1", low_stock_threshold=3))
    )
    refused = err(
        await update_product(deps, ctx(), ProductChanges("MUG-1", low_stock_threshold=-1))
    )

    assert (changed.low_stock_threshold, changed.version) == (3, 2)
    assert isinstance(refused, InvalidInput)
    assert [e.field for e in refused.errors] == ["low_stock_threshold"]
