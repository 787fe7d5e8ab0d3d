"""Approving, rejecting and receiving returns: staff only, once each; receiving restocks or
writes off every unit (the ledger explains both), counts them returned on the order, and
refunds them once at the prices the order captured."""

from __future__ import annotations

from orderly_core.catalogue.ledger import MovementKind
from orderly_core.catalogue.stock import verify_stock
from orderly_core.payments.model import RefundStatus
from orderly_core.payments.refunds import OrderRefund, refund_order
from orderly_core.platform.idempotency import Replayed
from orderly_core.returns.errors import (
    IllegalReturnTransition,
    OverLine,
    ReceiptExceedsReturn,
    ReturnNotFound,
)
from orderly_core.returns.model import ReturnStatus
from orderly_core.returns.requests import request_return
from orderly_core.returns.steps import (
    ReturnDecision,
    approve_return,
    receive_return,
    reject_return,
)
from orderly_core.shared.context import Mode
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, STAFF, ctx, err, fresh, ok
from tests.core.payments.helpers import audit_entries, event_types, keyed, refunds_of
from tests.core.returns.helpers import (
    approved,
    asking,
    delivered,
    movements,
    product,
    receipt,
    returns_shop,
    stored_order,
)


async def test_staff_approve_or_reject_a_requested_return_once(deps: Dependencies) -> None:
    deps, _, _ = await returns_shop(deps)
    bought = await delivered(deps)
    ret = fresh(await request_return(deps, keyed(ANN), asking(bought.id, ("MUG-1", 1))))
    decision = ReturnDecision(str(ret.id), "  fine by us  ", expected_version=1)

    assert isinstance(err(await approve_return(deps, ctx(ANN), decision)), Forbidden)
    done = fresh(await approve_return(deps, ctx(STAFF), decision))
    stale = err(await reject_return(deps, ctx(STAFF), decision))
    late = err(await reject_return(deps, ctx(STAFF), ReturnDecision(str(ret.id))))

    assert (done.status, done.note, done.version) == (ReturnStatus.APPROVED, "fine by us", 2)
    assert stale == VersionConflict("return", str(ret.id), 1, 2)
    assert late == IllegalReturnTransition(str(ret.id), "approved", "rejected")
    assert (await event_types(deps))[-2:] == ["return.requested", "return.approved"]
    too_long = err(await reject_return(deps, ctx(STAFF), ReturnDecision(str(ret.id), "n" * 1001)))
    assert isinstance(too_long, InvalidInput)


async def test_receiving_restocks_writes_off_counts_and_refunds(deps: Dependencies) -> None:
    deps, provider, _ = await returns_shop(deps)
    bought = await delivered(deps)  # 3 mugs at 12.50, 2 cups at 4.00
    ret = await approved(deps, bought.id, ("MUG-1", 3), ("CUP-2", 1))
    mugs_before = (await product(deps, "MUG-1")).stock

    got = fresh(
        await receive_return(
            deps,
            keyed(STAFF, "rcv"),
            receipt(
                ret, ("MUG-1", 2, "restock"), ("MUG-1", 1, "write_off"), ("CUP-2", 1, "restock")
            ),
        )
    )

    assert got.ret.status is ReturnStatus.RECEIVED
    assert [(line.sku, line.restocked, line.written_off) for line in got.ret.lines] == [
        ("CUP-2", 1, 0),
        ("MUG-1", 2, 1),
    ]
    mugs = (await product(deps, "MUG-1")).stock
    assert (mugs.on_hand, mugs.reserved) == (mugs_before.on_hand + 2, mugs_before.reserved)
    kinds = {m.kind: m for m in await movements(deps, "MUG-1")}  # one of each kind here
    restock, write_off = kinds[MovementKind.RESTOCK], kinds[MovementKind.WRITE_OFF]
    assert (restock.kind, restock.on_hand_delta, restock.reference) == (
        MovementKind.RESTOCK,
        2,
        str(ret.id),
    )
    assert (write_off.on_hand_delta, write_off.reserved_delta, write_off.reference) == (
        0,
        0,
        str(ret.id),
    )
    assert "1 unit(s)" in write_off.note
    counted = await stored_order(deps, bought.id)
    assert {line.sku: line.returned for line in counted.lines} == {"MUG-1": 3, "CUP-2": 1}
    assert counted.version == bought.version + 1
    [refund] = got.refunds
    assert (refund.amount.amount, refund.status, refund.return_id) == (
        3 * 1250 + 400,
        RefundStatus.SUCCEEDED,
        ret.id,
    )
    assert [r.idempotency_key for r in provider.refunds] == [f"orderly-refund-{refund.id}"]
    assert (await event_types(deps))[-2:] == ["return.received", "refund.succeeded"]
    assert ok(await verify_stock(deps, ctx())).drifts == ()
    operations = [e.operation for e in await audit_entries(deps, "return")]
    assert sorted(operations) == ["return.approve", "return.receive", "return.request"]


