"""The unit of work's transaction rules and constraint mapping, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy.ext.asyncio.engine
from prometheus_client import REGISTRY
from returns.result import Failure, Result, Success
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from orderly_core.catalogue.errors import DuplicateSku
from orderly_core.catalogue.model import Stock
from orderly_core.catalogue.use_cases import (
    ProductChanges,
    StockAdjustment,
    adjust_stock,
    update_product,
)
from orderly_core.platform.outbox import Event, EventType
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.errors import VersionConflict
from orderly_core.unit_of_work import Dependencies, UnitOfWork
from orderly_db.engine import create_engine, transaction
from orderly_db.faults import is_transient
from orderly_db.settings import InfraSettings
from orderly_db.unit_of_work import SqlUnitOfWork, Turns, sql_dependencies
from tests.core.helpers import ctx, make_product, ok, stored
from tests.db_fixtures import FAST_PASSWORDS


class BoomError(Exception):
    pass


async def test_an_exception_inside_the_work_rolls_everything_back(pg_deps: Dependencies) -> None:
    product = await make_product(pg_deps, on_hand=5)

    async def work(uow: UnitOfWork) -> Result[None, str]:
        await uow.products.save(replace(product, name="Changed", version=2))
        raise BoomError

    with pytest.raises(BoomError):
        await in_transaction(pg_deps, ctx(), work)

    assert await stored(pg_deps, "MUG-1") == product


async def test_a_failure_result_rolls_back_what_the_work_wrote(pg_deps: Dependencies) -> None:
    product = await make_product(pg_deps)

    async def work(uow: UnitOfWork) -> Result[None, str]:
        await uow.products.save(replace(product, name="Changed", version=2))
        return Failure("refused")

    assert await in_transaction(pg_deps, ctx(), work) == Failure("refused")
    assert await stored(pg_deps, "MUG-1") == product


async def test_a_duplicate_insert_becomes_a_domain_error_by_constraint_name(
    pg_deps: Dependencies,
) -> None:
    product = await make_product(pg_deps)

    async with pg_deps.unit_of_work() as uow:
        assert await uow.products.add(product) == Failure(DuplicateSku("MUG-1"))


async def test_a_check_constraint_violation_stays_an_exception(pg_deps: Dependencies) -> None:
    product = await make_product(pg_deps, on_hand=1)
    impossible = replace(product, stock=Stock(on_hand=1, reserved=2))

    async with pg_deps.unit_of_work() as uow:
        with pytest.raises(IntegrityError, match="ck_products_on_hand_covers_reserved"):
            await uow.products.save(impossible)


async def test_concurrent_stock_adjustments_are_all_counted(pg_deps: Dependencies) -> None:
    await make_product(pg_deps, on_hand=0)

    results = await asyncio.gather(
        *(
            adjust_stock(pg_deps, ctx(), StockAdjustment("MUG-1", 1, f"delivery {i}"))
            for i in range(20)
        )
    )

    assert all(isinstance(r, Success) for r in results)
    final = await stored(pg_deps, "MUG-1")
    assert final is not None
    assert (final.stock.on_hand, final.version) == (20, 21)


async def test_concurrent_edits_of_one_version_let_exactly_one_through(
    pg_deps: Dependencies,
) -> None:
    await make_product(pg_deps)

    results = await asyncio.gather(
        *(
            update_product(
                pg_deps, ctx(), ProductChanges("MUG-1", expected_version=1, name=f"Name {i}")
            )
            for i in range(10)
        )
    )

    winners = [ok(r) for r in results if isinstance(r, Success)]
    losers = [r.failure() for r in results if not isinstance(r, Success)]
    assert len(winners) == 1
    assert losers == [VersionConflict("product", "MUG-1", expected=1, current=2)] * 9
    assert await stored(pg_deps, "MUG-1") == winners[0]


async def test_sqlalchemy_and_driver_statements_roll_back_together(pg_deps: Dependencies) -> None:
    """Hot statements run on the asyncpg connection, the rest through SQLAlchemy: both must
    be inside the unit of work's one transaction, never in autocommit."""
    product = await make_product(pg_deps)
    other = replace(product, sku="MUG-2")

    async with pg_deps.unit_of_work() as uow:
        assert await uow.products.add(other) == Success(None)  # through SQLAlchemy
        await uow.products.save(replace(product, name="Changed", version=2))  # on the driver
        assert await uow.products.get("MUG-2") == other  # each sees the other's write
        await uow.rollback()

    assert await stored(pg_deps, "MUG-1") == product
    assert await stored(pg_deps, "MUG-2") is None


