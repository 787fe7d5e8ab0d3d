"""Background jobs as a workflow: reading their records, retrying the failed and the dead,
and the worker's record of every run (see :mod:`orderly_core.jobs.model`).

Staff and admins, operators and Orderly itself read and retry jobs
(:func:`~orderly_core.shared.authorization.job_admin_denied`); only Orderly's worker records runs.
Whoever queues a job records it in the unit of work that queues it (:func:`queue_recorded`),
so a job is never queued unrecorded by Orderly's use cases; a job queued by the scheduler is
recorded by the worker when it first runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from returns.result import Failure, Result, Success

from orderly_core.jobs.model import (
    RETRYABLE,
    JobData,
    JobNotFound,
    JobNotRetryable,
    JobQuery,
    JobRecord,
    JobStatus,
    JobSummary,
    ended,
    new_record,
    requeued,
    retry_id,
    running,
    summary_view,
)
from orderly_core.jobs.ports import JobQueue, JobsServices, JobsUnit
from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.shared.authorization import job_admin_denied, job_recording_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.paging import Page, checked_page, newest_first
from orderly_core.shared.validation import FieldErrors, text_problem

NAME_MAX = 64
TARGET = "job"  # the audit trail's target type of a job
# Jobs newest first; their ids are the queue's, any text.
_NEWEST_FIRST = newest_first(lambda job_id: job_id)

GetJobError = Forbidden | JobNotFound
ListJobsError = Forbidden | InvalidInput
RetryJobError = Forbidden | JobNotFound | JobNotRetryable
RecordRunError = Forbidden


@dataclass(frozen=True, slots=True)
class JobRun:
    """One run of a job, as the worker that runs it sees it."""

    job_id: str
    name: str
    payload: JobData
    attempt: int  # the run's number, from 1
    queued_at: datetime | None = None  # when the queue received the job, if it says


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """How a run ended the job: ``succeeded``, ``failed`` or ``dead``, with its result."""

    status: JobStatus
    result: JobData
    error: str | None = None  # for a refusal or a dead letter: why


async def queue_recorded(uow: JobsUnit, queue: JobQueue, job: JobRecord) -> bool:
    """Record ``job`` as queued and queue it, inside the caller's unit of work; whether the
    queue took it (``False``: a job with its id is queued or finished recently).

    The record is written before the job is queued: a worker that takes the job before the
    caller commits waits on the record, and a queue that cannot be reached rolls it back. A
    record that exists already is marked queued again when the queue takes the job anew.
    """
    added = await uow.jobs.add(job)
    enqueued = await queue.enqueue(job.name, job.payload, job.id)
    if enqueued and not added:
        current = await uow.jobs.get(job.id, for_update=True)
        if current is not None and current.status is not JobStatus.QUEUED:
            await uow.jobs.save(
                replace(
                    current,
                    status=JobStatus.QUEUED,
                    result=None,
                    finished_at=None,
                    updated_at=job.updated_at,
                )
            )
    return enqueued


# --- reading and retrying ------------------------------------------------------------------


async def get_job(deps: JobsServices, ctx: Context, job_id: str) -> Result[JobRecord, GetJobError]:
    """One background job: its status, runs, last error, result, request and timestamps.

    Rules: staff and admins, operators and Orderly itself only (a job's payload and result
    hold imported rows and who asked for the work).
    """
    if denied := job_admin_denied(ctx.actor, "read background jobs"):
        return Failure(denied)

    async def work(uow: JobsUnit) -> Result[JobRecord, GetJobError]:
        # An id that is not text was never a job's: not found, without a read.
        found = None if text_problem(job_id) else await uow.jobs.get(job_id)
        return Success(found) if found is not None else Failure(JobNotFound(job_id))

    return await in_transaction(deps, ctx, work)


async def list_jobs(
    deps: JobsServices, ctx: Context, query: JobQuery
) -> Result[Page[JobSummary], ListJobsError]:
    """Background jobs, newest first (keyset pagination), at most 200 a page, optionally of
    one status (``dead``: the dead letters) and one name.

    Rules: staff and admins, operators and Orderly itself only. Listings show no payload and
    no result: read one job for those.
    """
    if denied := job_admin_denied(ctx.actor, "list background jobs"):
        return Failure(denied)
    fields = FieldErrors()
    page = checked_page(fields, query, _NEWEST_FIRST)
    if query.name is not None and not 1 <= len(query.name) <= NAME_MAX:
        fields.fail("name", f"must be 1-{NAME_MAX} characters")
    if invalid := fields.invalid():
        return invalid

    async def work(uow: JobsUnit) -> Result[Page[JobSummary], ListJobsError]:
        found = await uow.jobs.list(
            after=page.after, limit=page.fetch_limit, status=query.status, name=query.name
        )
        return Success(page.cut(found, lambda j: (j.created_at, j.id)))

    return await in_transaction(deps, ctx, work)


async def _free_retry_id(uow: JobsUnit, job_id: str) -> str:
    number = 1
    while await uow.jobs.get(candidate := retry_id(job_id, number)) is not None:
        number += 1
    return candidate


async def _retry_record(deps: JobsServices, uow: JobsUnit, original: JobRecord) -> JobRecord:
    """The record of a new job that runs ``original`` again, under the first free retry id."""
    return new_record(
        await _free_retry_id(uow, original.id),
        original.name,
        original.payload,
        at=deps.clock.now(),
        retry_of=original.id,
    )


async def retry_job(
    deps: JobsServices, ctx: Context, job_id: str, queue: JobQueue
) -> Idempotent[JobSummary, RetryJobError]:
    """Run a failed or dead job again, as a new job with the same name and payload.

    Rules: staff and admins, operators and Orderly itself only; only a job that ended
    ``failed`` or ``dead`` may be retried. The new job's id is ``<id>:retry-<n>``, ``n``
    being the first number not taken (a retry of a retry is numbered on from the first job:
    ``<first id>:retry-2``); it is recorded as queued, naming the job it retries
    (``retry_of``), and queued in the same step. The old job's record stays as it was. The
    new id is also the new run's idempotency key, so the work is done afresh (an import is
    imported again, not replayed). A dry run queues and records nothing and answers the job
    that would be queued. With an idempotency key, a retry of the request queues nothing
    more and answers the job it queued.
    """
    if denied := job_admin_denied(ctx.actor, "retry background jobs"):
        return Failure(denied)

    async def work(uow: JobsUnit) -> Result[JobSummary, RetryJobError]:
        original = None if text_problem(job_id) else await uow.jobs.get(job_id, for_update=True)
        if original is None:
            return Failure(JobNotFound(job_id))
        if original.status not in RETRYABLE:
            return Failure(JobNotRetryable(job_id, original.status.value))
        again = await _retry_record(deps, uow, original)
        if ctx.applies_changes:
            await queue_recorded(uow, queue, again)
        else:
            await uow.jobs.add(again)
        summary = again.summary()
        await record(
            deps,
            uow,
            ctx,
            "job.retry",
            target=(TARGET, again.id),
            before=None,
            after=summary_view(summary),
        )
        return Success(summary)

    operation = Operation(
        "job.retry", {"job_id": job_id}, JobSummary, (JobNotFound, JobNotRetryable)
    )
    return await in_idempotent_transaction(deps, ctx, operation, work)


# --- the worker's record of each run ---------------------------------------------------------


async def _record_run(
    deps: JobsServices,
    ctx: Context,
    run: JobRun,
    change: Callable[[JobRecord, datetime], JobRecord],
) -> Result[JobRecord, RecordRunError]:
    """Apply ``change`` to the job's record, first recording a job nobody recorded (one
    queued by the scheduler), queued when the queue received it."""
    if denied := job_recording_denied(ctx.actor):
        return Failure(denied)

    async def work(uow: JobsUnit) -> Result[JobRecord, RecordRunError]:
        now = deps.clock.now()
        current = await uow.jobs.get(run.job_id, for_update=True)
        if current is None:
            first = new_record(run.job_id, run.name, run.payload, at=run.queued_at or now)
            changed = change(first, now)
            if await uow.jobs.add(changed):
                return Success(changed)
            current = await uow.jobs.get(run.job_id, for_update=True)
            if current is None:
                raise LookupError(f"the record of job {run.job_id} vanished while written")
        changed = change(current, now)
        await uow.jobs.save(changed)
        return Success(changed)

    return await in_transaction(deps, ctx, work)


async def record_run_started(
    deps: JobsServices, ctx: Context, run: JobRun
) -> Result[JobRecord, RecordRunError]:
    """A worker started running the job: ``running``, ``attempts`` being this run's number.
    Orderly's worker only."""
    return await _record_run(deps, ctx, run, lambda job, now: running(job, run.attempt, now))


async def record_run_retrying(
    deps: JobsServices, ctx: Context, run: JobRun, error: str
) -> Result[JobRecord, RecordRunError]:
    """The run met an infrastructure fault and the job will run again after a backoff:
    ``queued`` again, with the error as ``last_error``. Orderly's worker only."""
    return await _record_run(
        deps, ctx, run, lambda job, now: requeued(job, run.attempt, error, now)
    )


async def record_run_ended(
    deps: JobsServices, ctx: Context, run: JobRun, outcome: JobOutcome
) -> Result[JobRecord, RecordRunError]:
    """The run ended the job: ``succeeded``, ``failed`` (refused by a business rule) or
    ``dead`` (given up: a dead letter), with its result and, for the last two, why.
    Orderly's worker only."""
    return await _record_run(
        deps,
        ctx,
        run,
        lambda job, now: ended(
            job,
            run.attempt,
            status=outcome.status,
            result=outcome.result,
            error=outcome.error,
            at=now,
        ),
    )
