"""The scheduled jobs, run as the worker runs them (its start-up, its boundary, real
PostgreSQL): unpaid orders past their expiry are cancelled and their stock released, and
idempotency records past their retention are purged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import pytest_asyncio
from arq import ArqRedis
from arq.worker import get_kwargs
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.catalogue.use_cases import NewProduct, create_product
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.payments.starting import PaymentStart, start_payment
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.shipments.steps import cancel_order
from orderly_db.unit_of_work import sql_dependencies
from orderly_payments.manual import ManualProvider
from orderly_worker.jobs.scheduled import (
    EXPIRE_ORDERS,
    PURGE_IDEMPOTENCY_KEYS,
    PURGE_JOB_RECORDS,
    RECONCILE_PAYMENTS,
    SETTLE_PAYMENTS,
    SUMMARISE_SALES,
)
from orderly_worker.runtime import JobContext
from orderly_worker.settings import build_worker_settings, load_worker_env
from tests.core.helpers import fresh, make_product
from tests.worker.helpers import stored_job

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest_asyncio.fixture(loop_scope="session")
async def started(
    worker_env: dict[str, str], queue: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[JobContext, dict[str, Any]]]:
    """The worker's per-process context after its start-up, and its options."""
    monkeypatch.setenv("WORKER_RELAY", "false")
    options = cast(
        "dict[str, Any]",
        get_kwargs(build_worker_settings(load_worker_env(), setup_logging=False)),
    )
    ctx: JobContext = {"redis": queue}
    await options["on_startup"](ctx)
    yield ctx, options
    await options["on_shutdown"](ctx)


async def run_scheduled(started: tuple[JobContext, dict[str, Any]], name: str) -> Any:
    ctx, options = started
    [job] = [job for job in options["cron_jobs"] if job.name == name]
    assert job.unique  # one run per scheduled time, however many workers
    return await job.coroutine(ctx | {"job_id": f"cron:{name}:1", "job_try": 1})


async def test_expiry_cancels_unpaid_orders_past_their_time(
    started: tuple[JobContext, dict[str, Any]], clean_engine: AsyncEngine
) -> None:
    deps = sql_dependencies(clean_engine)
    await make_product(deps, on_hand=10)
    customer = Context(Actor.user("u-1", Role.CUSTOMER), "req-place")
    due = fresh(await place_order(deps, customer, NewOrder((LineRequest("MUG-1", 3),))))
    fresh(await place_order(deps, customer, NewOrder((LineRequest("MUG-1", 1),))))
    async with clean_engine.begin() as connection:
        await connection.execute(
            text("update orders set expires_at = now() - interval '1 minute' where id = :id"),
            {"id": due.order.id},
        )

    result = await run_scheduled(started, EXPIRE_ORDERS)

    assert result == {"status": "succeeded", "expired": [str(due.order.id)]}
    async with clean_engine.connect() as connection:
        reserved = await connection.scalar(text("select reserved from products"))
        cancelled = (
            await connection.execute(
                text("select type, request_id from outbox where type = 'order.cancelled'")
            )
        ).all()
    assert reserved == 1
    assert [tuple(row) for row in cancelled] == [
        ("order.cancelled", f"scheduled-cron:{EXPIRE_ORDERS}:1")
    ]
    record = await stored_job(clean_engine, f"cron:{EXPIRE_ORDERS}:1")
    assert (record["name"], record["status"], record["attempts"]) == (EXPIRE_ORDERS, "succeeded", 1)
    assert record["request_id"] == f"scheduled-cron:{EXPIRE_ORDERS}:1"
    assert record["payload"] == {"request_id": f"scheduled-cron:{EXPIRE_ORDERS}:1"}
    assert record["result"] == result


async def test_a_scheduled_job_queued_with_a_payload_runs_with_it(
    started: tuple[JobContext, dict[str, Any]], clean_engine: AsyncEngine
) -> None:
    """As a retry of a failed or dead scheduled run is queued: with the payload of that run."""
    ctx, options = started
    [job] = [job for job in options["cron_jobs"] if job.name == PURGE_IDEMPOTENCY_KEYS]
    context = ctx | {"job_id": f"cron:{PURGE_IDEMPOTENCY_KEYS}:1:retry-1", "job_try": 1}

    result = await job.coroutine(context, {"request_id": "scheduled-cron:first"})

    assert result == {"status": "succeeded", "purged": 0}
    record = await stored_job(clean_engine, f"cron:{PURGE_IDEMPOTENCY_KEYS}:1:retry-1")
    assert (record["request_id"], record["status"]) == ("scheduled-cron:first", "succeeded")
    assert job.max_tries is None  # the worker's number of tries, not a single one