async def test_sqlalchemy_and_driver_statements_commit_together(pg_deps: Dependencies) -> None:
    product = await make_product(pg_deps)
    changed, other = replace(product, name="Changed", version=2), replace(product, sku="MUG-2")

    async with pg_deps.unit_of_work() as uow:
        await uow.products.save(changed)
        assert await uow.products.add(other) == Success(None)
        await uow.commit()

    assert await stored(pg_deps, "MUG-1") == changed
    assert await stored(pg_deps, "MUG-2") == other


async def test_a_unit_of_work_refuses_work_after_it_ended(pg_deps: Dependencies) -> None:
    async with pg_deps.unit_of_work() as uow:
        await uow.commit()
        with pytest.raises(RuntimeError, match="after its commit or rollback"):
            await uow.products.get("MUG-1")


async def test_a_connection_lost_mid_transaction_is_transient_and_is_not_reused(
    pg_deps: Dependencies, clean_engine: AsyncEngine
) -> None:
    await make_product(pg_deps)
    terminate_idle_in_transaction = text(
        "select count(pg_terminate_backend(pid)) from pg_stat_activity "
        "where datname = current_database() and state = 'idle in transaction'"
    )

    async def read_across_the_loss() -> None:
        async with pg_deps.unit_of_work() as uow:
            await uow.products.get("MUG-1")  # the transaction is open, the backend idle in it
            async with clean_engine.connect() as admin:
                assert await admin.scalar(terminate_idle_in_transaction) == 1
            await uow.products.get("MUG-1")

    with pytest.raises(DBAPIError) as raised:
        await read_across_the_loss()

    assert raised.value.connection_invalidated
    assert is_transient(raised.value)
    assert await stored(pg_deps, "MUG-1") is not None  # the pool hands out a live connection


async def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(
    pg_deps: Dependencies, clean_engine: AsyncEngine
) -> None:
    await make_product(pg_deps)
    async with clean_engine.connect() as admin:
        terminated = await admin.scalar(
            text(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                "where datname = current_database() and state = 'idle' "
                "and pid <> pg_backend_pid()"
            )
        )
    assert terminated >= 1  # the pool's idle connections, the one the product came through
    await asyncio.sleep(0.2)  # asyncpg reads the closed sockets while they wait in the pool

    assert await stored(pg_deps, "MUG-1") is not None
    async with clean_engine.connect() as admin:
        assert await admin.scalar(text("select 1")) == 1


