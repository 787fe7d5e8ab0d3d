"""The JSON shapes of background jobs (see :mod:`orderly_http.schemas` for the conventions).

A job's resource holds its payload without its large fields (an import's CSV text, which
can be 20 MiB), named in ``payload_omitted`` instead; listings hold neither payload nor
result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orderly_core.jobs.model import (
    SHOWN_FIELD_MAX,
    JobRecord,
    JobSummary,
    job_view,
    summary_view,
)
from orderly_core.shared.paging import Page

_STATUS = (
    "`queued` (waiting for a worker, or for another run after an infrastructure fault), "
    "`running`, `succeeded`, `failed` (refused by a business rule) or `dead` (given up: a "
    "dead letter)"
)


_EXAMPLE_ID = "import:da31ed073a3413fdf02fe89266eaaac25d87fcc033ce2afb0053242ac5826864"


class JobSummaryResource(BaseModel):
    """A background job as listings show it: no payload, no result."""

    model_config = ConfigDict(title="JobSummary")

    id: str = Field(description="The job's id in the queue", examples=[_EXAMPLE_ID])
    name: str = Field(
        description="`import_products`, `expire_orders`, `purge_idempotency_keys`, "
        "`summarise_sales`, `purge_job_records`, `settle_payments`, `reconcile_payments`",
        examples=["import_products"],
    )
    status: str = Field(description=_STATUS, examples=["succeeded"])
    attempts: int = Field(description="Runs started so far (0 until it first runs)")
    last_error: str | None = Field(
        description="The last error the job met (kept when a later run succeeded), or null"
    )
    request_id: str | None = Field(description="The request that caused the job")
    retry_of: str | None = Field(description="The id of the job this one retries, or null")
    created_at: datetime = Field(description="When it was queued")
    started_at: datetime | None = Field(description="When its latest run started")
    finished_at: datetime | None = Field(description="When it succeeded, failed or died")
    updated_at: datetime

    @classmethod
    def from_domain(cls, summary: JobSummary) -> JobSummaryResource:
        return cls.model_construct(**summary_view(summary))


class JobResource(JobSummaryResource):
    """One background job with its payload and, once it ended, its result."""

    model_config = ConfigDict(title="Job")

    payload: dict[str, Any] = Field(
        description="What the job was queued with, without the fields whose JSON is longer "
        f"than {SHOWN_FIELD_MAX} characters"
    )
    payload_omitted: list[str] = Field(
        description="The payload's fields left out for their size", examples=[["csv_text"]]
    )
    result: dict[str, Any] | None = Field(
        description="What the job reported once it ended (its `status`, and for an import the "
        "counts and rows created, updated and unchanged, or the error); null before"
    )

    @classmethod
    def from_record(cls, record: JobRecord) -> JobResource:
        return cls.model_construct(**job_view(record))


class JobPageResource(BaseModel):
    """One page of background jobs, newest first."""

    model_config = ConfigDict(title="JobPage")

    items: list[JobSummaryResource]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )

    @classmethod
    def from_domain(cls, page: Page[JobSummary]) -> JobPageResource:
        return cls.model_construct(
            items=[JobSummaryResource.from_domain(j) for j in page.items],
            next_cursor=page.next_cursor,
        )
