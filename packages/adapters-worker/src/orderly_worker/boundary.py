"""The worker's outer boundary, written once for every job: where exceptions stop.

Each job returns a JSON result, kept with the job for a day, whose ``status`` says how it
ended:

- ``succeeded``: the use case succeeded (in ``DRY_RUN``, what would have happened).
- ``failed``: a business rule refused the work. Final: the same input would be refused again.
- ``dead``: Orderly gave up and recorded a dead letter. The payload was malformed
  (``invalid_payload``), a server stayed unavailable through every try (``unavailable``), or
  the job hit a bug (``internal_error``, logged with its traceback).

Infrastructure faults before the last try are not results: the job is put back on the queue
to run again after a backoff (:mod:`orderly_worker.retry`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

import structlog
from arq import Retry
from arq.worker import Function, func
from redis.exceptions import RedisError
from returns.pipeline import is_successful

from orderly_core.errors import DomainError, error_members
from orderly_core.idempotency import Idempotent, without_replay
from orderly_core.jobs import PayloadError
from orderly_worker.retry import is_infrastructure_fault
from orderly_worker.runtime import (
    WORKER_ACTOR,
    DeadLetter,
    JobContext,
    JobResult,
    WorkerResources,
    resources,
)

JobHandler = Callable[[JobContext, Mapping[str, Any]], Awaitable[JobResult]]
"""A job: decodes its payload (raising ``PayloadError`` if malformed), calls one use case."""

log = structlog.get_logger("orderly_worker")


def succeeded(**outcome: Any) -> JobResult:
    return {"status": "succeeded", **outcome}


def failed(error: DomainError) -> JobResult:
    """A refusal by a business rule, with the error's code, sentence and own fields."""
    return {
        "status": "failed",
        "error": {"code": error.code, "detail": error.detail, **error_members(error)},
    }


def settled[T](outcome: Idempotent[T, DomainError], report: Callable[[T], JobResult]) -> JobResult:
    """The result of an idempotent use case: its value's report or its refusal, marked
    ``replayed`` when the job ran before and this is the stored outcome of that run."""
    if is_successful(outcome):
        value, replayed = without_replay(outcome.unwrap())
        result = report(value)
    else:
        error, replayed = without_replay(outcome.failure())
        result = failed(error)
    return {**result, "replayed": True} if replayed else result


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _json_safe(result: JobResult) -> JobResult:
    """The result exactly as a reader will get it back from the queue's JSON."""
    return cast("JobResult", json.loads(json.dumps(result, default=str)))


def _payload(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Mapping[str, Any]:
    """Every Orderly job takes exactly one JSON object as its payload."""
    if len(args) == 1 and not kwargs and isinstance(args[0], Mapping):
        return args[0]
    raise PayloadError("a job takes exactly one JSON object as its payload")


def _log_fields(name: str, ctx: JobContext, args: tuple[Any, ...]) -> dict[str, Any]:
    """What every log line of the job carries; every payload names the request behind it."""
    fields: dict[str, Any] = {"job_id": str(ctx["job_id"]), "job_name": name}
    fields |= {"job_try": int(ctx["job_try"]), "actor": WORKER_ACTOR.id}
    payload = args[0] if args else None
    request_id = payload.get("request_id") if isinstance(payload, Mapping) else None
    if isinstance(request_id, str):
        fields["request_id"] = request_id
    return fields


async def _give_up(
    held: WorkerResources, fields: dict[str, Any], code: str, detail: str
) -> JobResult:
    """Record a dead letter and answer the ``dead`` result."""
    letter = DeadLetter(
        job_id=fields["job_id"],
        job_name=fields["job_name"],
        job_try=fields["job_try"],
        code=code,
        detail=detail,
        request_id=fields.get("request_id"),
        failed_at=datetime.now(UTC).isoformat(),
    )
    try:
        await held.dead_letters.record(letter)
    except (RedisError, OSError) as error:
        log.warning("dead_letter_not_recorded", error=_describe(error))
    return {"status": "dead", "error": {"code": code, "detail": detail}}


async def _after_exception(
    error: Exception, held: WorkerResources, fields: dict[str, Any]
) -> JobResult:
    """Retry an infrastructure fault with backoff until the last try; dead-letter the rest."""
    job_try: int = fields["job_try"]
    if not is_infrastructure_fault(error):
        log.error("job_dead", reason="internal_error", exc_info=error)
        detail = "the job failed on an internal error (logged)"
        return await _give_up(held, fields, "internal_error", detail)
    if held.retry.gives_up_after(job_try):
        log.error("job_dead", reason="unavailable", error=_describe(error))
        detail = f"gave up after {job_try} tries: {_describe(error)}"
        return await _give_up(held, fields, "unavailable", detail)
    delay = held.retry.backoff(job_try)
    log.warning("job_retry", error=_describe(error), retry_in_s=round(delay, 3))
    raise Retry(defer=delay) from error


def guarded(name: str, handler: JobHandler) -> Function:
    """``handler`` as the queue's function ``name``, under the boundary's rules."""

    async def run(ctx: JobContext, *args: Any, **kwargs: Any) -> JobResult:
        held = resources(ctx)
        fields = _log_fields(name, ctx, args)
        with structlog.contextvars.bound_contextvars(**fields):
            log.info("job_started")
            try:
                async with asyncio.timeout(held.job_timeout_s):
                    result = await handler(ctx, _payload(args, kwargs))
            except PayloadError as error:
                log.error("job_dead", reason="invalid_payload", error=str(error))  # noqa: TRY400
                return await _give_up(held, fields, "invalid_payload", str(error))
            except Exception as error:
                return await _after_exception(error, held, fields)
            log.info(
                "job_finished", status=result["status"], code=result.get("error", {}).get("code")
            )
            return _json_safe(result)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = handler.__doc__
    return func(run, name=name)
