"""Orderly's scheduled jobs: what must happen on time whether or not anyone asks.

Each runs as a queue cron job, unique across workers (one run per scheduled time however
many workers there are: the queue names each run ``<name>:<unix ms of its time>``, an id no
other kind of job can take, see :mod:`orderly_core.jobs.payloads`), under the same boundary
as every job (retried after an infrastructure fault, recorded in the jobs table), with a
request id of its own (``scheduled-<job id>``) in its log lines and in what it writes. A
retry of a failed or dead run (``orderly jobs retry``) is queued with the payload of the run
it repeats, and so keeps its request id.

- ``expire_orders`` (every minute): cancels unpaid orders past their expiry, releasing their
  stock (what ``orderly orders expire`` does by hand).
- ``purge_idempotency_keys`` (every hour): deletes idempotency records past their retention
  (what ``orderly db purge-keys`` does by hand).
- ``summarise_sales`` (daily, 00:05 UTC): makes yesterday's sales summary (what ``orderly
  reports summarise`` does by hand).
- ``purge_job_records`` (every hour): deletes the records of jobs that succeeded more than
  ``JOB_RECORD_RETENTION_DAYS`` ago.
- ``settle_payments`` (every minute, at second 30): asks the payment provider for pending
  refunds that are due and cancels the pending payments of ended orders (what ``orderly
  payments settle`` does by hand).
- ``reconcile_payments`` (daily, 03:15 UTC): applies the provider's payment successes of the
  last two days that Orderly missed (what ``orderly payments reconcile`` does by hand).

Lost webhook deliveries are queued again by the relay's sweep, in every worker (see
:mod:`orderly_worker.engine`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from arq.cron import CronJob, cron
from returns.pipeline import is_successful

from orderly_core.jobs.retention import purge_old_jobs
from orderly_core.orders.steps import expire_orders
from orderly_core.payments.followups import settle_payments
from orderly_core.payments.reconcile import reconcile_payments
from orderly_core.platform.retention import purge_expired_keys
from orderly_core.sales.use_cases import summarise_sales
from orderly_core.shared.context import Context
from orderly_worker.boundary import JobHandler, failed, guarded, succeeded
from orderly_worker.runtime import WORKER_ACTOR, JobContext, JobResult, resources

EXPIRE_ORDERS = "expire_orders"
PURGE_IDEMPOTENCY_KEYS = "purge_idempotency_keys"
SUMMARISE_SALES = "summarise_sales"
PURGE_JOB_RECORDS = "purge_job_records"
SETTLE_PAYMENTS = "settle_payments"
RECONCILE_PAYMENTS = "reconcile_payments"
RECONCILE_WINDOW = timedelta(days=2)  # each daily run looks back this far: runs overlap
# Kept as every job's is, so that a run whose record was left open can still be closed with
# its result (see orderly_core.jobs.reconcile).
RESULT_KEPT_S = 86_400


def _context(payload: Mapping[str, Any]) -> Context:
    return Context(actor=WORKER_ACTOR, request_id=str(payload["request_id"]))


async def expire_orders_job(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    """Cancel every unpaid order past its expiry (reason ``expired``), releasing its stock."""
    report = await expire_orders(resources(ctx).deps, _context(payload))
    if not is_successful(report):
        return failed(report.failure())
    return succeeded(expired=[str(order_id) for order_id in report.unwrap().expired])


async def purge_idempotency_keys_job(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    """Delete idempotency records kept past ``IDEMPOTENCY_KEY_TTL_HOURS``."""
    report = await purge_expired_keys(resources(ctx).deps, _context(payload))
    if not is_successful(report):
        return failed(report.failure())
    return succeeded(purged=report.unwrap().purged)


async def purge_job_records_job(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    """Delete the records of jobs that succeeded longer ago than ``JOB_RECORD_RETENTION_DAYS``."""
    report = await purge_old_jobs(resources(ctx).deps, _context(payload))
    if not is_successful(report):
        return failed(report.failure())
    return succeeded(purged=report.unwrap().purged)


async def summarise_sales_job(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    """Make yesterday's (UTC) sales summary, replacing any made before."""
    summary = await summarise_sales(resources(ctx).deps, _context(payload))
    if not is_successful(summary):
        return failed(summary.failure())
    made = summary.unwrap()
    return succeeded(day=made.day.isoformat(), orders=made.tally.orders)


async def settle_payments_job(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    """Settle pending refunds that are due, and cancel the pending payments of ended orders
    at the provider."""
    report = await settle_payments(resources(ctx).deps, _context(payload))
    if not is_successful(report):
        return failed(report.failure())
    done = report.unwrap()
    return succeeded(
        refunded=len(done.refunded),
        refunds_failed=len(done.refunds_failed),
        refunds_waiting=len(done.refunds_waiting),
        cancelled=len(done.cancelled),
        cancels_waiting=len(done.cancels_waiting),
    )


async def reconcile_payments_job(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    """Apply the provider's payment successes of the last two days that Orderly missed."""
    deps = resources(ctx).deps
    since = deps.clock.now() - RECONCILE_WINDOW
    report = await reconcile_payments(deps, _context(payload), since)
    if not is_successful(report):
        return failed(report.failure())
    done = report.unwrap()
    return succeeded(checked=done.checked, applied=[m.reference for m in done.missed])


def scheduled(name: str, handler: JobHandler, **when: Any) -> CronJob:
    """``handler`` as a cron job run at ``when`` (arq's ``cron`` fields), unique across
    workers, under the boundary of every job and its retry policy (the worker's number of
    tries, not the queue's single try for cron jobs). The scheduler queues it without a
    payload, so it makes one; a retry queued with a payload runs with that one."""
    job = guarded(name, handler)

    async def run(ctx: JobContext, *args: Any, **kwargs: Any) -> JobResult:
        if not args and not kwargs:
            args = ({"request_id": f"scheduled-{ctx['job_id']}"},)
        result: JobResult = await job.coroutine(ctx, *args, **kwargs)
        return result

    run.__name__ = run.__qualname__ = name
    return cron(run, name=name, unique=True, max_tries=None, keep_result=RESULT_KEPT_S, **when)


SCHEDULE = [
    scheduled(EXPIRE_ORDERS, expire_orders_job, second=0),
    scheduled(PURGE_IDEMPOTENCY_KEYS, purge_idempotency_keys_job, minute=7, second=0),
    scheduled(SUMMARISE_SALES, summarise_sales_job, hour=0, minute=5, second=0),
    scheduled(PURGE_JOB_RECORDS, purge_job_records_job, minute=17, second=0),
    scheduled(SETTLE_PAYMENTS, settle_payments_job, second=30),
    scheduled(RECONCILE_PAYMENTS, reconcile_payments_job, hour=3, minute=15, second=0),
]
