"""``/api/v1/jobs``: the record of every background job, and retries of the failed and dead.

Every job Orderly runs (imports, scheduled runs) has a record, kept in PostgreSQL: its
status, runs, last error, result, request id and timestamps. Who may read and retry them is
the core's decision (staff and admins; operators at the CLI). A retry takes
``?mode=dry_run`` and ``Idempotency-Key``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Query
from starlette.responses import Response

from orderly_core.jobs.model import JobQuery, JobStatus
from orderly_core.jobs.use_cases import NAME_MAX, get_job, list_jobs, retry_job
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_http import limits
from orderly_http.answers import answer, described
from orderly_http.container import Resources
from orderly_http.context import RequestContext, WriteContext
from orderly_http.job_schemas import JobPageResource, JobResource, JobSummaryResource
from orderly_http.paging import Cursor, Limit
from orderly_http.problems import problem_responses
from orderly_http.routing import Router

router = Router(prefix="/api/v1/jobs", tags=["jobs"])

_PATH_SAFE = ":@!$&'()*+,;="  # characters a path segment may hold as they are (RFC 3986)


def job_url(job_id: str) -> str:
    """Where a job's record is read, its id escaped as one path segment."""
    return f"{router.prefix}/{quote(job_id, safe=_PATH_SAFE)}"


@router.get(
    "",
    operation_id="jobs.list",
    summary="List background jobs",
    description=described(
        list_jobs,
        "Newest first; `status=dead` lists the dead letters. Follow `next_cursor`, with the "
        "same filters, until it is null.",
    ),
    response_model=JobPageResource,
    responses=problem_responses(401, 403, 422),
)
async def list_jobs_route(
    *,
    resources: Resources,
    ctx: RequestContext,
    status: Annotated[JobStatus | None, Query(description="Jobs in this status only")] = None,
    name: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=NAME_MAX,
            description="Jobs of this name only, such as `import_products`",
            json_schema_extra=limits.FILTER,
        ),
    ] = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
) -> Response:
    query = JobQuery(limit=limit, cursor=cursor, status=status, name=name)
    result = await list_jobs(resources.dependencies, ctx, query)
    return answer(result, ctx, JobPageResource.from_domain)


@router.get(
    "/{job_id}",
    operation_id="jobs.get",
    summary="Follow a background job",
    description=described(
        get_job,
        "The payload is shown without its large fields (an import's `csv_text`), named in "
        "`payload_omitted`.",
    ),
    response_model=JobResource,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_job_route(job_id: str, resources: Resources, ctx: RequestContext) -> Response:
    result = await get_job(resources.dependencies, ctx, job_id)
    return answer(result, ctx, JobResource.from_record)


@router.post(
    "/{job_id}/retry",
    operation_id="jobs.retry",
    status_code=202,
    summary="Retry a failed or dead job",
    description=described(
        retry_job,
        "Answers 202 with the new job and its `Location`; Orderly's worker runs it. A dry run "
        "answers 200 with the job it would queue, marked `Orderly-Mode: dry_run`. "
        "`Idempotency-Key` is optional: a retry with the same key within 24 hours gets the "
        "first answer again with `Idempotent-Replayed: true`.",
    ),
    response_model=JobSummaryResource,
    responses={
        200: {"model": JobSummaryResource, "description": "Dry run: the job it would queue"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def retry_job_route(*, job_id: str, resources: Resources, ctx: WriteContext) -> Response:
    result = await retry_job(resources.dependencies, ctx, job_id, resources.jobs)
    return answer(
        result,
        ctx,
        JobSummaryResource.from_domain,
        status=202,
        location=lambda job: job_url(job.id),
    )
