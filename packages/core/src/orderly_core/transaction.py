"""The one place that decides whether a use case's transaction commits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from returns.pipeline import is_successful
from returns.result import Result

from orderly_core.context import Context
from orderly_core.ports import Dependencies, UnitOfWork


async def in_transaction[T, E](
    deps: Dependencies,
    ctx: Context,
    work: Callable[[UnitOfWork], Awaitable[Result[T, E]]],
    *,
    keep_on_failure: tuple[type, ...] = (),
) -> Result[T, E]:
    """Run ``work`` inside one unit of work.

    Commits only when the work succeeded *and* the mode is ``EXECUTE``. A failure, a dry run
    or an exception rolls back, so a ``DRY_RUN`` computes the full result and leaves no trace.
    ``keep_on_failure`` names the failures that are facts to record all the same (a reused
    refresh token revokes its family, and the refusal must not undo the revocation).
    """
    async with deps.unit_of_work() as uow:
        result = await work(uow)
        kept = not is_successful(result) and isinstance(result.failure(), keep_on_failure)
        if ctx.applies_changes and (is_successful(result) or kept):
            await uow.commit()
        else:
            await uow.rollback()
        return result