async def test_the_purge_deletes_records_past_their_retention(
    started: tuple[JobContext, dict[str, Any]], clean_engine: AsyncEngine
) -> None:
    deps = sql_dependencies(clean_engine)
    operator = Context(Actor.operator("alice"), "req-seed", idempotency_key="k-1")
    new = NewProduct(sku="MUG-1", name="Mug", unit_price=1250, currency="EUR", on_hand=10)
    fresh(await create_product(deps, operator, new))
    async with clean_engine.begin() as connection:
        await connection.execute(
            text("update idempotency_keys set expires_at = :past"),
            {"past": deps.clock.now() - timedelta(seconds=1)},
        )

    result = await run_scheduled(started, PURGE_IDEMPOTENCY_KEYS)

    assert result == {"status": "succeeded", "purged": 1}
    async with clean_engine.connect() as connection:
        assert await connection.scalar(text("select count(*) from idempotency_keys")) == 0


async def test_the_daily_summary_is_made_for_yesterday(
    started: tuple[JobContext, dict[str, Any]], clean_engine: AsyncEngine
) -> None:
    result = await run_scheduled(started, SUMMARISE_SALES)

    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    assert result == {"status": "succeeded", "day": yesterday.isoformat(), "orders": 0}
    async with clean_engine.connect() as connection:
        days = (await connection.execute(text("select day from sales_summaries"))).scalars()
        assert list(days) == [yesterday]


async def test_records_of_jobs_that_succeeded_long_ago_are_purged(
    started: tuple[JobContext, dict[str, Any]], clean_engine: AsyncEngine
) -> None:
    async with clean_engine.begin() as connection:
        for job_id, status, days_ago in (
            ("old-ok", "succeeded", 31),
            ("new-ok", "succeeded", 1),
            ("old-dead", "dead", 90),
        ):
            await connection.execute(
                text(
                    "insert into jobs (id, name, payload, status, attempts, created_at, "
                    "finished_at, updated_at) values (:id, 'import_products', '{}', :status, 1, "
                    "now() - make_interval(days => :days), now() - make_interval(days => :days), "
                    "now())"
                ),
                {"id": job_id, "status": status, "days": days_ago},
            )

    result = await run_scheduled(started, PURGE_JOB_RECORDS)

    assert result == {"status": "succeeded", "purged": 1}
    async with clean_engine.connect() as connection:
        kept = (await connection.execute(text("select id from jobs order by id"))).scalars()
        assert set(kept) >= {"new-ok", "old-dead"}
        gone = await connection.scalar(text("select count(*) from jobs where id = 'old-ok'"))
        assert gone == 0


async def test_the_payments_of_ended_orders_are_cancelled_and_reconciliation_runs(
    started: tuple[JobContext, dict[str, Any]], clean_engine: AsyncEngine
) -> None:
    deps = replace(sql_dependencies(clean_engine), payment_provider=ManualProvider("Pay us."))
    await make_product(deps, on_hand=10)
    customer = Context(Actor.user("u-1", Role.CUSTOMER), "req-place")
    placed = fresh(await place_order(deps, customer, NewOrder((LineRequest("MUG-1", 1),))))
    order_id = str(placed.order.id)
    payment = fresh(await start_payment(deps, customer, PaymentStart(order_id))).payment
    fresh(await cancel_order(deps, customer, OrderStep(order_id)))

    settled = await run_scheduled(started, SETTLE_PAYMENTS)
    reconciled = await run_scheduled(started, RECONCILE_PAYMENTS)

    assert settled == {
        "status": "succeeded",
        "refunded": 0,
        "refunds_failed": 0,
        "refunds_waiting": 0,
        "cancelled": 1,
        "cancels_waiting": 0,
    }
    assert reconciled == {"status": "succeeded", "checked": 0, "applied": []}
    async with clean_engine.connect() as connection:
        status = await connection.scalar(
            text("select status from payments where id = :id"), {"id": payment.id}
        )
    assert status == "cancelled"
