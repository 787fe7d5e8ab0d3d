"""Product imports in the background.

``POST /api/v1/products/imports`` takes a CSV upload, checks its shape, queues it for the
worker and answers 202 with the job's id and where to follow it (``GET /api/v1/jobs/{id}``,
see :mod:`orderly_http.routes.jobs`). An ``Idempotency-Key`` becomes the job's id, so a
retried upload does not queue a second job.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.responses import Response

from orderly_core.jobs.imports import SubmittedJob, submit_product_import
from orderly_core.shared.context import Mode
from orderly_http.answers import answer, described
from orderly_http.container import Resources
from orderly_http.context import MODE_HEADER, WriteContext
from orderly_http.problems import problem_responses
from orderly_http.routes.jobs import job_url
from orderly_http.routing import Router

router = Router(tags=["jobs"])


class SubmittedJobResource(BaseModel):
    job_id: str
    enqueued: bool = Field(
        description="False when a job with this id (the Idempotency-Key) was already queued "
        "or finished within the last day: nothing new was queued"
    )
    mode: str = Field(description="execute, or dry_run: the worker checks and changes nothing")
    status_url: str

    @classmethod
    def from_domain(cls, job: SubmittedJob) -> SubmittedJobResource:
        return cls(
            job_id=job.id, enqueued=job.enqueued, mode=job.mode.value, status_url=job_url(job.id)
        )


@router.post(
    "/api/v1/products/imports",
    operation_id="imports.submit",
    status_code=202,
    summary="Import products from a CSV file, in the background",
    description=described(
        submit_product_import,
        "Upload the file as multipart form field `file` (UTF-8; header "
        "`sku,name,description,price,currency,on_hand`, prices in major units). Answers 202 "
        "with the job id and `Location` of the job.",
    ),
    response_model=SubmittedJobResource,
    responses=problem_responses(401, 403, 413, 422),
)
async def submit_import_route(
    file: UploadFile, resources: Resources, ctx: WriteContext
) -> Response:
    try:
        text = (await file.read()).decode("utf-8")
    except UnicodeDecodeError:
        raise RequestValidationError(
            [{"loc": ("body", "file"), "msg": "must be a UTF-8 CSV file"}]
        ) from None
    result = await submit_product_import(resources.dependencies, ctx, text, resources.jobs)
    # Submitting is applied in either mode: a dry run queues a job that checks every row and
    # changes nothing. So it is answered as an applied write, the job's mode in Orderly-Mode.
    queued = replace(ctx, mode=Mode.EXECUTE)
    return answer(
        result,
        queued,
        SubmittedJobResource.from_domain,
        status=202,
        location=lambda job: job_url(job.id),
        headers={MODE_HEADER: ctx.mode.value},
    )
