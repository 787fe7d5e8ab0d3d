"""How long Orderly keeps what it only needs for a while, and the purge that enforces it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from returns.result import Failure, Result, Success

from orderly_core.platform.ports import Services, Transactional
from orderly_core.platform.transaction import IdempotentUnit, in_transaction
from orderly_core.shared.authorization import operations_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden

PURGE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class PurgeReport:
    purged: int
    applied: bool


async def purge_in_batches[U: Transactional](
    deps: Services[U], ctx: Context, delete_batch: Callable[[U], Awaitable[int]], batch: int
) -> Result[PurgeReport, Forbidden]:
    """Run ``delete_batch`` (which deletes at most ``batch`` rows) in a transaction of its own
    until it deletes fewer than ``batch``, so a large backlog never holds locks for long; a dry
    run counts the first batch only."""

    async def work(uow: U) -> Result[int, Forbidden]:
        return Success(await delete_batch(uow))

    purged = 0
    while True:
        deleted = (await in_transaction(deps, ctx, work)).unwrap()
        purged += deleted
        if deleted < batch or not ctx.applies_changes:
            return Success(PurgeReport(purged, applied=ctx.applies_changes))


async def purge_expired_keys(
    deps: Services[IdempotentUnit], ctx: Context, *, batch: int = PURGE_BATCH
) -> Result[PurgeReport, Forbidden]:
    """Delete the idempotency records kept longer than ``idempotency_ttl``, in batches of
    ``batch`` rows (see :func:`purge_in_batches`). Operators and Orderly's scheduled job run
    it."""
    if denied := operations_denied(ctx.actor, "purge idempotency keys"):
        return Failure(denied)
    return await purge_in_batches(
        deps, ctx, lambda uow: uow.idempotency.purge(deps.clock.now(), batch), batch
    )