async def test_a_connection_waiting_in_the_pool_is_taken_and_given_back_without_a_greenlet(
    clean_engine: AsyncEngine, infra_settings: InfraSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each greenlet switch copies the request's whole stack (see ``checked_out``): only a
    checkout that must connect runs in one; the units of work after it check out and give
    back with none (statements SQLAlchemy executes still run in theirs)."""
    checkouts: list[str] = []
    spawn = vars(sqlalchemy.ext.asyncio.engine)["greenlet_spawn"]

    async def counted(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if getattr(fn, "__name__", "") in {"connect", "close"}:  # the pool's checkout, checkin
            checkouts.append(fn.__qualname__)
        return await spawn(fn, *args, **kwargs)

    monkeypatch.setattr("sqlalchemy.ext.asyncio.engine.greenlet_spawn", counted)
    fresh = create_engine(infra_settings, application_name="orderly-tests-fresh")
    try:
        deps = sql_dependencies(fresh, passwords=FAST_PASSWORDS)
        await make_product(deps)  # the pool is empty: this one connects, in a greenlet
        assert checkouts == ["Engine.connect"]
        for _ in range(3):
            assert await stored(deps, "MUG-1") is not None
        assert checkouts == ["Engine.connect"]
        assert isinstance(fresh.pool, QueuePool)
        assert fresh.pool.checkedin() == 1  # given back to the pool, not closed
    finally:
        await fresh.dispose()


async def test_work_outside_a_unit_of_work_gets_a_real_transaction(
    pg_deps: Dependencies, clean_engine: AsyncEngine
) -> None:
    """The engine's connections autocommit; ``transaction`` (migrations use it) does not."""
    product = await make_product(pg_deps, on_hand=5)

    async def change_then_fail() -> None:
        async with transaction(clean_engine) as connection:
            await connection.execute(text("update products set on_hand = 6"))
            raise BoomError

    with pytest.raises(BoomError):
        await change_then_fail()

    assert await stored(pg_deps, "MUG-1") == product


async def test_units_of_work_get_connections_in_the_order_they_asked(
    clean_engine: AsyncEngine,
) -> None:
    turns = Turns(1, wait_s=5.0)
    order: list[str] = []
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with SqlUnitOfWork(clean_engine, turns):
            holding.set()
            await release.wait()

    async def use(name: str) -> None:
        async with SqlUnitOfWork(clean_engine, turns) as uow:
            order.append(name)
            await uow.products.get("MUG-1")

    holder = asyncio.create_task(hold())
    await holding.wait()
    waiting = [asyncio.create_task(use(name)) for name in ("b", "c", "d")]
    await asyncio.sleep(0.05)  # all three are in line
    release.set()
    late = asyncio.create_task(use("e"))  # asks just as the connection comes back
    await asyncio.gather(holder, *waiting, late)

    assert order == ["b", "c", "d", "e"]


async def test_waiting_longer_than_the_pool_timeout_is_a_transient_fault(
    clean_engine: AsyncEngine,
) -> None:
    turns = Turns(1, wait_s=0.2)
    async with SqlUnitOfWork(clean_engine, turns):
        with pytest.raises(PoolTimeout) as raised:
            await SqlUnitOfWork(clean_engine, turns).__aenter__()

    assert is_transient(raised.value)
    async with SqlUnitOfWork(clean_engine, turns) as uow:  # the turn was given back
        assert await uow.products.get("MUG-1") is None


async def test_the_pool_gauges_count_connections_held_and_units_of_work_waiting(
    clean_engine: AsyncEngine,
) -> None:
    def gauges() -> tuple[float | None, float | None]:
        return (
            REGISTRY.get_sample_value("orderly_db_pool_connections_in_use"),
            REGISTRY.get_sample_value("orderly_db_pool_waiting"),
        )

    in_use, waiting = gauges()
    assert in_use is not None
    assert waiting is not None
    turns = Turns(1, wait_s=0.3)
    async with SqlUnitOfWork(clean_engine, turns):
        second = asyncio.create_task(SqlUnitOfWork(clean_engine, turns).__aenter__())
        await asyncio.sleep(0.05)
        assert gauges() == (in_use + 1, waiting + 1)
        with pytest.raises(PoolTimeout):
            await second  # gave up waiting: no longer counted as waiting
        assert gauges() == (in_use + 1, waiting)

    assert gauges() == (in_use, waiting)


async def test_published_events_are_counted_once_committed_and_never_when_rolled_back(
    pg_deps: Dependencies,
) -> None:
    def counted() -> float:
        return REGISTRY.get_sample_value("orderly_outbox_events_total", {"type": "stock.low"}) or 0

    def event() -> Event:
        return Event(uuid.uuid4(), EventType.STOCK_LOW, "product:MUG-1", 1, {}, "req-1", now())

    before = counted()
    async with pg_deps.unit_of_work() as uow:
        await uow.outbox.add(event())
        await uow.rollback()
    async with pg_deps.unit_of_work() as uow:
        await uow.outbox.add(event())
    assert counted() == before  # rolled back, then left without a commit

    async with pg_deps.unit_of_work() as uow:
        await uow.outbox.add(event())
        await uow.outbox.add(event())
        await uow.commit()
        await uow.commit()  # ends nothing more
    assert counted() == before + 2


def now() -> datetime:
    return datetime.now(UTC)
