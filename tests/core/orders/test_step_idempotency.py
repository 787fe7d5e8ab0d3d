"""Idempotency keys on orders, on the fakes and on PostgreSQL: a key names one request, the
whole of it (which order, which step, which customer, which reason), and the refusals that
are outcomes are answered again to its retries."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from orderly_core.catalogue.use_cases import ArchiveRequest, archive_product
from orderly_core.orders.errors import (
    IllegalTransition,
    MixedCurrencies,
    OrderNotFound,
    OutOfStock,
    ProductsUnavailable,
    ShortLine,
)
from orderly_core.orders.model import Order, OrderStatus
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.reading import get_order
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.idempotency import KeyReused, Replayed, RequestInFlight
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.shared.errors import VersionConflict
from orderly_core.shipments.steps import cancel_order, deliver_order, ship_order
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import OPERATOR, STAFF, ctx, err, fresh, make_product, ok, pay_order, stored
from tests.core.orders.accounts import add_account

pytestmark = pytest.mark.postgres

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)
BOB = Actor.user("00000000-0000-0000-0000-0000000000b2", Role.CUSTOMER)


def keyed(actor: Actor, key: str) -> Context:
    return Context(actor=actor, request_id=f"req-{key}", idempotency_key=key)


def mugs(quantity: int = 1, customer_id: str | None = None) -> NewOrder:
    return NewOrder((LineRequest("MUG-1", quantity),), customer_id=customer_id)


async def placed_order(deps: Dependencies) -> Order:
    return fresh(await place_order(deps, ctx(ANN), mugs())).order


async def status_of(deps: Dependencies, order: Order) -> OrderStatus:
    return ok(await get_order(deps, ctx(STAFF), str(order.id))).status


async def test_a_step_key_reused_for_another_order_is_refused(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    first = await placed_order(deps)
    second = await placed_order(deps)
    fresh(await pay_order(deps, keyed(STAFF, "pay-1"), OrderStep(str(first.id))))

    reused = err(await pay_order(deps, keyed(STAFF, "pay-1"), OrderStep(str(second.id))))

    assert reused == KeyReused("pay-1", "payment.record")
    assert await status_of(deps, second) is OrderStatus.PLACED


async def test_a_cancellation_key_reused_with_another_reason_is_refused(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    placed = await placed_order(deps)
    step = OrderStep(str(placed.id))
    fresh(await cancel_order(deps, keyed(ANN, "cancel-1"), step, "too slow"))

    reused = err(await cancel_order(deps, keyed(ANN, "cancel-1"), step, "found it cheaper"))
    again = ok(await cancel_order(deps, keyed(ANN, "cancel-1"), step, "too slow"))

    assert reused == KeyReused("cancel-1", "order.cancelled")
    assert isinstance(again, Replayed)
    assert again.original.cancel_reason == "too slow"


async def test_one_key_names_one_request_of_each_step(deps: Dependencies) -> None:
    """Shipping and delivering carry the same payload (the order); with the same key they
    are still two requests, each done once."""
    await make_product(deps, "MUG-1", on_hand=10)
    placed = await placed_order(deps)
    step = OrderStep(str(placed.id))
    fresh(await pay_order(deps, keyed(STAFF, "warehouse-7"), step))

    shipped = fresh(await ship_order(deps, keyed(STAFF, "warehouse-7"), step))
    delivered = fresh(await deliver_order(deps, keyed(STAFF, "warehouse-7"), step))

    assert (shipped.status, delivered.status) == (OrderStatus.SHIPPED, OrderStatus.DELIVERED)
    assert ok(await ship_order(deps, keyed(STAFF, "warehouse-7"), step)) == Replayed(shipped)
    assert await status_of(deps, placed) is OrderStatus.DELIVERED


async def test_an_illegal_step_is_an_outcome_its_retry_gets_again(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    placed = await placed_order(deps)
    step = OrderStep(str(placed.id))
    refused = err(await ship_order(deps, keyed(STAFF, "ship-1"), step))
    assert refused == IllegalTransition(str(placed.id), "placed", "shipped")
    fresh(await pay_order(deps, ctx(STAFF), step))  # now it could be shipped

    retried = err(await ship_order(deps, keyed(STAFF, "ship-1"), step))

    assert retried == Replayed(refused)
    assert await status_of(deps, placed) is OrderStatus.PAID


async def test_a_version_conflict_is_an_outcome_its_retry_gets_again(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    placed = await placed_order(deps)
    stale = OrderStep(str(placed.id), expected_version=2)
    refused = err(await cancel_order(deps, keyed(ANN, "cancel-2"), stale))
    assert refused == VersionConflict("order", str(placed.id), 2, 1)

    retried = err(await cancel_order(deps, keyed(ANN, "cancel-2"), stale))

    assert retried == Replayed(refused)
    assert await status_of(deps, placed) is OrderStatus.PLACED


async def test_an_unknown_order_is_an_outcome_its_retry_gets_again(deps: Dependencies) -> None:
    missing = str(uuid.UUID(int=7))
    refused = err(await cancel_order(deps, keyed(ANN, "cancel-2"), OrderStep(missing)))
    assert refused == OrderNotFound(missing)

    retried = err(await cancel_order(deps, keyed(ANN, "cancel-2"), OrderStep(missing)))

    assert retried == Replayed(refused)


async def test_a_placement_key_reused_for_another_customer_is_refused(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    await add_account(deps, ANN.id, "ann@example.com")
    await add_account(deps, BOB.id, "bob@example.com")
    anns = fresh(await place_order(deps, keyed(OPERATOR, "phone-1"), mugs(2, ANN.id))).order

    for_bob = err(await place_order(deps, keyed(OPERATOR, "phone-1"), mugs(2, BOB.id)))
    for_ann = ok(await place_order(deps, keyed(OPERATOR, "phone-1"), mugs(2, ANN.id)))

    assert for_bob == KeyReused("phone-1", "order.place")
    assert isinstance(for_ann, Replayed)
    assert for_ann.original.order == anns
    assert (await stored(deps, "MUG-1")).stock.reserved == 2  # type: ignore[union-attr]


async def test_unavailable_products_are_an_outcome_its_retry_gets_again(
    deps: Dependencies,
) -> None:
    refused = err(await place_order(deps, keyed(ANN, "cart-1"), mugs()))
    assert refused == ProductsUnavailable(("MUG-1",))
    await make_product(deps, "MUG-1", on_hand=10)  # the world changes; the answer does not

    retried = err(await place_order(deps, keyed(ANN, "cart-1"), mugs()))

    assert retried == Replayed(refused)
    assert (await stored(deps, "MUG-1")).stock.reserved == 0  # type: ignore[union-attr]


async def test_mixed_currencies_are_an_outcome_its_retry_gets_again(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    await make_product(deps, "YEN-1", on_hand=10, unit_price=500, currency="JPY")
    cart = NewOrder((LineRequest("MUG-1", 1), LineRequest("YEN-1", 1)))
    refused = err(await place_order(deps, keyed(ANN, "cart-2"), cart))
    assert refused == MixedCurrencies(("EUR", "JPY"))
    fresh(await archive_product(deps, ctx(), ArchiveRequest("YEN-1")))

    retried = err(await place_order(deps, keyed(ANN, "cart-2"), cart))

    assert retried == Replayed(refused)


async def test_concurrent_retries_of_a_refusal_each_get_it(pg_deps: Dependencies) -> None:
    """Twenty clients send one placement that is refused, each retrying while it is told the
    first is still running: each ends with the refusal, fresh or replayed, and none fails."""
    await make_product(pg_deps, "MUG-1", on_hand=1)
    first = OutOfStock((ShortLine("MUG-1", 5, 1),))

    async def client() -> object:
        while True:
            answer = err(await place_order(pg_deps, keyed(ANN, "cart-9"), mugs(5)))
            if not isinstance(answer, RequestInFlight):
                return answer
            await asyncio.sleep(0)

    answers = await asyncio.gather(*(client() for _ in range(20)), return_exceptions=True)

    assert [a for a in answers if isinstance(a, BaseException)] == []
    assert all(a in (first, Replayed(first)) for a in answers)
    assert first in answers
    assert err(await place_order(pg_deps, keyed(ANN, "cart-9"), mugs(5))) == Replayed(first)
