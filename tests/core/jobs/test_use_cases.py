"""The record of background jobs, on the fakes and on PostgreSQL: the worker's runs move a
record through its statuses, listings page newest first by status and name, and only failed
and dead jobs are retried, as new jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderly_core.audit.use_cases import list_audit
from orderly_core.jobs.imports import import_job_id, submit_product_import
from orderly_core.jobs.model import (
    JOB_ID_MAX,
    JobNotFound,
    JobNotRetryable,
    JobQuery,
    JobRecord,
    JobStatus,
    job_view,
    retry_id,
)
from orderly_core.jobs.payloads import IMPORT_PRODUCTS
from orderly_core.jobs.use_cases import (
    JobOutcome,
    JobRun,
    get_job,
    list_jobs,
    record_run_ended,
    record_run_retrying,
    record_run_started,
    retry_job,
)
from orderly_core.platform.audit import AuditQuery
from orderly_core.platform.idempotency import Replayed
from orderly_core.shared.context import Actor, Context, Mode, Role
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.testing import InMemoryJobQueue
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import CUSTOMER, OPERATOR, STAFF, ctx, err, fresh, ok

HEADER = "sku,name,description,price,currency,on_hand\n"
CSV = HEADER + "MUG-1,Mug,,12.50,EUR,3\n"
WORKER = Context(Actor.system("worker"), "req-worker")
ADMIN = Actor.user("u-3", Role.ADMIN)
T0 = datetime(2031, 4, 1, 9, 0, tzinfo=UTC)


def run(job_id: str, attempt: int = 1, *, name: str = "deliver_webhook", minute: int = 0) -> JobRun:
    payload = {"delivery_id": "d-1", "attempt": attempt, "request_id": f"req-{job_id}"}
    return JobRun(job_id, name, payload, attempt, queued_at=T0 + timedelta(minutes=minute))


async def finished(
    deps: Dependencies, job_id: str, status: JobStatus, *, minute: int = 0, name: str = "x"
) -> JobRecord:
    """A job queued at T0 + ``minute`` that ran once and ended ``status``."""
    job = run(job_id, name=name, minute=minute)
    ok(await record_run_started(deps, WORKER, job))
    error = None if status is JobStatus.SUCCEEDED else f"{status.value}: why"
    outcome = JobOutcome(status, {"status": status.value}, error)
    return ok(await record_run_ended(deps, WORKER, job, outcome))


async def test_the_worker_records_a_job_nobody_recorded_when_it_first_runs_it(
    deps: Dependencies,
) -> None:
    started = ok(await record_run_started(deps, WORKER, run("webhook:1", minute=5)))

    assert (started.status, started.attempts, started.name) == (
        JobStatus.RUNNING,
        1,
        "deliver_webhook",
    )
    assert started.created_at == T0 + timedelta(minutes=5)  # when the queue received it
    assert started.request_id == "req-webhook:1"
    assert started.started_at is not None
    assert started.finished_at is None
    assert ok(await get_job(deps, ctx(), "webhook:1")) == started


async def test_a_retried_run_is_queued_again_keeping_its_error_through_to_success(
    deps: Dependencies,
) -> None:
    ok(await record_run_started(deps, WORKER, run("j-1")))
    waiting = ok(await record_run_retrying(deps, WORKER, run("j-1"), "OSError: refused"))
    assert (waiting.status, waiting.attempts, waiting.last_error) == (
        JobStatus.QUEUED,
        1,
        "OSError: refused",
    )

    again = ok(await record_run_started(deps, WORKER, run("j-1", 2)))
    assert (again.status, again.attempts, again.last_error) == (
        JobStatus.RUNNING,
        2,
        "OSError: refused",
    )
    done = ok(
        await record_run_ended(
            deps, WORKER, run("j-1", 2), JobOutcome(JobStatus.SUCCEEDED, {"status": "succeeded"})
        )
    )

    assert (done.status, done.attempts, done.last_error) == (
        JobStatus.SUCCEEDED,
        2,
        "OSError: refused",
    )
    assert done.result == {"status": "succeeded"}
    assert done.finished_at is not None
    assert ok(await get_job(deps, ctx(), "j-1")) == done


async def test_a_dead_job_keeps_why_it_died_and_a_long_error_is_cut(deps: Dependencies) -> None:
    reason = "unavailable: " + "x" * 5000
    result = {"status": "dead", "error": {"code": "unavailable", "detail": "x" * 5000}}

    dead = ok(
        await record_run_ended(
            deps, WORKER, run("j-dead", 5), JobOutcome(JobStatus.DEAD, result, reason)
        )
    )

    assert (dead.status, dead.attempts, dead.result) == (JobStatus.DEAD, 5, result)
    assert dead.last_error is not None
    assert len(dead.last_error) == 2000
    assert dead.last_error.startswith("unavailable: xxx")
    assert ok(await get_job(deps, ctx(), "j-dead")) == dead


async def test_only_orderly_records_runs_and_only_managers_read_jobs(deps: Dependencies) -> None:
    await finished(deps, "j-1", JobStatus.SUCCEEDED)

    for actor in (OPERATOR, STAFF, CUSTOMER):
        assert isinstance(err(await record_run_started(deps, ctx(actor), run("j-2"))), Forbidden)
    for actor in (OPERATOR, STAFF, ADMIN, WORKER.actor):
        assert ok(await get_job(deps, ctx(actor), "j-1")).id == "j-1"
    assert isinstance(err(await get_job(deps, ctx(CUSTOMER), "j-1")), Forbidden)
    assert isinstance(err(await list_jobs(deps, ctx(CUSTOMER), JobQuery())), Forbidden)
    assert isinstance(err(await get_job(deps, ctx(), "nope")), JobNotFound)


async def test_listings_are_newest_first_by_status_and_name_and_page_by_key(
    deps: Dependencies,
) -> None:
    await finished(deps, "a", JobStatus.SUCCEEDED, minute=1, name="import_products")
    await finished(deps, "b", JobStatus.DEAD, minute=2, name="deliver_webhook")
    await finished(deps, "c", JobStatus.FAILED, minute=3, name="import_products")
    await finished(deps, "d", JobStatus.DEAD, minute=4, name="import_products")
    await finished(deps, "e", JobStatus.DEAD, minute=4, name="import_products")  # same time

    async def page_of(query: JobQuery) -> Any:
        return ok(await list_jobs(deps, ctx(), query))

    first = await page_of(JobQuery(limit=2))
    second = await page_of(JobQuery(limit=2, cursor=first.next_cursor))
    third = await page_of(JobQuery(limit=2, cursor=second.next_cursor))
    assert [[j.id for j in p.items] for p in (first, second, third)] == [
        ["e", "d"],
        ["c", "b"],
        ["a"],
    ]
    assert third.next_cursor is None
    dead = await page_of(JobQuery(status=JobStatus.DEAD))
    assert [j.id for j in dead.items] == ["e", "d", "b"]
    imports = await page_of(JobQuery(status=JobStatus.DEAD, name="import_products"))
    assert [j.id for j in imports.items] == ["e", "d"]
    assert (await page_of(JobQuery(name="expire_orders"))).items == ()
    without = JobQuery(limit=2, hidden_names=frozenset({"import_products", "expire_orders"}))
    assert [j.id for j in (await page_of(without)).items] == ["b"]
    summary = dead.items[0]
    assert (summary.status, summary.attempts, summary.last_error) == (
        JobStatus.DEAD,
        1,
        "dead: why",
    )


async def test_a_listing_refuses_a_bad_limit_cursor_or_name(deps: Dependencies) -> None:
    refused = err(await list_jobs(deps, ctx(), JobQuery(limit=0, cursor="%%", name="")))

    assert isinstance(refused, InvalidInput)
    assert [e.field for e in refused.errors] == ["limit", "cursor", "name"]


async def test_a_failed_or_dead_job_is_retried_as_a_new_queued_job(deps: Dependencies) -> None:
    queue = InMemoryJobQueue()
    imp = ok(
        await submit_product_import(
            deps, Context(OPERATOR, "req-1", idempotency_key="imp"), CSV, queue
        )
    ).id
    original = await finished(deps, imp, JobStatus.FAILED)
    queue.jobs.clear()

    retried = fresh(await retry_job(deps, ctx(STAFF), imp, queue))

    assert (retried.id, retried.status, retried.retry_of) == (
        f"{imp}:retry-1",
        JobStatus.QUEUED,
        imp,
    )
    assert (retried.attempts, retried.request_id) == (0, "req-1")
    [queued] = queue.jobs
    assert (queued.name, queued.job_id) == (IMPORT_PRODUCTS, f"{imp}:retry-1")
    assert queued.payload == original.payload
    record = ok(await get_job(deps, ctx(), f"{imp}:retry-1"))
    assert record.summary() == retried
    assert record.payload == original.payload
    assert ok(await get_job(deps, ctx(), imp)) == original  # the old record stays
    [entry] = ok(await list_audit(deps, ctx(), AuditQuery(operation="job.retry"))).items
    assert (entry.target_type, entry.target_id, entry.actor_id) == ("job", f"{imp}:retry-1", "u-2")
    assert entry.changes["retry_of"] == {"before": None, "after": imp}


async def test_retries_are_numbered_on_from_the_first_job(deps: Dependencies) -> None:
    queue = InMemoryJobQueue()
    await finished(deps, "j", JobStatus.DEAD)

    first = fresh(await retry_job(deps, ctx(), "j", queue))
    second = fresh(await retry_job(deps, ctx(), "j", queue))
    await finished(deps, first.id, JobStatus.DEAD)
    third = fresh(await retry_job(deps, ctx(), first.id, queue))

    assert [first.id, second.id, third.id] == ["j:retry-1", "j:retry-2", "j:retry-3"]
    assert third.retry_of == "j:retry-1"
    assert [job.job_id for job in queue.jobs] == ["j:retry-1", "j:retry-2", "j:retry-3"]


@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.RUNNING, JobStatus.QUEUED])
async def test_only_failed_and_dead_jobs_are_retried(deps: Dependencies, status: JobStatus) -> None:
    queue = InMemoryJobQueue()
    if status is JobStatus.SUCCEEDED:
        await finished(deps, "j", status)
    else:
        ok(await record_run_started(deps, WORKER, run("j")))
        if status is JobStatus.QUEUED:
            ok(await record_run_retrying(deps, WORKER, run("j"), "OSError"))

    refused = err(await retry_job(deps, ctx(), "j", queue))

    assert refused == JobNotRetryable("j", status.value)
    assert refused.detail == f"Job 'j' is {status.value}: only failed and dead jobs can be retried."
    assert queue.jobs == []
    assert isinstance(err(await retry_job(deps, ctx(), "nope", queue)), JobNotFound)
    assert isinstance(err(await retry_job(deps, ctx(CUSTOMER), "j", queue)), Forbidden)


async def test_a_dry_run_retry_queues_and_records_nothing(deps: Dependencies) -> None:
    queue = InMemoryJobQueue()
    await finished(deps, "j", JobStatus.DEAD)

    would = fresh(await retry_job(deps, ctx(mode=Mode.DRY_RUN), "j", queue))

    assert (would.id, would.status, would.retry_of) == ("j:retry-1", JobStatus.QUEUED, "j")
    assert queue.jobs == []
    assert isinstance(err(await get_job(deps, ctx(), "j:retry-1")), JobNotFound)
    assert ok(await list_audit(deps, ctx(), AuditQuery(operation="job.retry"))).items == ()


async def test_a_retry_with_its_key_again_queues_nothing_more(deps: Dependencies) -> None:
    queue = InMemoryJobQueue()
    await finished(deps, "j", JobStatus.DEAD)
    keyed = Context(OPERATOR, "req-retry", idempotency_key="retry-j")

    first = fresh(await retry_job(deps, keyed, "j", queue))
    again = ok(await retry_job(deps, keyed, "j", queue))

    assert isinstance(again, Replayed)
    assert (again.original, again.request_id) == (first, "req-retry")
    assert len(queue.jobs) == 1


def test_retry_ids_stay_within_the_longest_job_id() -> None:
    long_id = "k" * JOB_ID_MAX

    assert retry_id("spring", 1) == "spring:retry-1"
    assert retry_id("spring:retry-4", 5) == "spring:retry-5"
    assert retry_id("a:retry-x", 1) == "a:retry-x:retry-1"
    assert len(retry_id(long_id, 12)) == JOB_ID_MAX
    assert retry_id(long_id, 12).endswith("k:retry-12")


async def test_a_job_is_shown_without_its_large_payload_fields(deps: Dependencies) -> None:
    queue = InMemoryJobQueue()
    big = HEADER + "".join(f"SKU-{n},Item {n},,1.00,EUR,1\n" for n in range(100))
    ok(
        await submit_product_import(
            deps, Context(OPERATOR, "req-big", idempotency_key="big"), big, queue
        )
    )

    view = job_view(ok(await get_job(deps, ctx(), import_job_id(OPERATOR, "big"))))

    assert view["payload"] == {"request_id": "req-big", "requested_by": "alice", "mode": "execute"}
    assert view["payload_omitted"] == ["csv_text"]
    assert view["status"] == "queued"
    assert view["created_at"].tzinfo is not None
