"""Asking for a return: delivered units only, within the window, never more than was
delivered and not yet returned or asked for; idempotent, dry-runnable, announced; and
reading returns back."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.placement import place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.idempotency import Replayed
from orderly_core.returns.errors import (
    NothingDelivered,
    OverLine,
    ReturnExceedsDelivered,
    ReturnNotFound,
    ReturnWindowClosed,
)
from orderly_core.returns.model import ReturnQuery, ReturnStatus
from orderly_core.returns.requests import (
    ReturnLineRequest,
    ReturnRequest,
    get_return,
    list_order_returns,
    list_returns,
    request_return,
)
from orderly_core.returns.steps import ReturnDecision, reject_return
from orderly_core.shared.context import Actor, Mode
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, BOB, STAFF, ctx, err, fresh, ok, order, pay_order
from tests.core.payments.helpers import audit_entries, event_types, keyed
from tests.core.returns.helpers import asking, delivered, later, returns_shop


async def test_a_customer_asks_to_return_delivered_units(deps: Dependencies) -> None:
    deps, _, _ = await returns_shop(deps)
    bought = await delivered(deps)

    ret = fresh(await request_return(deps, keyed(ANN, "r-1"), asking(bought.id, ("mug-1", 2))))

    assert ret.status is ReturnStatus.REQUESTED
    assert [(line.sku, line.quantity, line.reason) for line in ret.lines] == [
        ("MUG-1", 2, "too small")
    ]
    assert ret.requested_by == f"user:{ANN.id}"
    assert "return.requested" in await event_types(deps)
    [entry] = await audit_entries(deps, "return")
    assert entry.operation == "return.request"
    assert ok(await get_return(deps, ctx(ANN), str(ret.id))) == ret


async def test_only_delivered_orders_may_be_returned(deps: Dependencies) -> None:
    deps, _, _ = await returns_shop(deps)
    placed = fresh(await place_order(deps, keyed(ANN), order(("MUG-1", 1)))).order
    fresh(await pay_order(deps, ctx(STAFF), OrderStep(str(placed.id))))

    refused = err(await request_return(deps, keyed(ANN), asking(placed.id, ("MUG-1", 1))))

    assert refused == NothingDelivered(str(placed.id))


async def test_the_window_closes_return_window_days_after_delivery(deps: Dependencies) -> None:
    deps, _, clock = await returns_shop(deps)
    deps = replace(deps, return_window=timedelta(days=14))
    bought = await delivered(deps)
    assert bought.delivered_at is not None

    later(clock, 14)
    fresh(await request_return(deps, keyed(ANN), asking(bought.id, ("MUG-1", 1))))
    clock.advance(timedelta(seconds=1))
    refused = err(await request_return(deps, keyed(ANN), asking(bought.id, ("MUG-1", 1))))

    assert refused == ReturnWindowClosed(str(bought.id), bought.delivered_at + timedelta(days=14))


async def test_open_returns_claim_their_units_and_a_rejected_one_gives_them_back(
    deps: Dependencies,
) -> None:
    deps, _, _ = await returns_shop(deps)
    bought = await delivered(deps)  # 3 mugs, 2 cups
    first = fresh(await request_return(deps, keyed(ANN), asking(bought.id, ("MUG-1", 2))))

    over = err(
        await request_return(
            deps, keyed(ANN), asking(bought.id, ("MUG-1", 2), ("CUP-2", 3), ("TEA-9", 1))
        )
    )
    fresh(await reject_return(deps, ctx(STAFF), ReturnDecision(str(first.id), "worn")))
    again = fresh(await request_return(deps, keyed(ANN), asking(bought.id, ("MUG-1", 3))))

    assert over == ReturnExceedsDelivered(
        (OverLine("MUG-1", 2, 1), OverLine("CUP-2", 3, 2), OverLine("TEA-9", 1, 0))
    )
    assert again.lines[0].quantity == 3


async def test_nobody_returns_an_order_they_may_not_see(deps: Dependencies) -> None:
    deps, _, _ = await returns_shop(deps)
    bought = await delivered(deps)
    ret = fresh(await request_return(deps, keyed(ANN), asking(bought.id, ("MUG-1", 1))))

    assert err(
        await request_return(deps, keyed(BOB), asking(bought.id, ("MUG-1", 1)))
    ) == OrderNotFound(str(bought.id))
    assert isinstance(
        err(await request_return(deps, keyed(Actor.anonymous()), asking(bought.id, ("MUG-1", 1)))),
        Forbidden,
    )
    assert err(await get_return(deps, ctx(BOB), str(ret.id))) == ReturnNotFound(str(ret.id))
    assert err(await get_return(deps, ctx(ANN), "not-an-id")) == ReturnNotFound("not-an-id")
    assert err(await list_order_returns(deps, ctx(BOB), str(bought.id))) == OrderNotFound(
        str(bought.id)
    )


async def test_every_broken_rule_of_a_request_is_listed(deps: Dependencies) -> None:
    deps, _, _ = await returns_shop(deps)
    bought = await delivered(deps)
    lines = (
        ReturnLineRequest("MUG-1", 0, "a\x00b"),
        ReturnLineRequest("mug-1", 1, "   "),
        ReturnLineRequest("MUG\u0130", 1, "x" * 256),
        ReturnLineRequest("CUP-2", 1001, "ok"),
    )

    refused = err(await request_return(deps, keyed(ANN), ReturnRequest(str(bought.id), lines)))
    empty = err(await request_return(deps, keyed(ANN), ReturnRequest(str(bought.id), ())))

    assert isinstance(refused, InvalidInput)
    assert [e.field for e in refused.errors] == [
        "lines.0.quantity",
        "lines.0.reason",
        "lines.1.sku",
        "lines.1.reason",
        "lines.2.sku",
        "lines.2.reason",
        "lines.3.quantity",
    ]
    assert isinstance(empty, InvalidInput)
    assert [e.field for e in empty.errors] == ["lines"]


async def test_a_retried_request_returns_once_and_a_dry_run_keeps_nothing(
    deps: Dependencies,
) -> None:
    deps, _, _ = await returns_shop(deps)
    bought = await delivered(deps)
    request = asking(bought.id, ("MUG-1", 3))

    tried = fresh(await request_return(deps, keyed(ANN, "k", Mode.DRY_RUN), request))
    first = fresh(await request_return(deps, keyed(ANN, "k"), request))
    retry = ok(await request_return(deps, keyed(ANN, "k"), request))

    assert tried.status is ReturnStatus.REQUESTED
    assert isinstance(retry, Replayed)
    assert retry.original == first
    assert ok(await list_order_returns(deps, ctx(ANN), str(bought.id))) == (first,)


async def test_staff_list_every_return_newest_first_filtered_by_status(
    deps: Dependencies,
) -> None:
    deps, _, clock = await returns_shop(deps)
    made = []
    for _ in range(3):
        bought = await delivered(deps)
        made.append(fresh(await request_return(deps, keyed(ANN), asking(bought.id, ("CUP-2", 1)))))
        later(clock, 0.01)
    fresh(await reject_return(deps, ctx(STAFF), ReturnDecision(str(made[0].id))))

    first = ok(await list_returns(deps, ctx(STAFF), ReturnQuery(limit=1)))
    second = ok(
        await list_returns(deps, ctx(STAFF), ReturnQuery(limit=5, cursor=first.next_cursor))
    )
    requested = ok(await list_returns(deps, ctx(STAFF), ReturnQuery(status=ReturnStatus.REQUESTED)))

    assert [r.id for r in first.items + second.items] == [r.id for r in reversed(made)]
    assert second.next_cursor is None
    assert [r.id for r in requested.items] == [made[2].id, made[1].id]
    assert isinstance(err(await list_returns(deps, ctx(ANN), ReturnQuery())), Forbidden)
    bad = err(await list_returns(deps, ctx(STAFF), ReturnQuery(cursor="nope", limit=0)))
    assert isinstance(bad, InvalidInput)
