"""How long the records of finished jobs are kept."""

from __future__ import annotations

from returns.result import Failure, Result

from orderly_core.jobs.ports import JobsServices
from orderly_core.platform.retention import PURGE_BATCH, PurgeReport, purge_in_batches
from orderly_core.shared.authorization import operations_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden


async def purge_old_jobs(
    deps: JobsServices, ctx: Context, *, batch: int = PURGE_BATCH
) -> Result[PurgeReport, Forbidden]:
    """Delete the records of jobs that succeeded more than ``job_record_ttl`` ago (30 days by
    default); failed and dead jobs are kept until someone retries or removes them. Operators
    and Orderly's scheduled job run it, in batches like the key purge."""
    if denied := operations_denied(ctx.actor, "purge job records"):
        return Failure(denied)
    before = deps.clock.now() - deps.job_record_ttl
    return await purge_in_batches(
        deps, ctx, lambda uow: uow.jobs.purge_succeeded(before, batch), batch
    )
