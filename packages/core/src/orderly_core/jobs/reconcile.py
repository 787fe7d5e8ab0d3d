"""Closing the records of jobs that nothing runs any more.

A job's record follows it through the worker's boundary, one short transaction per step. Two
things can leave a record ``queued`` or ``running`` for good: the write of the job's end
failed (PostgreSQL away at that moment, and still away through the boundary's own retries),
or the job left the queue without ending (its worker died mid-run and Redis lost the job, or
Redis restarted empty). The queue knows the truth of each: :func:`reconcile_jobs` asks it
about every record unchanged for longer than a grace period and closes the record with that
truth.

- A job the queue still holds, waiting or running, is left alone.
- A job the queue finished is closed with the result the queue kept (``succeeded``,
  ``failed`` or ``dead``, as the worker returned it), or ``dead`` with the queue's reason
  when the run ended without an Orderly result.
- A job the queue does not know is ``dead`` (code ``lost``): nothing will run it. Like every
  dead job it can be retried (``orderly jobs retry``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from returns.result import Failure, Result, Success

from orderly_core.jobs.model import JobData, JobRecord, JobStatus, ended
from orderly_core.jobs.ports import JobsServices, JobsUnit
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import operations_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden

RECONCILE_BATCH = 100
UNFINISHED = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
LOST = "lost"  # the code of a job the queue no longer holds
ENDINGS = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.DEAD})


class QueueState(enum.StrEnum):
    """Where the queue says a job is."""

    WAITING = "waiting"  # queued, or deferred until a later time (a retry's backoff)
    RUNNING = "running"
    DONE = "done"  # finished, its result kept
    ABSENT = "absent"  # neither held nor finished: lost, or its result no longer kept


@dataclass(frozen=True, slots=True)
class QueuedJob:
    """What the queue says of one job: its state and, when it is done, how it ended."""

    state: QueueState
    result: Any = None  # DONE: what the run returned (an Orderly job's JSON result)
    error: str | None = None  # DONE: why the run failed, when it returned nothing


class JobStates(Protocol):
    """The queue, asked about the jobs it holds."""

    async def state(self, job_id: str) -> QueuedJob: ...


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    closed: tuple[JobRecord, ...]  # the records closed, as they now are


def true_end(found: QueuedJob) -> tuple[JobStatus, JobData, str | None] | None:
    """How the queue says the job ended (status, result, reason), or ``None`` while the
    queue still holds it."""
    if found.state in (QueueState.WAITING, QueueState.RUNNING):
        return None
    if found.state is QueueState.DONE:
        result = found.result
        status = result.get("status") if isinstance(result, dict) else None
        if status in ENDINGS:
            error = result.get("error")
            reason = None
            if isinstance(error, dict):
                reason = f"{error.get('code')}: {error.get('detail')}"
            return JobStatus(status), result, reason
        detail = f"the run ended without a result: {found.error or 'no reason given'}"
        return _dead("internal_error", detail)
    detail = (
        "the queue no longer holds the job and nothing runs it"
        " (its worker stopped mid-run, or the queue lost it)"
    )
    return _dead(LOST, detail)


def _dead(code: str, detail: str) -> tuple[JobStatus, JobData, str]:
    result = {"status": JobStatus.DEAD.value, "error": {"code": code, "detail": detail}}
    return JobStatus.DEAD, result, f"{code}: {detail}"


async def reconcile_jobs(
    deps: JobsServices,
    ctx: Context,
    queue: JobStates,
    *,
    grace: timedelta,
    batch: int = RECONCILE_BATCH,
) -> Result[ReconcileReport, Forbidden]:
    """Close the records of jobs that ended, or were lost, without their record saying so
    (see the module's description): those ``queued`` or ``running`` and unchanged for more
    than ``grace``, up to ``batch`` at a time, oldest first. A record that moved on while
    the queue was asked is left as it now is.

    Rules: Orderly itself and operators only (the worker's delivery engine runs it).
    """
    if denied := operations_denied(ctx.actor, "reconcile job records"):
        return Failure(denied)

    async def stale(uow: JobsUnit) -> Result[list[JobRecord], Forbidden]:
        return Success(await uow.jobs.unfinished(deps.clock.now() - grace, batch))

    found = await in_transaction(deps, ctx, stale)
    if not isinstance(found, Success):
        return Failure(found.failure())
    closed: list[JobRecord] = []
    for seen in found.unwrap():
        end = true_end(await queue.state(seen.id))
        if end is None:
            continue
        status, result, reason = end

        async def close(
            uow: JobsUnit, seen: JobRecord = seen, status: JobStatus = status,
            result: JobData = result, reason: str | None = reason,
        ) -> Result[JobRecord | None, Forbidden]:  # fmt: skip
            current = await uow.jobs.get(seen.id, for_update=True)
            if current is None or current.updated_at != seen.updated_at:
                return Success(None)  # it moved on: the worker wrote it, or it was purged
            now = deps.clock.now()
            done = ended(
                current, current.attempts, status=status, result=result, error=reason, at=now
            )
            await uow.jobs.save(done)
            return Success(done)

        written = await in_transaction(deps, ctx, close)
        if isinstance(written, Success) and (done := written.unwrap()) is not None:
            closed.append(done)
    return Success(ReconcileReport(tuple(closed)))
