"""Retries that look for their key's outcome a moment before another request stores it, on the
fakes and on PostgreSQL. Once a retry holds the key it reads the outcome again, and answers it
instead of running the request a second time; a refusal it then makes itself is not stored
over the one stored first, which stays the outcome its retries get."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from orderly_core.orders.model import OrderQuery
from orderly_core.orders.placement import place_order
from orderly_core.orders.reading import list_orders
from orderly_core.platform.idempotency import IdempotencyRecords, KeyScope, Replayed, StoredOutcome
from orderly_core.shared.context import Context
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, err, fresh, make_product, ok, order, stored
from tests.core.platform.helpers import with_records

pytestmark = pytest.mark.postgres

KEY = "order-5e1d0b"


def keyed(key: str | None = KEY, request_id: str = "req-race") -> Context:
    return Context(actor=ANN, request_id=request_id, idempotency_key=key)


@dataclass
class _Late:
    """How many looks for an outcome are still too early: each finds nothing, as it would
    just before another request committed."""

    early_looks: int = 1


@dataclass
class _LateRecords:
    inner: IdempotencyRecords
    late: _Late

    async def claim(self, scope: KeyScope) -> bool:
        return await self.inner.claim(scope)

    async def find(self, scope: KeyScope, now: Any) -> StoredOutcome | None:
        if self.late.early_looks:
            self.late.early_looks -= 1
            return None
        return await self.inner.find(scope, now)

    async def store(self, scope: KeyScope, outcome: StoredOutcome) -> None:
        await self.inner.store(scope, outcome)

    async def purge(self, now: Any, limit: int) -> int:
        return await self.inner.purge(now, limit)


async def test_a_retry_that_looked_too_early_gets_the_first_outcome(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    first = fresh(await place_order(deps, keyed(), order(("MUG-1", 1))))
    late = _Late()
    looking_late = with_records(deps, lambda records: _LateRecords(records, late))

    retry = ok(await place_order(looking_late, keyed(), order(("MUG-1", 1))))

    assert late.early_looks == 0
    assert retry == Replayed(first)
    page = ok(await list_orders(deps, keyed(None), OrderQuery(limit=200)))
    assert [placed.id for placed in page.items] == [first.order.id]
    product = await stored(deps, "MUG-1")
    assert product is not None
    assert product.stock.reserved == 1


async def test_a_refusal_stored_first_stays_the_one_replayed(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=0)
    scope = KeyScope.of(ANN, "order.place", KEY)
    first = err(await place_order(deps, keyed(request_id="req-1"), order(("MUG-1", 1))))
    late = _Late(early_looks=2)  # before the key is taken, and once it is held
    looking_late = with_records(deps, lambda records: _LateRecords(records, late))

    retry = err(await place_order(looking_late, keyed(request_id="req-2"), order(("MUG-1", 1))))

    assert (late.early_looks, retry) == (0, first)  # it ran, and was refused the same way
    async with deps.unit_of_work() as uow:
        kept = await uow.idempotency.find(scope, deps.clock.now())
    assert kept is not None
    assert kept.request_id == "req-1"
    again = err(await place_order(deps, keyed(request_id="req-3"), order(("MUG-1", 1))))
    assert again == Replayed(first)
