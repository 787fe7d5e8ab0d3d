"""Every job a real worker runs leaves its record in PostgreSQL: queued, running, then how it
ended; a dead job is retried as a new job once its cause is fixed; an outage of PostgreSQL
while recording never fails a job."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import pytest
from arq import ArqRedis
from returns.pipeline import is_successful
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.catalogue.use_cases import get_product
from orderly_core.jobs import payloads as jobs
from orderly_core.jobs.imports import import_job_id, submit_product_import
from orderly_core.jobs.model import JobQuery, JobStatus
from orderly_core.jobs.use_cases import get_job, list_jobs, retry_job
from orderly_core.shared.context import Actor, Context, Mode
from orderly_db.job_queue import ArqJobQueue
from orderly_db.unit_of_work import sql_dependencies
from orderly_worker.boundary import guarded, succeeded
from orderly_worker.runtime import WORKER_ACTOR, JobContext, JobResult, resources
from tests.core.helpers import fresh, make_product, ok
from tests.worker.helpers import (
    REQUEST_ID,
    UNREACHABLE_POSTGRES,
    outcome,
    run_worker,
    stored_job,
    stored_jobs,
    stored_products,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]

HEADER = "sku,name,description,price,currency,on_hand\n"
OPERATOR = Context(Actor.operator("alice"), "req-operator")


async def test_a_submitted_import_is_recorded_queued_then_with_its_outcome(
    worker_env: dict[str, str], worker_redis_url: str, clean_engine: AsyncEngine
) -> None:
    deps = sql_dependencies(clean_engine)
    queue = ArqJobQueue.from_url(worker_redis_url)
    csv_text = HEADER + "MUG-1,Mug,,12.50,EUR,3\n"
    submitter = Context(Actor.operator("alice"), "req-upload-1", idempotency_key="spring-1")
    try:
        submitted = ok(await submit_product_import(deps, submitter, csv_text, queue))
    finally:
        await queue.close()
    assert (submitted.id, submitted.enqueued) == (import_job_id(submitter.actor, "spring-1"), True)

    queued = ok(await get_job(deps, OPERATOR, submitted.id))
    assert (queued.name, queued.status, queued.attempts) == (jobs.IMPORT_PRODUCTS, "queued", 0)
    assert queued.request_id == "req-upload-1"
    assert queued.payload == {
        "csv_text": csv_text,
        "request_id": "req-upload-1",
        "requested_by": "alice",
        "mode": "execute",
    }
    assert (queued.started_at, queued.finished_at, queued.result) == (None, None, None)

    await run_worker()

    done = ok(await get_job(deps, OPERATOR, submitted.id))
    assert (done.status, done.attempts, done.last_error) == ("succeeded", 1, None)
    assert done.result is not None
    assert (done.result["created"], done.result["applied"]) == (1, True)
    assert done.created_at == queued.created_at
    assert done.started_at is not None
    assert done.finished_at is not None
    assert queued.created_at <= done.started_at <= done.finished_at == done.updated_at
    assert sorted(await stored_products(clean_engine)) == ["MUG-1"]


async def test_a_dry_run_import_is_queued_and_recorded_like_any_other(
    worker_env: dict[str, str], worker_redis_url: str, clean_engine: AsyncEngine
) -> None:
    deps = sql_dependencies(clean_engine)
    queue = ArqJobQueue.from_url(worker_redis_url)
    dry = Context(Actor.operator("alice"), "req-dry", mode=Mode.DRY_RUN)
    try:
        submitted = ok(await submit_product_import(deps, dry, HEADER + "A-1,A,,1,EUR,1\n", queue))
    finally:
        await queue.close()

    await run_worker()

    record = ok(await get_job(deps, OPERATOR, submitted.id))
    assert record.payload["mode"] == "dry_run"
    assert record.status == "succeeded"
    assert record.result is not None
    assert record.result["applied"] is False
    assert await stored_products(clean_engine) == {}


async def _needs_mug(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    """Stands in for a job that meets a bug until someone fixes the data it relies on."""
    context = Context(WORKER_ACTOR, str(payload["request_id"]))
    found = await get_product(resources(ctx).deps, context, "MUG-1")
    if not is_successful(found):
        raise LookupError("MUG-1 is missing")
    return succeeded(sku=found.unwrap().sku)


async def test_a_dead_job_is_retried_as_a_new_job_once_its_cause_is_fixed(
    worker_env: dict[str, str],
    queue: ArqRedis,
    worker_redis_url: str,
    clean_engine: AsyncEngine,
) -> None:
    deps = sql_dependencies(clean_engine)
    await queue.enqueue_job("needs_mug", {"request_id": REQUEST_ID}, _job_id="mug-job")
    await run_worker([guarded("needs_mug", _needs_mug)])

    [dead] = await stored_jobs(clean_engine, status="dead")
    assert (dead["id"], dead["attempts"], dead["retry_of"]) == ("mug-job", 1, None)
    assert dead["last_error"].startswith("internal_error: ")
    listed = ok(await list_jobs(deps, OPERATOR, JobQuery(status=JobStatus.DEAD)))
    assert [j.id for j in listed.items] == ["mug-job"]

    await make_product(deps, on_hand=1)
    client = ArqJobQueue.from_url(worker_redis_url)
    try:
        retried = fresh(await retry_job(deps, OPERATOR, "mug-job", client))
    finally:
        await client.close()
    assert (retried.id, retried.status, retried.retry_of) == (
        "mug-job:retry-1",
        "queued",
        "mug-job",
    )
    assert retried.request_id == REQUEST_ID
    job = await queue.enqueue_job("needs_mug", {}, _job_id="mug-job:retry-1")
    assert job is None, "the retry is queued under its own id already"

    await run_worker([guarded("needs_mug", _needs_mug)])

    again = await stored_job(clean_engine, "mug-job:retry-1")
    assert (again["status"], again["attempts"], again["retry_of"]) == (
        "succeeded",
        1,
        "mug-job",
    )
    assert again["result"] == {"status": "succeeded", "sku": "MUG-1"}
    assert again["payload"] == {"request_id": REQUEST_ID}
    assert (await stored_job(clean_engine, "mug-job")) == dead  # the old record stays


async def _second_run_reads_its_record(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    """Fails its first run on a dropped connection; the second reports its own record."""
    if ctx["job_try"] == 1:
        raise ConnectionResetError("connection reset by peer")
    context = Context(WORKER_ACTOR, str(payload["request_id"]))
    record = ok(await get_job(resources(ctx).deps, context, str(ctx["job_id"])))
    return succeeded(seen=(record.status.value, record.attempts, record.last_error))


@pytest.mark.usefixtures("worker_env")
async def test_a_retried_run_is_recorded_running_again_with_the_error_it_met(
    queue: ArqRedis, clean_engine: AsyncEngine
) -> None:
    job = await queue.enqueue_job("again", {"request_id": REQUEST_ID}, _job_id="again-1")

    await run_worker([guarded("again", _second_run_reads_its_record)])

    info = await outcome(job)
    error = "ConnectionResetError: connection reset by peer"
    assert info.result == {"status": "succeeded", "seen": ["running", 2, error]}
    record = await stored_job(clean_engine, "again-1")
    assert (record["status"], record["attempts"], record["last_error"]) == (
        "succeeded",
        2,
        error,
    )


async def _no_database_needed(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    return succeeded(request=payload["request_id"])


async def test_a_job_runs_on_when_its_record_cannot_be_written(
    worker_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    queue: ArqRedis,
    job_logs: list[MutableMapping[str, Any]],
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE_POSTGRES)
    job = await queue.enqueue_job("light", {"request_id": REQUEST_ID}, _job_id="light-1")

    worker = await run_worker([guarded("light", _no_database_needed)])

    info = await outcome(job)
    assert info.result == {"status": "succeeded", "request": REQUEST_ID}
    assert (worker.jobs_complete, worker.jobs_retried) == (1, 0)
    unrecorded = [e for e in job_logs if e["event"] == "job_not_recorded"]
    assert len(unrecorded) == 2  # the start and the end
    for entry in unrecorded:
        assert (entry["log_level"], entry["job_id"], entry["request_id"]) == (
            "warning",
            "light-1",
            REQUEST_ID,
        )
