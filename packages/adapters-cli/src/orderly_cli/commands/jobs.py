"""``orderly jobs``: the record of every background job, and retries of the failed and dead.

Each command decodes its options, builds the operator's context, runs one job use case and
prints the outcome; which jobs may be retried, and how, lives in the core. How jobs are shown
is in :mod:`orderly_cli.commands.job_views`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from orderly_cli import output
from orderly_cli.commands import job_views
from orderly_cli.config import cli_settings
from orderly_cli.options import AsJson, Cursor, DryRun, IdempotencyKey, Limit, command_group
from orderly_cli.session import operator_context, run_idempotent_use_case, run_use_case
from orderly_core.jobs.model import JobQuery, JobStatus, JobSummary
from orderly_core.jobs.use_cases import RetryJobError, get_job, list_jobs, retry_job
from orderly_core.platform.idempotency import Idempotent
from orderly_core.shared.context import Context
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_core.unit_of_work import Dependencies
from orderly_db.job_queue import ArqJobQueue

app = command_group(
    "Background jobs: every job Orderly runs (product imports, scheduled runs) with its "
    "status, runs, last error and result, and retries of the jobs that failed or died. "
    "Webhook deliveries are not jobs: see `orderly webhooks deliveries`.\n\n"
    "A job is queued, running, succeeded, failed (refused by a business rule) or dead "
    "(Orderly gave up on it: a dead letter). Commands connect with DATABASE_URL and "
    "REDIS_URL, or find a running `orderly dev` in the current directory, and act as the "
    "operator (your OS user). `retry` takes --dry-run (check everything, show the job it "
    "would queue, queue nothing) and --idempotency-key KEY; every command takes --json "
    "for scripts."
)

JobId = Annotated[str, typer.Argument(metavar="ID", help="The job's id.")]
Name = Annotated[
    str | None,
    typer.Option(metavar="NAME", help="Only jobs of this name, such as import_products."),
]


def _page(
    *,
    status: JobStatus | None,
    name: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
    title: str,
    empty: str,
) -> None:
    query = JobQuery(limit=limit, cursor=cursor, status=status, name=name)
    ctx = operator_context()
    page = run_use_case(lambda deps: list_jobs(deps, ctx, query), as_json=as_json)
    if as_json:
        output.print_json(output.page_json(page, job_views.summary_json))
    else:
        job_views.show_page(page, title=title, empty=empty)


@app.command("list")
def list_command(
    *,
    status: Annotated[
        JobStatus | None,
        typer.Option(case_sensitive=False, help="Only jobs with this status."),
    ] = None,
    name: Name = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """List background jobs, newest first, a page at a time: id, name, status, runs, when
    queued and finished, the request that caused it and its last error.

    When older jobs follow, the next page's cursor is printed; pass it back with --cursor.
    With --json: {"items": [...], "next_cursor": ...}.

    \b
    Examples:
      orderly jobs list --status failed
      orderly jobs list --name import_products --limit 20
    """
    _page(
        status=status,
        name=name,
        limit=limit,
        cursor=cursor,
        as_json=as_json,
        title="job(s)",
        empty="No jobs.",
    )


@app.command("dead")
def dead_command(
    *,
    name: Name = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """List the dead letters, newest first: the jobs Orderly gave up on, with why.

    A job dies when its payload is malformed (invalid_payload), a server stayed unavailable
    through every try (unavailable), it hit a bug (internal_error, logged by the worker) or
    the queue lost it while it ran (lost).
    Once the cause is fixed, run one again with `orderly jobs retry ID`. With --json:
    {"items": [...], "next_cursor": ...}.

    \b
    Example:
      orderly jobs dead --name import_products
    """
    _page(
        status=JobStatus.DEAD,
        name=name,
        limit=limit,
        cursor=cursor,
        as_json=as_json,
        title="dead job(s)",
        empty="No dead jobs.",
    )


@app.command("show")
def show_command(job_id: JobId, as_json: AsJson = False) -> None:
    """Show one job: status, runs, last error, request, times, its payload (without fields
    too large to show, such as an import's CSV text) and its result.

    With --json: the job as GET /api/v1/jobs/{id} answers it.

    \b
    Example:
      orderly jobs show import:da31ed073a3413fdf02fe89266eaaac25d87fcc033ce2afb0053242ac5826864
    """
    ctx = operator_context()
    record = run_use_case(lambda deps: get_job(deps, ctx, job_id), as_json=as_json)
    if as_json:
        output.print_json(job_views.job_json(record))
    else:
        job_views.show_job(record)


async def _retry(
    deps: Dependencies, ctx: Context, job_id: str
) -> Idempotent[JobSummary, RetryJobError]:
    queue = ArqJobQueue.from_url(cli_settings().redis_url)
    try:
        return await retry_job(deps, ctx, job_id, queue)
    finally:
        await queue.close()


@app.command("retry")
def retry_command(
    job_id: JobId,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Run a failed or dead job again, as a new job with the same payload.

    The new job's id is ID:retry-N (N counting the retries of the first job); it is queued
    at once and names the job it retries; the old job stays as it was. Any other status is
    refused (job_not_retryable). With --json: {"applied": ..., "job": {...}}.

    \b
    Examples:
      orderly jobs dead                 # the dead letters and their ids
      orderly jobs retry --dry-run ID
      orderly jobs retry ID
    """
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    job = run_idempotent_use_case(lambda deps: _retry(deps, ctx, job_id), as_json=as_json)
    job_views.show_retry(job, applied=ctx.applies_changes, as_json=as_json)
