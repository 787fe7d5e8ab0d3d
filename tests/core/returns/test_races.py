"""Returns that race, on PostgreSQL (the fakes run one transaction at a time): two receipts
of one return restock and refund once, the other is refused; two requests for the same
delivered units claim them once."""

from __future__ import annotations

import asyncio

import pytest
from returns.pipeline import is_successful

from orderly_core.returns.errors import IllegalReturnTransition, ReturnExceedsDelivered
from orderly_core.returns.requests import request_return
from orderly_core.returns.steps import receive_return
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, STAFF, ctx
from tests.core.payments.helpers import keyed, refunds_of
from tests.core.returns.helpers import (
    approved,
    asking,
    delivered,
    movements,
    product,
    receipt,
    returns_shop,
)

pytestmark = pytest.mark.postgres
ROUNDS = 6


async def test_two_receipts_of_one_return_restock_and_refund_once(pg_deps: Dependencies) -> None:
    deps, provider, _ = await returns_shop(pg_deps)
    for round_ in range(ROUNDS):
        bought = await delivered(deps, ("MUG-1", 2))
        ret = await approved(deps, bought.id, ("MUG-1", 2))
        on_hand = (await product(deps, "MUG-1")).stock.on_hand
        wanted = receipt(ret, ("MUG-1", 2, "restock"))

        results = await asyncio.gather(
            receive_return(deps, keyed(STAFF, f"a-{round_}"), wanted),
            receive_return(deps, keyed(STAFF, f"b-{round_}"), wanted),
        )

        assert sum(is_successful(r) for r in results) == 1
        [refused] = [r.failure() for r in results if not is_successful(r)]
        assert refused == IllegalReturnTransition(str(ret.id), "received", "received")
        assert (await product(deps, "MUG-1")).stock.on_hand == on_hand + 2
        restocks = [m for m in await movements(deps, "MUG-1") if m.reference == str(ret.id)]
        assert len(restocks) == 1
        assert [r.amount.amount for r in await refunds_of(deps, bought.id)] == [2500]
    assert len(provider.refunds) == ROUNDS


async def test_two_requests_for_the_same_units_claim_them_once(pg_deps: Dependencies) -> None:
    deps, _, _ = await returns_shop(pg_deps)
    for _ in range(ROUNDS):
        bought = await delivered(deps, ("CUP-2", 2))
        request = asking(bought.id, ("CUP-2", 2))

        results = await asyncio.gather(
            request_return(deps, ctx(ANN), request), request_return(deps, ctx(STAFF), request)
        )

        assert sum(is_successful(r) for r in results) == 1
        [refused] = [r.failure() for r in results if not is_successful(r)]
        assert isinstance(refused, ReturnExceedsDelivered)
