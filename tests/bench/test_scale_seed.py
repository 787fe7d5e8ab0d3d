"""``bench/scale.py`` seeds data Orderly accepts as its own: the benchmark at scale measures
a valid shop, and this keeps it so as the schema evolves (a new NOT NULL column, a new
constraint or a new rule fails here, not in a half-hour benchmark run)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import scale
from orderly_core.accounts.sessions import Credentials, log_in
from orderly_core.audit.use_cases import list_audit
from orderly_core.catalogue.model import ProductQuery
from orderly_core.catalogue.stock import verify_stock
from orderly_core.catalogue.use_cases import get_product, list_products
from orderly_core.orders.model import OrderQuery, OrderStatus
from orderly_core.orders.placement import place_order
from orderly_core.orders.reading import get_order, list_orders
from orderly_core.platform.audit import AuditQuery
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.unit_of_work import Dependencies
from orderly_db.settings import InfraSettings
from tests.core.helpers import fresh, ok, order
from tests.db_fixtures import FAST_PASSWORDS

pytestmark = pytest.mark.postgres

SIZE = scale.Size(products=1_000, customers=100, orders=1_000)
PASSWORD = "scale-password-1"


def _ctx(actor: Actor, key: str | None = None) -> Context:
    return Context(actor=actor, request_id="req-scale", idempotency_key=key)


async def _seed(settings: InfraSettings) -> scale.Seeded:
    connection = await asyncpg.connect(scale.driver_url(settings.database_url))
    try:
        password_hash = await FAST_PASSWORDS.hash(PASSWORD)
        return await scale.seed(
            connection, SIZE, run="T1", password_hash=password_hash, hot=["HOT-T1"]
        )
    finally:
        await connection.close()


async def test_the_seeded_shop_is_one_orderly_reads_and_extends(
    pg_deps: Dependencies, clean_engine: AsyncEngine, infra_settings: InfraSettings
) -> None:
    seeded = await _seed(infra_settings)
    assert seeded.rows == {
        "products": 1_001,
        "users": 101,
        "stock_movements": 1_001 + 2 * 1_500,  # openings, then a reservation and a shipment
        "orders": 1_000,
        "order_lines": 1_500,  # one or two lines an order
        "audit_entries": 1_000,
    }
    async with clean_engine.connect() as connection:
        for table, rows in seeded.rows.items():
            assert await connection.scalar(text(f"select count(*) from {table}")) == rows  # noqa: S608

    # The ledger and the levels agree: the stock verification finds no drift.
    report = ok(await verify_stock(pg_deps, _ctx(Actor.operator("bench"))))
    assert report.drifts == ()

    # The catalogue reads through the core, first page and a deep one.
    first = ok(await list_products(pg_deps, _ctx(Actor.anonymous()), ProductQuery(limit=50)))
    catalogue = sorted([*seeded.skus, *seeded.hot])
    assert [p.sku for p in first.items] == catalogue[:50]
    assert first.next_cursor is not None
    deep = ProductQuery(limit=50, cursor=scale.deep_cursor(catalogue, 60))
    page = ok(await list_products(pg_deps, _ctx(Actor.anonymous()), deep))
    assert [p.sku for p in page.items] == catalogue[-60:-10]
    product = ok(await get_product(pg_deps, _ctx(Actor.anonymous()), seeded.skus[-1]))
    assert product.stock.reserved == 0
    assert product.stock.on_hand < scale.STOCK  # its delivered lines took some

    # A customer signs in with the seeded password and reads their order history.
    customer_id, email = seeded.customers[7]
    ok(await log_in(pg_deps, _ctx(Actor.anonymous()), Credentials(email, PASSWORD)))
    customer = Actor.user(customer_id, Role.CUSTOMER)
    history = ok(await list_orders(pg_deps, _ctx(customer), OrderQuery(limit=50)))
    assert len(history.items) == SIZE.orders // SIZE.customers
    assert all(o.customer_id == customer_id for o in history.items)
    assert all(o.status is OrderStatus.DELIVERED for o in history.items)
    placed = [o.placed_at for o in history.items]
    assert placed == sorted(placed, reverse=True)
    newest = history.items[0]
    assert ok(await get_order(pg_deps, _ctx(customer), str(newest.id))) == newest
    assert all(line.delivered == line.quantity for line in newest.lines)

    # ... and places a new one on the seeded catalogue.
    new = order((seeded.skus[3], 2))
    placement = fresh(await place_order(pg_deps, _ctx(customer, "scale-test-1"), new))
    assert placement.order.status is OrderStatus.PLACED

    # An admin reads the audit trail: the new placement first, then the seeded history.
    admin = Actor.user(seeded.admin[0], Role.ADMIN)
    audit = ok(await list_audit(pg_deps, _ctx(admin), AuditQuery(limit=5)))
    assert audit.items[0].target_id == str(placement.order.id)
    assert {entry.operation for entry in audit.items} == {"order.place"}
    assert ok(await verify_stock(pg_deps, _ctx(Actor.operator("bench")))).drifts == ()


def test_the_shape_of_scale_follows_the_catalogue() -> None:
    assert scale.Size.for_products(1_000_000) == scale.Size(1_000_000, 100_000, 1_000_000)
    assert scale.Size.for_products(5) == scale.Size(5, 1, 5)
