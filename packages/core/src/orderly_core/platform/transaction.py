"""The one place that decides whether a use case's transaction commits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from returns.pipeline import is_successful
from returns.result import Failure, Result

from orderly_core.platform.idempotency import (
    IdempotencyRecords,
    Idempotent,
    KeyScope,
    Operation,
    Replayed,
    earlier_answer,
    is_kept,
    stored_outcome,
)
from orderly_core.platform.ports import Services, Transactional
from orderly_core.shared.context import Actor, Context


class AccountRefused(Exception):  # noqa: N818 - named as what happened
    """The account of the context's claims is gone or deactivated, or refuses tokens issued
    when their token was. Nothing was done; adapters answer as to an invalid token."""


class AccountChanged(Exception):  # noqa: N818 - named as what happened
    """The account of the context's claims holds, but its role is no longer the one the
    context acted with. Nothing was done; the adapter runs the use case again as ``actor``."""

    def __init__(self, actor: Actor) -> None:
        super().__init__(f"the account now acts as {actor.role}")
        self.actor = actor


async def checked_claims(uow: Transactional, ctx: Context) -> None:
    """The first statement of every unit of work of a use case whose context carries an
    access token's claims: the account is read in the same transaction as the work, so a
    deactivation or a role change applies at once, and no second transaction is needed to
    authenticate."""
    if ctx.claims is None:
        return
    actor = await uow.claims_actor(ctx.claims)
    if actor is None:
        raise AccountRefused
    if actor != ctx.actor:
        raise AccountChanged(actor)


class IdempotentUnit(Transactional, Protocol):
    """A unit of work that keeps the outcomes of idempotent requests."""

    @property
    def idempotency(self) -> IdempotencyRecords: ...


async def _refusal_of_replay[U, E](
    uow: U,
    earlier: Result[Replayed[Any], Any],
    replay_refusal: Callable[[U], Awaitable[E | None]] | None,
) -> E | None:
    """The refusal today's rules give the actor, when ``earlier`` replays an outcome and
    today's answer differs from it (a refusal that still holds is replayed as it was)."""
    replays = is_successful(earlier) or isinstance(earlier.failure(), Replayed)
    if replay_refusal is None or not replays:
        return None
    refused = await replay_refusal(uow)
    if not is_successful(earlier) and earlier.failure() == Replayed(refused):
        return None
    return refused


async def in_transaction[U: Transactional, T, E](
    deps: Services[U],
    ctx: Context,
    work: Callable[[U], Awaitable[Result[T, E]]],
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
        await checked_claims(uow, ctx)
        result = await work(uow)
        kept = not is_successful(result) and isinstance(result.failure(), keep_on_failure)
        if ctx.applies_changes and (is_successful(result) or kept):
            await uow.commit()
        else:
            await uow.rollback()
        return result


async def in_idempotent_transaction[U: IdempotentUnit, T, E](
    deps: Services[U],
    ctx: Context,
    operation: Operation[T],
    work: Callable[[U], Awaitable[Result[T, E]]],
    *,
    replay_refusal: Callable[[U], Awaitable[E | None]] | None = None,
) -> Idempotent[T, E]:
    """Run ``work`` like :func:`in_transaction`, at most once per idempotency key.

    Without a key, or in a dry run, this is :func:`in_transaction`. With one, the key is held
    for the transaction: an earlier outcome is answered again (see
    :mod:`orderly_core.platform.idempotency`), and a new success is stored in the transaction that
    makes it, so neither exists without the other. A replayable failure changes nothing; its
    outcome is stored in a transaction of its own.

    A replay answers only an actor who may still perform the operation. Checks that need no
    stored state run before this is called; ``replay_refusal`` runs the rest (who may see the
    target, what they may do to it) with today's state before an earlier outcome is answered,
    and its refusal is answered instead, stored nowhere.
    """
    key = ctx.idempotency_key
    if key is None or not ctx.applies_changes:
        return await in_transaction(deps, ctx, work)
    scope = KeyScope.of(ctx.actor, operation.name, key)
    async with deps.unit_of_work() as uow:
        await checked_claims(uow, ctx)
        now = deps.clock.now()
        earlier = await earlier_answer(uow.idempotency, scope, operation, now)
        if earlier is not None:
            refused = await _refusal_of_replay(uow, earlier, replay_refusal)
            await uow.rollback()
            return earlier if refused is None else Failure(refused)
        result = await work(uow)
        if not is_successful(result):
            await uow.rollback()
        else:
            outcome = stored_outcome(ctx, operation, result, now, deps.idempotency_ttl)
            await uow.idempotency.store(scope, outcome)
            await uow.commit()
            return result
    if is_kept(operation, result):
        async with deps.unit_of_work() as uow:
            await checked_claims(uow, ctx)
            now = deps.clock.now()
            if await earlier_answer(uow.idempotency, scope, operation, now) is None:
                outcome = stored_outcome(ctx, operation, result, now, deps.idempotency_ttl)
                await uow.idempotency.store(scope, outcome)
                await uow.commit()
    return result
