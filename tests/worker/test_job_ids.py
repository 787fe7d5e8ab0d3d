"""No client can take the id of a scheduled run: an import keyed with the id the queue will
give the next run of a scheduled job is queued under an id of its own, and the run is still
queued when its time comes (as the worker's scheduler queues it)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from arq import ArqRedis
from arq.utils import to_unix_ms
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.jobs.imports import IMPORT_JOB_PREFIX, submit_product_import
from orderly_core.shared.context import Actor, Context, Role
from orderly_db.job_queue import ArqJobQueue
from orderly_db.unit_of_work import sql_dependencies
from orderly_worker.jobs.scheduled import SCHEDULE
from tests.core.helpers import ok

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CSV = "sku,name,description,price,currency,on_hand\nMUG-1,Mug,,12.50,EUR,3\n"
STAFF = Actor.user("0b5e7c1e-0000-4000-8000-000000000001", Role.STAFF)


@pytest_asyncio.fixture(loop_scope="session")
async def leaves_no_job(queue: ArqRedis) -> AsyncIterator[ArqRedis]:
    """The queue, emptied again after the test: what it queued is never run by a later one."""
    yield queue
    await queue.flushdb()


@pytest.mark.parametrize("name", [job.name for job in SCHEDULE])
async def test_an_import_keyed_with_a_scheduled_runs_id_does_not_stop_that_run(
    name: str, worker_redis_url: str, leaves_no_job: ArqRedis, clean_engine: AsyncEngine
) -> None:
    cron = copy.copy(next(job for job in SCHEDULE if job.name == name))
    cron.calculate_next(datetime.now(UTC))
    assert cron.next_run is not None
    run_id = f"{cron.name}:{to_unix_ms(cron.next_run)}"  # as the worker's scheduler names it
    jobs = ArqJobQueue.from_url(worker_redis_url)
    try:
        keyed = Context(STAFF, "req-upload", idempotency_key=run_id)
        submitted = ok(
            await submit_product_import(sql_dependencies(clean_engine), keyed, CSV, jobs)
        )
    finally:
        await jobs.close()

    run = await leaves_no_job.enqueue_job(cron.name, _job_id=run_id, _defer_until=cron.next_run)

    assert submitted.enqueued
    assert submitted.id.startswith(IMPORT_JOB_PREFIX)
    assert run is not None, "the scheduled run was not queued: its id was taken"
    assert not run_id.startswith(IMPORT_JOB_PREFIX)