async def test_a_return_is_received_and_refunded_once(deps: Dependencies) -> None:
    deps, provider, _ = await returns_shop(deps)
    bought = await delivered(deps)
    ret = await approved(deps, bought.id, ("MUG-1", 1))
    wanted = receipt(ret, ("MUG-1", 1, "restock"))

    first = fresh(await receive_return(deps, keyed(STAFF, "k"), wanted))
    retry = ok(await receive_return(deps, keyed(STAFF, "k"), wanted))
    again = err(await receive_return(deps, keyed(STAFF, "other"), wanted))

    assert isinstance(retry, Replayed)
    assert retry.original.ret == first.ret
    assert again == IllegalReturnTransition(str(ret.id), "received", "received")
    assert len(provider.refunds) == 1
    assert len(await refunds_of(deps, bought.id)) == 1
    assert (await product(deps, "MUG-1")).stock.on_hand == 100 - 3 + 1


async def test_a_receipt_names_at_most_what_the_return_asked_for(deps: Dependencies) -> None:
    deps, _, _ = await returns_shop(deps)
    bought = await delivered(deps)
    ret = await approved(deps, bought.id, ("MUG-1", 2))
    requested = fresh(await request_return(deps, keyed(ANN), asking(bought.id, ("CUP-2", 1))))

    over = err(
        await receive_return(
            deps,
            ctx(STAFF),
            receipt(
                ret, ("MUG-1", 2, "restock"), ("MUG-1", 1, "write_off"), ("CUP-2", 1, "restock")
            ),
        )
    )
    twice = err(
        await receive_return(
            deps, ctx(STAFF), receipt(ret, ("MUG-1", 1, "restock"), ("mug-1", 1, "restock"))
        )
    )
    unapproved = err(
        await receive_return(deps, ctx(STAFF), receipt(requested, ("CUP-2", 1, "restock")))
    )
    customer = err(await receive_return(deps, ctx(ANN), receipt(ret, ("MUG-1", 1, "restock"))))
    unknown = err(await receive_return(deps, ctx(STAFF), receipt("nope", ("MUG-1", 1, "restock"))))

    assert over == ReceiptExceedsReturn((OverLine("MUG-1", 3, 2), OverLine("CUP-2", 1, 0)))
    assert isinstance(twice, InvalidInput)
    assert unapproved == IllegalReturnTransition(str(requested.id), "requested", "received")
    assert isinstance(customer, Forbidden)
    assert unknown == ReturnNotFound("nope")


async def test_the_refund_gives_back_at_most_what_is_left_to_refund(deps: Dependencies) -> None:
    deps, _, _ = await returns_shop(deps)
    bought = await delivered(deps)  # paid 45.50
    fresh(await refund_order(deps, ctx(STAFF), OrderRefund(str(bought.id), 4000, "goodwill")))
    ret = await approved(deps, bought.id, ("MUG-1", 1))

    got = fresh(await receive_return(deps, ctx(STAFF), receipt(ret, ("MUG-1", 1, "write_off"))))

    assert [r.amount.amount for r in got.refunds] == [550]
    assert sum(r.amount.amount for r in await refunds_of(deps, bought.id)) == 4550


async def test_a_dry_run_receipt_shows_the_refund_and_changes_nothing(deps: Dependencies) -> None:
    deps, provider, _ = await returns_shop(deps)
    bought = await delivered(deps)
    ret = await approved(deps, bought.id, ("CUP-2", 2))
    stock_before = (await product(deps, "CUP-2")).stock

    tried = fresh(
        await receive_return(
            deps, keyed(STAFF, None, Mode.DRY_RUN), receipt(ret, ("CUP-2", 2, "restock"))
        )
    )

    assert [r.amount.amount for r in tried.refunds] == [800]
    assert provider.refunds == []
    assert (await product(deps, "CUP-2")).stock == stock_before
    assert await refunds_of(deps, bought.id) == []
