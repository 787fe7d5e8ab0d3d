"""Product imports in the background.

``POST /api/v1/products/imports`` takes a CSV upload, checks its shape, queues it for the
worker and answers 202 with the job's id and where to follow it (``GET /api/v1/jobs/{id}``,
see :mod:`orderly_http.routes.jobs`). An ``Idempotency-Key`` becomes the job's id, so a
retried upload does not queue a second job.
"""

from __future__ import annotations

from fastapi import APIRouter, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from returns.pipeline import is_successful
from starlette.responses import Response

from orderly_core.jobs.imports import submit_product_import
from orderly_http.container import Resources
from orderly_http.context import MODE_HEADER, WriteContext
from orderly_http.problems import domain_problem, problem_responses
from orderly_http.routes.jobs import job_url
from orderly_http.routes.products import described
from orderly_http.schemas import json_response

router = APIRouter(tags=["jobs"])


class SubmittedJobResource(BaseModel):
    job_id: str
    enqueued: bool = Field(
        description="False when a job with this id (the Idempotency-Key) was already queued "
        "or finished within the last day: nothing new was queued"
    )
    mode: str = Field(description="execute, or dry_run: the worker checks and changes nothing")
    status_url: str


@router.post(
    "/api/v1/products/imports",
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
    if not is_successful(result):
        return domain_problem(result.failure(), ctx)
    job = result.unwrap()
    status_url = job_url(job.id)
    body = SubmittedJobResource(
        job_id=job.id, enqueued=job.enqueued, mode=job.mode.value, status_url=status_url
    )
    headers = {"Location": status_url, MODE_HEADER: job.mode.value}
    return json_response(body, status_code=202, headers=headers)
