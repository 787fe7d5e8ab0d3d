"""Idempotency keys: a retried write happens once, on the fakes and on PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from returns.pipeline import is_successful

from orderly_core.catalogue.errors import DuplicateSku
from orderly_core.catalogue.use_cases import (
    NewProduct,
    StockAdjustment,
    adjust_stock,
    create_product,
)
from orderly_core.orders.errors import IllegalTransition, OutOfStock, ShortLine
from orderly_core.orders.model import OrderQuery
from orderly_core.orders.placement import place_order
from orderly_core.orders.reading import list_orders
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.idempotency import (
    IdempotencyRecords,
    KeyReused,
    KeyScope,
    Operation,
    Replayed,
    RequestInFlight,
    StoredOutcome,
    fingerprint,
    replay,
)
from orderly_core.platform.retention import purge_expired_keys
from orderly_core.shared.context import Actor, Context, Mode
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict
from orderly_core.shipments.steps import cancel_order, ship_order
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import (
    ANN,
    BOB,
    STAFF,
    err,
    fresh,
    make_product,
    ok,
    order,
    pay_order,
    stored,
)
from tests.core.platform.helpers import with_records

KEY = "order-7f3c2a"


def keyed(actor: Actor, key: str | None = KEY, mode: Mode = Mode.EXECUTE) -> Context:
    return Context(actor=actor, request_id="req-idem", idempotency_key=key, mode=mode)


async def orders_of(deps: Dependencies, actor: Actor) -> int:
    page = ok(await list_orders(deps, keyed(actor, None), OrderQuery(limit=200)))
    return len(page.items)


async def reserved(deps: Dependencies, sku: str = "MUG-1") -> int:
    product = await stored(deps, sku)
    assert product is not None
    return product.stock.reserved


async def test_a_retry_gets_the_first_order_again_and_reserves_nothing_more(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    first = fresh(await place_order(deps, keyed(ANN), order(("MUG-1", 2))))

    again = ok(await place_order(deps, keyed(ANN), order(("mug-1", 2))))

    assert again == Replayed(first)
    assert await orders_of(deps, ANN) == 1
    assert await reserved(deps) == 2


async def test_the_same_key_with_another_payload_is_refused(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    fresh(await place_order(deps, keyed(ANN), order(("MUG-1", 2))))

    refused = err(await place_order(deps, keyed(ANN), order(("MUG-1", 3))))

    assert refused == KeyReused(KEY, "order.place")
    assert await reserved(deps) == 2


async def test_a_refusal_is_an_outcome_replayed_even_after_stock_arrives(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", on_hand=1)
    first = err(await place_order(deps, keyed(ANN), order(("MUG-1", 2))))
    assert first == OutOfStock((ShortLine("MUG-1", 2, 1),))
    await make_product(deps, "MUG-2", on_hand=5)  # the world changes; the answer does not

    again = err(await place_order(deps, keyed(ANN), order(("MUG-1", 2))))

    assert again == Replayed(first)
    assert await orders_of(deps, ANN) == 0


async def test_keys_belong_to_their_actor_and_operation(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    anns = fresh(await place_order(deps, keyed(ANN), order(("MUG-1", 1))))
    bobs = fresh(await place_order(deps, keyed(BOB), order(("MUG-1", 1))))
    cancelled = fresh(await cancel_order(deps, keyed(ANN), OrderStep(str(anns.order.id))))

    assert anns.order.id != bobs.order.id
    assert cancelled.id == anns.order.id
    assert await reserved(deps) == 1


async def test_a_step_retried_after_it_succeeded_is_not_an_illegal_transition(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    placed = fresh(await place_order(deps, keyed(ANN, None), order(("MUG-1", 1)))).order
    fresh(await pay_order(deps, keyed(STAFF, None), OrderStep(str(placed.id))))
    step = OrderStep(str(placed.id), expected_version=2)
    shipped = fresh(await ship_order(deps, keyed(STAFF, "ship-1"), step))

    assert ok(await ship_order(deps, keyed(STAFF, "ship-1"), step)) == Replayed(shipped)
    unkeyed = err(await ship_order(deps, keyed(STAFF, None), replace(step, expected_version=None)))
    assert isinstance(unkeyed, IllegalTransition)


async def test_a_dry_run_neither_stores_nor_replays(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    preview = fresh(await place_order(deps, keyed(ANN, mode=Mode.DRY_RUN), order(("MUG-1", 2))))
    placed = fresh(await place_order(deps, keyed(ANN), order(("MUG-1", 2))))
    preview_after = fresh(
        await place_order(deps, keyed(ANN, mode=Mode.DRY_RUN), order(("MUG-1", 2)))
    )

    assert preview.availability[0].available == 10
    assert placed.availability[0].available == 10
    assert preview_after.availability[0].available == 8  # computed again, not replayed
    assert await orders_of(deps, ANN) == 1


async def test_invalid_input_is_not_stored_and_the_key_stays_usable(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    invalid = err(await place_order(deps, keyed(ANN), order(("MUG-1", 0))))
    assert isinstance(invalid, InvalidInput)
    too_long = err(await cancel_order(deps, keyed(ANN, "c-1"), OrderStep("x"), "x" * 300))
    assert isinstance(too_long, InvalidInput)

    fresh(await place_order(deps, keyed(ANN), order(("MUG-1", 1))))


async def test_an_expired_key_names_a_new_request_and_is_purged(deps: Dependencies) -> None:
    clock = FixedClock()
    deps = replace(deps, clock=clock, idempotency_ttl=timedelta(hours=24))
    await make_product(deps, "MUG-1", on_hand=10)
    fresh(await place_order(deps, keyed(ANN), order(("MUG-1", 1))))
    fresh(await place_order(deps, keyed(BOB), order(("MUG-1", 1))))

    clock.advance(timedelta(hours=24, seconds=1))
    fresh(await place_order(deps, keyed(ANN), order(("MUG-1", 1))))  # kept: ANN's new record
    operator = Actor.operator("alice")
    preview = ok(await purge_expired_keys(deps, keyed(operator, None, Mode.DRY_RUN)))
    purged = ok(await purge_expired_keys(deps, keyed(operator, None), batch=1))

    assert (preview.purged, preview.applied) == (1, False)
    assert (purged.purged, purged.applied) == (1, True)  # BOB's; ANN's was replaced
    assert await orders_of(deps, ANN) == 2
    assert err(await purge_expired_keys(deps, keyed(ANN, None))) == Forbidden(
        "purge idempotency keys"
    )


async def test_a_retry_while_the_first_request_runs_is_told_to_come_back(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    async with deps.unit_of_work() as running:  # the first request, holding its key
        assert await running.idempotency.claim(KeyScope.of(ANN, "order.place", KEY))

        retry = err(await place_order(deps, keyed(ANN), order(("MUG-1", 1))))

    assert retry == RequestInFlight(KEY)
    fresh(await place_order(deps, keyed(ANN), order(("MUG-1", 1))))  # released at its end


@dataclass
class _FailingRecords:
    """Records whose ``store`` fails, as when the database goes away mid-transaction."""

    inner: IdempotencyRecords

    async def claim(self, scope: KeyScope) -> bool:
        return await self.inner.claim(scope)

    async def find(self, scope: KeyScope, now: Any) -> StoredOutcome | None:
        return await self.inner.find(scope, now)

    async def store(self, scope: KeyScope, outcome: StoredOutcome) -> None:  # noqa: ARG002
        raise ConnectionError("lost the database")

    async def purge(self, now: Any, limit: int) -> int:
        return await self.inner.purge(now, limit)


async def test_an_order_never_outlives_a_lost_record(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    failing = with_records(deps, _FailingRecords)

    with pytest.raises(ConnectionError):
        await place_order(failing, keyed(ANN), order(("MUG-1", 1)))

    assert await orders_of(deps, ANN) == 0
    assert await reserved(deps) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("deps", ["postgres"], indirect=True)
async def test_twenty_concurrent_retries_make_one_order(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=100)

    results = await asyncio.gather(
        *(place_order(deps, keyed(ANN), order(("MUG-1", 1))) for _ in range(20))
    )

    fresh_ones = [r.unwrap() for r in results if is_successful(r) and not _replayed(r.unwrap())]
    assert len(fresh_ones) == 1
    for result in results:
        value = result.unwrap() if is_successful(result) else result.failure()
        assert value in (fresh_ones[0], Replayed(fresh_ones[0]), RequestInFlight(KEY))
    assert await orders_of(deps, ANN) == 1
    assert await reserved(deps) == 1


def _replayed(value: object) -> bool:
    return isinstance(value, Replayed)


async def test_a_retried_stock_adjustment_applies_once(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    delivery = StockAdjustment("MUG-1", 5, "delivery 42")
    operator = Actor.operator("alice")

    first = fresh(await adjust_stock(deps, keyed(operator, "delivery-42"), delivery))
    again = ok(await adjust_stock(deps, keyed(operator, "delivery-42"), delivery))

    assert again == Replayed(first)
    product = await stored(deps, "MUG-1")
    assert product is not None
    assert product.stock.on_hand == 15


async def test_a_duplicate_sku_is_an_outcome_replayed_to_its_retry(deps: Dependencies) -> None:
    """On PostgreSQL the refusal comes from a unique index, which ends the transaction: the
    outcome is kept all the same."""
    operator = Actor.operator("alice")
    new = NewProduct(sku="MUG-1", name="Mug", unit_price=1250, currency="EUR")
    fresh(await create_product(deps, keyed(operator, "create-1"), new))

    refused = err(await create_product(deps, keyed(operator, "create-2"), new))
    retried = err(await create_product(deps, keyed(operator, "create-2"), new))

    assert refused == DuplicateSku("MUG-1")
    assert retried == Replayed(refused)


async def test_many_retries_at_once_of_a_finished_request_all_get_its_answer(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    first = fresh(await place_order(deps, keyed(ANN), order(("MUG-1", 1))))

    retries = await asyncio.gather(
        *(place_order(deps, keyed(ANN), order(("MUG-1", 1))) for _ in range(10))
    )

    assert [ok(r) for r in retries] == [Replayed(first)] * 10


# Refusals kept before the three contexts' version conflicts became one error, as they were
# stored: the old type's name, and the record's id under its old member.
LEGACY_CONFLICTS = [
    ("VersionConflict", {"sku": "MUG-1", "expected": 1, "current": 2}, ("product", "MUG-1")),
    ("OrderVersionConflict", {"order_id": "o-1", "expected": 1, "current": 2}, ("order", "o-1")),
    (
        "EndpointVersionConflict",
        {"endpoint_id": "e-1", "expected": 1, "current": 2},
        ("webhook", "e-1"),
    ),
]


@pytest.mark.parametrize(
    ("kind", "document", "target"), LEGACY_CONFLICTS, ids=["product", "order", "webhook"]
)
def test_a_version_conflict_stored_in_its_earlier_shape_replays_as_todays(
    kind: str, document: dict[str, Any], target: tuple[str, str]
) -> None:
    now = FixedClock().now()
    stored_earlier = StoredOutcome(
        fingerprint="f",
        succeeded=False,
        kind=kind,
        document=document,
        request_id="req-first",
        created_at=now,
        expires_at=now,
    )
    operation = Operation("x.update", {}, object, (VersionConflict,))

    replayed = err(replay(operation, stored_earlier))

    assert replayed == Replayed(VersionConflict(*target, expected=1, current=2))
    assert replayed.request_id == "req-first"


async def test_a_retry_after_an_upgrade_gets_the_conflict_stored_before_it(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    placed = fresh(await place_order(deps, keyed(ANN, None), order(("MUG-1", 1)))).order
    fresh(await pay_order(deps, keyed(STAFF, None), OrderStep(str(placed.id))))
    stale = OrderStep(str(placed.id), expected_version=1)
    now = deps.clock.now()
    async with deps.unit_of_work() as uow:  # the outcome as the previous release stored it
        await uow.idempotency.store(
            KeyScope.of(ANN, "order.cancelled", "cancel-1"),
            StoredOutcome(
                fingerprint=fingerprint({"step": stale, "reason": "cancelled"}),
                succeeded=False,
                kind="OrderVersionConflict",
                document={"order_id": str(placed.id), "expected": 1, "current": 2},
                request_id="req-before-upgrade",
                created_at=now,
                expires_at=now + deps.idempotency_ttl,
            ),
        )
        await uow.commit()

    retried = err(await cancel_order(deps, keyed(ANN, "cancel-1"), stale))

    assert retried == Replayed(VersionConflict("order", str(placed.id), expected=1, current=2))
    assert isinstance(retried, Replayed)
    assert retried.request_id == "req-before-upgrade"
