"""A job's record ends with the job even when PostgreSQL fails the write, and a record left
open is closed with the truth the queue kept (item 20)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.jobs.imports import import_job_id, submit_product_import
from orderly_core.jobs.model import JobStatus, new_record, running
from orderly_core.jobs.reconcile import LOST, reconcile_jobs
from orderly_core.jobs.use_cases import get_job
from orderly_core.shared.context import Actor, Context
from orderly_core.testing import InMemoryJobQueue, ScriptedSender
from orderly_core.unit_of_work import Dependencies, UnitOfWork
from orderly_db.job_queue import ArqJobQueue
from orderly_db.unit_of_work import sql_dependencies
from orderly_worker.boundary import guarded, succeeded
from orderly_worker.retry import RetryPolicy
from orderly_worker.runtime import RESOURCES, JobContext, JobResult, WorkerResources
from tests.core.helpers import ok
from tests.db_fixtures import FAST_PASSWORDS
from tests.worker.conftest import redis, worker_env, worker_redis_url  # noqa: F401 - fixtures
from tests.worker.helpers import run_worker

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]

OPERATOR = Context(Actor.operator("alice"), "req-operator")
RELAY = Context(Actor.system("relay"), "req-relay")


def _failing_units(deps: Dependencies, failing: set[int]) -> Dependencies:
    """``deps`` whose units of work numbered in ``failing`` (from 1) meet a lost connection."""
    count = 0

    class Lost:
        async def __aenter__(self) -> UnitOfWork:
            raise OperationalError(
                "BEGIN", None, ConnectionResetError("reset"), connection_invalidated=True
            )

        async def __aexit__(self, *_: object) -> None:
            return None

    def unit_of_work() -> Any:
        nonlocal count
        count += 1
        return Lost() if count in failing else deps.unit_of_work()

    return replace(deps, unit_of_work=unit_of_work)


async def test_the_end_of_a_job_is_recorded_after_postgresql_failed_the_first_writes(
    clean_engine: AsyncEngine,
) -> None:
    deps = sql_dependencies(clean_engine, passwords=FAST_PASSWORDS)
    # unit 1 records the start; units 2 and 3, the first tries of the end, fail
    flaky = _failing_units(deps, {2, 3})

    async def work(_ctx: JobContext, _payload: Mapping[str, Any]) -> JobResult:
        return succeeded(done=True)

    async def close() -> None:
        return None

    ctx: JobContext = {
        "job_id": "job-flaky",
        "job_try": 1,
        "enqueue_time": datetime.now(UTC),
        RESOURCES: WorkerResources(
            deps=flaky,
            retry=RetryPolicy(),
            job_timeout_s=5,
            close=close,
            sender=ScriptedSender(),
            queue=InMemoryJobQueue(),
            engine=clean_engine,
        ),
    }

    result = await guarded("probe", work).coroutine(ctx, {"request_id": "req-flaky"})

    assert result == {"status": "succeeded", "done": True}
    job = ok(await get_job(deps, OPERATOR, "job-flaky"))
    assert (job.status, job.result) == (JobStatus.SUCCEEDED, result)


async def test_records_left_open_are_closed_with_what_the_queue_says(
    worker_env: dict[str, str],  # noqa: F811
    worker_redis_url: str,  # noqa: F811
    redis: Any,  # noqa: F811 - emptied before the test
    clean_engine: AsyncEngine,
) -> None:
    deps = sql_dependencies(clean_engine, passwords=FAST_PASSWORDS)
    queue = ArqJobQueue.from_url(worker_redis_url)
    csv_text = "sku,name,description,price,currency,on_hand\nMUG-1,Mug,,12.50,EUR,3\n"
    alice = Actor.operator("alice")
    submitter = Context(alice, "req-upload", idempotency_key="import-1")
    import_id = import_job_id(alice, "import-1")
    try:
        ok(await submit_product_import(deps, submitter, csv_text, queue))
        await run_worker()
        done = ok(await get_job(deps, OPERATOR, import_id))
        assert done.status is JobStatus.SUCCEEDED
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        async with deps.unit_of_work() as uow:
            # the end of the import was never written; a delivery's job vanished mid-run
            await uow.jobs.save(
                replace(
                    done,
                    status=JobStatus.RUNNING,
                    result=None,
                    finished_at=None,
                    updated_at=long_ago,
                )
            )
            lost = running(
                new_record("webhook:lost", "deliver_webhook", {}, at=long_ago), 1, long_ago
            )
            await uow.jobs.add(lost)
            await uow.commit()

        report = ok(await reconcile_jobs(deps, RELAY, queue, grace=timedelta(minutes=1)))
    finally:
        await queue.close()

    assert sorted(job.id for job in report.closed) == sorted([import_id, "webhook:lost"])
    imported = ok(await get_job(deps, OPERATOR, import_id))
    assert (imported.status, imported.result) == (JobStatus.SUCCEEDED, done.result)
    vanished = ok(await get_job(deps, OPERATOR, "webhook:lost"))
    assert vanished.status is JobStatus.DEAD
    assert vanished.result is not None
    assert vanished.result["error"]["code"] == LOST
