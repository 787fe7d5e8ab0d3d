"""Who orders for whom, who sees which orders, and who moves them: on the fakes and on
PostgreSQL (the rules are in ``orderly_core.shared.authorization``)."""

from __future__ import annotations

import pytest

from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.model import OrderQuery, OrderStatus
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.reading import list_orders
from orderly_core.orders.steps import OrderStep
from orderly_core.shared.context import Actor
from orderly_core.shared.errors import Forbidden
from orderly_core.shipments.steps import cancel_order, deliver_order, ship_order
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import (
    ANN,
    BOB,
    OPERATOR,
    STAFF,
    ctx,
    err,
    fresh,
    make_product,
    ok,
    pay_order,
)
from tests.core.orders.accounts import add_account

MUG = (LineRequest("MUG-1", 1),)


def for_customer(customer_id: str | None) -> NewOrder:
    return NewOrder(MUG, customer_id=customer_id)


async def test_an_anonymous_caller_may_not_order_even_naming_a_customer(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1")

    refusal = err(await place_order(deps, ctx(Actor.anonymous()), for_customer(ANN.id)))

    assert refusal == Forbidden("place orders")


@pytest.mark.parametrize("actor", [OPERATOR, Actor.system("scheduler")], ids=["operator", "job"])
async def test_operators_and_jobs_must_name_the_customer(deps: Dependencies, actor: Actor) -> None:
    await make_product(deps, "MUG-1")
    await add_account(deps, ANN.id, "ann@example.com")

    nameless = err(await place_order(deps, ctx(actor), for_customer(None)))
    empty = err(await place_order(deps, ctx(actor), for_customer("")))
    named = fresh(await place_order(deps, ctx(actor), for_customer(ANN.id))).order

    assert nameless == empty == Forbidden("place orders")
    assert named.customer_id == ANN.id


@pytest.mark.parametrize("actor", [ANN, STAFF], ids=["customer", "staff"])
async def test_a_user_orders_for_themself_whatever_customer_they_name(
    deps: Dependencies, actor: Actor
) -> None:
    await make_product(deps, "MUG-1")

    placed = fresh(await place_order(deps, ctx(actor), for_customer(BOB.id))).order

    assert placed.customer_id == actor.id


async def test_staff_list_every_order_and_customers_their_own(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1")
    anns = fresh(await place_order(deps, ctx(ANN), for_customer(None))).order
    bobs = fresh(await place_order(deps, ctx(BOB), for_customer(None))).order

    everyone = ok(await list_orders(deps, ctx(STAFF), OrderQuery()))
    bobs_by_staff = ok(await list_orders(deps, ctx(OPERATOR), OrderQuery(customer_id=BOB.id)))
    ann_asking_for_bobs = ok(await list_orders(deps, ctx(ANN), OrderQuery(customer_id=BOB.id)))
    anonymous = err(await list_orders(deps, ctx(Actor.anonymous()), OrderQuery()))

    assert {o.id for o in everyone.items} == {anns.id, bobs.id}
    assert [o.id for o in bobs_by_staff.items] == [bobs.id]
    assert [o.id for o in ann_asking_for_bobs.items] == [anns.id]
    assert anonymous == Forbidden("list orders")


async def test_customers_cancel_their_orders_but_never_pay_ship_or_deliver(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    shipped = fresh(await place_order(deps, ctx(ANN), for_customer(None))).order
    kept = OrderStep(str(shipped.id))
    cancelled = fresh(await place_order(deps, ctx(ANN), for_customer(None))).order

    pay_refused = err(await pay_order(deps, ctx(ANN), kept))
    fresh(await pay_order(deps, ctx(STAFF), kept))
    ship_refused = err(await ship_order(deps, ctx(ANN), kept))
    fresh(await ship_order(deps, ctx(STAFF), kept))
    deliver_refused = err(await deliver_order(deps, ctx(ANN), kept))
    someone_elses = err(await ship_order(deps, ctx(BOB), kept))
    own_cancel = fresh(await cancel_order(deps, ctx(ANN), OrderStep(str(cancelled.id))))

    assert pay_refused == Forbidden("record payments")
    assert ship_refused == Forbidden("mark orders shipped")
    assert deliver_refused == Forbidden("mark orders delivered")
    assert someone_elses == OrderNotFound(str(shipped.id))  # not even its existence shows
    assert own_cancel.status is OrderStatus.CANCELLED
    delivered = fresh(await deliver_order(deps, ctx(STAFF), kept))
    assert delivered.status is OrderStatus.DELIVERED
