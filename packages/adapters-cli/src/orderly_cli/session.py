"""What every CLI command that touches data shares: settings, engine, and the operator context."""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

import structlog
import typer
from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_cli.boundary import refuse, run_async
from orderly_cli.config import CliSettings, cli_settings
from orderly_core.platform.idempotency import Idempotent, Replayed, without_replay
from orderly_core.shared.context import Actor, Context, Mode
from orderly_core.shared.errors import DomainError
from orderly_core.unit_of_work import Dependencies
from orderly_db.engine import create_engine
from orderly_db.unit_of_work import dependencies_from_settings
from orderly_payments.settings import open_provider


def operator_context(*, dry_run: bool = False, idempotency_key: str | None = None) -> Context:
    """The context of a CLI command: the operator is the OS user who runs it."""
    context = Context(
        actor=Actor.operator(getpass.getuser()),
        request_id=f"cli-{uuid.uuid4().hex[:16]}",
        idempotency_key=idempotency_key,
        mode=Mode.DRY_RUN if dry_run else Mode.EXECUTE,
    )
    structlog.contextvars.bind_contextvars(
        request_id=context.request_id, actor=context.actor.id, mode=context.mode.value
    )
    return context


async def with_dependencies[T](
    work: Callable[[Dependencies], Awaitable[T]], settings: CliSettings | None = None
) -> T:
    """Run ``work`` with PostgreSQL-backed dependencies and the payment provider, closing both
    afterwards."""
    settings = settings or cli_settings()
    engine = create_engine(settings, application_name="orderly-cli")
    try:
        async with open_provider(settings) as provider:
            deps = dependencies_from_settings(engine, settings)
            return await work(replace(deps, payment_provider=provider))
    finally:
        await engine.dispose()


def run_use_case[T](
    use_case: Callable[[Dependencies], Awaitable[Result[T, DomainError]]], *, as_json: bool
) -> T:
    """Run one use case against PostgreSQL and return its value; a refusal exits 1 with its
    reason (or its JSON), an unreachable server 3 (see :mod:`orderly_cli.boundary`)."""
    result = run_async(with_dependencies(use_case))
    if not is_successful(result):
        refuse(result.failure(), as_json=as_json)
    return result.unwrap()


REPLAY_NOTE = "note: an earlier run with this idempotency key did this; showing its outcome"


def noting_replays[T](result: Idempotent[T, DomainError]) -> Result[T, DomainError]:
    """The outcome of an idempotent use case, saying on stderr when it is the stored outcome
    of an earlier run with the same ``--idempotency-key``."""
    if is_successful(result):
        value, replayed = without_replay(result.unwrap())
        outcome: Result[T, DomainError] = Success(value)
    else:
        error = result.failure()
        replayed = isinstance(error, Replayed)
        outcome = Failure(error.original if isinstance(error, Replayed) else error)
    if replayed:
        typer.echo(REPLAY_NOTE, err=True)
    return outcome


def run_idempotent_use_case[T](
    use_case: Callable[[Dependencies], Awaitable[Idempotent[T, DomainError]]], *, as_json: bool
) -> T:
    """:func:`run_use_case` for a use case that takes ``--idempotency-key``."""
    result = noting_replays(run_async(with_dependencies(use_case)))
    if not is_successful(result):
        refuse(result.failure(), as_json=as_json)
    return result.unwrap()
