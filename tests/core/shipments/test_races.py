"""Shipments that race, on PostgreSQL (the fakes run one transaction at a time): two staff
shipping the same remaining units at once make one shipment and one ``exceeds_remaining``."""

from __future__ import annotations

import asyncio

import pytest
from returns.pipeline import is_successful

from orderly_core.shipments.errors import ExceedsRemaining, RemainingLine
from orderly_core.shipments.steps import RemainderCancellation, cancel_remainder
from orderly_core.shipments.use_cases import create_shipment
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import OPERATOR, STAFF, ctx
from tests.core.shipments.helpers import assert_conserved, paid_order, shipments_now, shipping

pytestmark = pytest.mark.postgres
ROUNDS = 8


async def test_two_staff_shipping_the_same_units_make_one_shipment(pg_deps: Dependencies) -> None:
    for _ in range(ROUNDS):
        paid = await paid_order(pg_deps, ("MUG-1", 3))
        request = shipping(paid, ("MUG-1", 2))

        results = await asyncio.gather(
            create_shipment(pg_deps, ctx(STAFF), request),
            create_shipment(pg_deps, ctx(OPERATOR), request),
        )

        assert sum(is_successful(r) for r in results) == 1
        [refused] = [r.failure() for r in results if not is_successful(r)]
        assert refused == ExceedsRemaining(str(paid.id), (RemainingLine("MUG-1", 2, 1),))
        assert len(await shipments_now(pg_deps, paid.id)) == 1
        await assert_conserved(pg_deps, paid.id)


async def test_shipping_and_cancelling_the_same_units_at_once_do_one(
    pg_deps: Dependencies,
) -> None:
    for _ in range(ROUNDS):
        paid = await paid_order(pg_deps, ("MUG-1", 2))

        results = await asyncio.gather(
            create_shipment(pg_deps, ctx(STAFF), shipping(paid, ("MUG-1", 2))),
            cancel_remainder(pg_deps, ctx(OPERATOR), RemainderCancellation(str(paid.id))),
        )

        assert sum(is_successful(r) for r in results) == 1
        await assert_conserved(pg_deps, paid.id)
