"""The worker's outer boundary, written once for every job: where exceptions stop, and
where each job's record in PostgreSQL is kept up to date.

Each job returns a JSON result, kept with the job for a day, whose ``status`` says how it
ended:

- ``succeeded``: the use case succeeded (in ``DRY_RUN``, what would have happened).
- ``failed``: a business rule refused the work. Final: the same input would be refused again.
- ``dead``: Orderly gave up: a dead letter. The payload was malformed (``invalid_payload``),
  a server stayed unavailable through every try (``unavailable``), or the job hit a bug
  (``internal_error``, logged with its traceback).

Infrastructure faults before the last try are not results: the job is put back on the queue
to run again after a backoff (:mod:`orderly_worker.retry`).

Every run is counted by job and outcome (``orderly_job_runs_total``: succeeded, failed,
retry, dead) and timed; every dead letter is counted by its reason
(``orderly_dead_letters_total``).

Every job's record (:mod:`orderly_core.jobs.model`) follows it here, whoever queued it: it
is ``running`` when a run starts (recorded then if nobody recorded it when queueing it, as
for the scheduled runs), ``queued`` again with the error when a run is retried, then
``succeeded``, ``failed`` or ``dead`` with the result. Each write is a
short transaction of its own, tried again after an infrastructure fault (from
:data:`RECORD_RETRY_FIRST_S`, doubling) for up to :data:`RECORD_TIMEOUT_S`; one that still
fails is logged as ``job_not_recorded`` and the job goes on, since what the job does matters
more than its record. A record left open that way is closed later with the outcome the queue
kept (:mod:`orderly_core.jobs.reconcile`, run by the delivery engine, :mod:`.engine`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, cast

import structlog
from arq import Retry
from arq.worker import Function, func
from returns.pipeline import is_successful
from returns.result import Result

from orderly_core.jobs.model import JobStatus
from orderly_core.jobs.payloads import PayloadError
from orderly_core.jobs.use_cases import (
    JobOutcome,
    JobRun,
    record_run_ended,
    record_run_retrying,
    record_run_started,
)
from orderly_core.platform.idempotency import Idempotent, without_replay
from orderly_core.shared.context import Context
from orderly_core.shared.errors import DomainError, error_members
from orderly_core.unit_of_work import Dependencies
from orderly_telemetry.metrics import DEAD_LETTERS, IDEMPOTENT_REPLAYS, JOB_DURATION, JOB_RUNS
from orderly_worker.retry import is_infrastructure_fault
from orderly_worker.runtime import (
    WORKER_ACTOR,
    JobContext,
    JobResult,
    WorkerResources,
    resources,
)

JobHandler = Callable[[JobContext, Mapping[str, Any]], Awaitable[JobResult]]
"""A job: decodes its payload (raising ``PayloadError`` if malformed), calls one use case."""

log = structlog.get_logger("orderly_worker")

RECORD_TIMEOUT_S = 10.0  # longest a write of a job's record may hold up the job
RECORD_RETRY_FIRST_S = 0.1
RECORD_RETRY_MAX_S = 2.0


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


def _job_run(name: str, ctx: JobContext, args: tuple[Any, ...]) -> JobRun:
    """This run of the job, for its record: the payload as queued (``{}`` when it is not one
    JSON object), and when the queue received it."""
    payload = args[0] if len(args) == 1 and isinstance(args[0], Mapping) else {}
    queued_at = ctx.get("enqueue_time")
    return JobRun(
        job_id=str(ctx["job_id"]),
        name=name,
        payload=dict(payload),
        attempt=int(ctx["job_try"]),
        queued_at=queued_at if isinstance(queued_at, datetime) and queued_at.tzinfo else None,
    )


RecordStep = Callable[[Dependencies, Context], Awaitable[Result[Any, DomainError]]]


async def _record(held: WorkerResources, fields: dict[str, Any], step: RecordStep) -> None:
    """Write the job's record, in a transaction of its own, again after an infrastructure
    fault until :data:`RECORD_TIMEOUT_S` has passed; never fails the job."""
    context = Context(WORKER_ACTOR, fields.get("request_id") or f"job-{fields['job_id']}")
    delay = RECORD_RETRY_FIRST_S
    last: BaseException | None = None
    try:
        async with asyncio.timeout(RECORD_TIMEOUT_S):
            while True:
                try:
                    written = await step(held.deps, context)
                    break
                except Exception as error:
                    if not is_infrastructure_fault(error):
                        raise
                    last = error
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECORD_RETRY_MAX_S)
    except Exception as error:
        if isinstance(error, TimeoutError) or is_infrastructure_fault(error):
            log.warning("job_not_recorded", error=_describe(last or error))
        else:
            log.exception("job_not_recorded")
        return
    if not is_successful(written):
        log.error("job_not_recorded", error=written.failure().detail)


def _ending(result: JobResult) -> JobOutcome:
    """How a result ends the job, with the refusal's or the dead letter's reason."""
    error = result.get("error")
    reason = f"{error.get('code')}: {error.get('detail')}" if isinstance(error, dict) else None
    return JobOutcome(JobStatus(result["status"]), result, reason)


async def _give_up(
    held: WorkerResources, fields: dict[str, Any], run: JobRun, code: str, detail: str
) -> JobResult:
    """Record the job as dead (a dead letter) and answer the ``dead`` result."""
    DEAD_LETTERS.labels(run.name, code).inc()
    result: JobResult = {"status": "dead", "error": {"code": code, "detail": detail}}
    await _record(held, fields, lambda deps, ctx: record_run_ended(deps, ctx, run, _ending(result)))
    return result


async def _after_exception(
    error: Exception, held: WorkerResources, fields: dict[str, Any], run: JobRun
) -> JobResult:
    """Retry an infrastructure fault with backoff until the last try; dead-letter the rest."""
    job_try: int = fields["job_try"]
    if not is_infrastructure_fault(error):
        log.error("job_dead", reason="internal_error", exc_info=error)
        detail = "the job failed on an internal error (logged)"
        return await _give_up(held, fields, run, "internal_error", detail)
    if held.retry.gives_up_after(job_try):
        log.error("job_dead", reason="unavailable", error=_describe(error))
        detail = f"gave up after {job_try} tries: {_describe(error)}"
        return await _give_up(held, fields, run, "unavailable", detail)
    delay = held.retry.backoff(job_try)
    JOB_RUNS.labels(run.name, "retry").inc()
    log.warning("job_retry", error=_describe(error), retry_in_s=round(delay, 3))
    reason = _describe(error)
    await _record(held, fields, lambda deps, ctx: record_run_retrying(deps, ctx, run, reason))
    raise Retry(defer=delay) from error


def guarded(name: str, handler: JobHandler) -> Function:
    """``handler`` as the queue's function ``name``, under the boundary's rules."""

    async def run(ctx: JobContext, *args: Any, **kwargs: Any) -> JobResult:
        held = resources(ctx)
        fields = _log_fields(name, ctx, args)
        run = _job_run(name, ctx, args)
        with structlog.contextvars.bound_contextvars(**fields):
            log.info("job_started")
            await _record(held, fields, lambda deps, c: record_run_started(deps, c, run))
            started = time.perf_counter()
            try:
                async with asyncio.timeout(held.job_timeout_s):
                    result = await handler(ctx, _payload(args, kwargs))
            except PayloadError as error:
                log.error("job_dead", reason="invalid_payload", error=str(error))  # noqa: TRY400
                result = await _give_up(held, fields, run, "invalid_payload", str(error))
            except Exception as error:
                result = await _after_exception(error, held, fields, run)
            else:
                log.info(
                    "job_finished",
                    status=result["status"],
                    code=result.get("error", {}).get("code"),
                )
                result = _json_safe(result)
                ended = _ending(result)
                await _record(held, fields, lambda deps, c: record_run_ended(deps, c, run, ended))
            finally:
                JOB_DURATION.labels(name).observe(time.perf_counter() - started)
            JOB_RUNS.labels(name, str(result.get("status"))).inc()
            if result.get("replayed"):
                IDEMPOTENT_REPLAYS.inc()
            return result

    run.__name__ = run.__qualname__ = name
    run.__doc__ = handler.__doc__
    return func(run, name=name)
