"""How long Orderly keeps what it only needs for a while, and the purge that enforces it."""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from orderly_core.authorization import operations_denied
from orderly_core.context import Context
from orderly_core.errors import Forbidden
from orderly_core.ports import Dependencies, UnitOfWork
from orderly_core.transaction import in_transaction

PURGE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class PurgeReport:
    purged: int
    applied: bool


async def purge_expired_keys(
    deps: Dependencies, ctx: Context, *, batch: int = PURGE_BATCH
) -> Result[PurgeReport, Forbidden]:
    """Delete the idempotency records kept longer than ``Dependencies.idempotency_ttl``.

    Operators and Orderly's scheduled job run it. Deletes in batches of ``batch`` rows, each
    in its own transaction, so a large backlog never holds locks for long; a dry run counts
    the first batch only.
    """
    if denied := operations_denied(ctx.actor, "purge idempotency keys"):
        return Failure(denied)

    async def work(uow: UnitOfWork) -> Result[int, Forbidden]:
        return Success(await uow.idempotency.purge(deps.clock.now(), batch))

    purged = 0
    while True:
        deleted = (await in_transaction(deps, ctx, work)).unwrap()
        purged += deleted
        if deleted < batch or not ctx.applies_changes:
            return Success(PurgeReport(purged, applied=ctx.applies_changes))


async def purge_old_jobs(
    deps: Dependencies, ctx: Context, *, batch: int = PURGE_BATCH
) -> Result[PurgeReport, Forbidden]:
    """Delete the records of jobs that succeeded more than ``Dependencies.job_record_ttl``
    ago (30 days by default); failed and dead jobs are kept until someone retries or removes
    them. Operators and Orderly's scheduled job run it, in batches like the key purge."""
    if denied := operations_denied(ctx.actor, "purge job records"):
        return Failure(denied)

    async def work(uow: UnitOfWork) -> Result[int, Forbidden]:
        before = deps.clock.now() - deps.job_record_ttl
        return Success(await uow.jobs.purge_succeeded(before, batch))

    purged = 0
    while True:
        deleted = (await in_transaction(deps, ctx, work)).unwrap()
        purged += deleted
        if deleted < batch or not ctx.applies_changes:
            return Success(PurgeReport(purged, applied=ctx.applies_changes))
