"""The record of every background job Orderly runs, kept in PostgreSQL.

Each job has one record under its queue id, whoever queued it (an import submitted over the
API or the CLI, a scheduled run, a retry): its name, its payload, its status, how many runs
it took, the last error it met, its result, the request that caused it and its timestamps.
The queue in Redis only carries the work; what became of a job is read here, for as long as
the record is kept.

A record moves through the statuses of :class:`~orderly_core.jobs.model.JobStatus`:

- ``queued`` when it is queued, and again while it waits for another run after an
  infrastructure fault (``last_error`` says which);
- ``running`` while a worker runs it, ``attempts`` being the number of that run (from 1);
- ``succeeded`` or ``failed`` (refused by a business rule, final) with the job's result;
- ``dead`` when Orderly gave up on it: a dead letter, with the reason in ``last_error`` and
  ``result``.

A failed or dead job is retried as a new job with the same payload, whose record names the
job it retries (``retry_of``); the old record stays as it was.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from orderly_core.shared.paging import PageQuery

JobData = Mapping[str, Any]
"""A payload or a result: a JSON object."""

JOB_ID_MAX = 255  # a job id is also the idempotency key of the work it does
REQUEST_ID_MAX = 128
ERROR_MAX = 2000  # characters of an error kept in ``last_error``
SHOWN_FIELD_MAX = 1024  # a payload field whose JSON is longer is left out of the job's view
RETRY_MARK = ":retry-"


class JobStatus(enum.StrEnum):
    """Where a job stands. ``succeeded``, ``failed`` and ``dead`` are ends; only ``failed`` and
    ``dead`` jobs may be retried, as new jobs."""

    QUEUED = "queued"  # waiting for a worker (again, after a retry's backoff)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a business rule refused the work: final
    DEAD = "dead"  # could not be done (bad payload, unavailable too long, a bug): a dead letter


RETRYABLE = frozenset({JobStatus.FAILED, JobStatus.DEAD})


@dataclass(frozen=True, slots=True)
class JobSummary:
    """A job as listings show it: everything but its payload and its result, which can be
    large (an import's payload holds the whole CSV file)."""

    id: str
    name: str
    status: JobStatus
    attempts: int  # runs started so far; 0 while it has never run
    last_error: str | None  # the last error the job met, even if a later run succeeded
    request_id: str | None  # the request that caused the job
    retry_of: str | None  # the job this one retries
    created_at: datetime  # when it was queued
    started_at: datetime | None  # when its latest run started
    finished_at: datetime | None  # when it ended (succeeded, failed or dead)
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One background job, with its payload and, once it ended, its result."""

    id: str
    name: str
    payload: JobData
    status: JobStatus
    attempts: int
    last_error: str | None
    result: JobData | None
    request_id: str | None
    retry_of: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime

    def summary(self) -> JobSummary:
        return JobSummary(
            id=self.id,
            name=self.name,
            status=self.status,
            attempts=self.attempts,
            last_error=self.last_error,
            request_id=self.request_id,
            retry_of=self.retry_of,
            created_at=self.created_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            updated_at=self.updated_at,
        )


@dataclass(frozen=True, slots=True)
class JobQuery(PageQuery):
    status: JobStatus | None = None
    name: str | None = None  # such as "import_products"


@dataclass(frozen=True, slots=True)
class JobNotFound:
    job_id: str
    code: ClassVar[str] = "job_not_found"

    @property
    def detail(self) -> str:
        return f"No job is known as '{self.job_id}'."


@dataclass(frozen=True, slots=True)
class JobNotRetryable:
    """Only a job that ended failed or dead may be retried."""

    job_id: str
    current: str  # the job's status
    code: ClassVar[str] = "job_not_retryable"

    @property
    def detail(self) -> str:
        return f"Job '{self.job_id}' is {self.current}: only failed and dead jobs can be retried."


# --- how a record moves ----------------------------------------------------------------------


def new_record(
    job_id: str,
    name: str,
    payload: JobData,
    *,
    at: datetime,
    status: JobStatus = JobStatus.QUEUED,
    retry_of: str | None = None,
) -> JobRecord:
    """The record of a job first seen at ``at``; its request is the payload's ``request_id``
    (when it is text of at most :data:`REQUEST_ID_MAX` characters)."""
    request_id = payload.get("request_id")
    if isinstance(request_id, str) and len(request_id) > REQUEST_ID_MAX:
        request_id = None
    return JobRecord(
        id=job_id,
        name=name,
        payload=payload,
        status=status,
        attempts=0,
        last_error=None,
        result=None,
        request_id=request_id if isinstance(request_id, str) else None,
        retry_of=retry_of,
        created_at=at,
        started_at=None,
        finished_at=None,
        updated_at=at,
    )


def kept_error(error: str) -> str:
    """An error as ``last_error`` keeps it: at most :data:`ERROR_MAX` characters."""
    return error if len(error) <= ERROR_MAX else error[: ERROR_MAX - 1] + "…"


def running(record: JobRecord, attempt: int, at: datetime) -> JobRecord:
    """A run numbered ``attempt`` started: any earlier result or end is forgotten, the last
    error is kept until the run ends."""
    return replace(
        record,
        status=JobStatus.RUNNING,
        attempts=attempt,
        result=None,
        started_at=at,
        finished_at=None,
        updated_at=at,
    )


def requeued(record: JobRecord, attempt: int, error: str, at: datetime) -> JobRecord:
    """The run numbered ``attempt`` met an infrastructure fault: the job waits for another."""
    return replace(
        record,
        status=JobStatus.QUEUED,
        attempts=attempt,
        last_error=kept_error(error),
        result=None,
        finished_at=None,
        updated_at=at,
    )


def ended(
    record: JobRecord,
    attempt: int,
    *,
    status: JobStatus,
    result: JobData,
    error: str | None,
    at: datetime,
) -> JobRecord:
    """The run numbered ``attempt`` ended the job (``succeeded``, ``failed`` or ``dead``); a
    success keeps the error an earlier run met."""
    if status not in (JobStatus.SUCCEEDED, *RETRYABLE):
        raise ValueError(f"a job does not end {status.value}")
    return replace(
        record,
        status=status,
        attempts=attempt,
        last_error=record.last_error if error is None else kept_error(error),
        result=result,
        finished_at=at,
        updated_at=at,
    )


def retry_id(job_id: str, number: int) -> str:
    """The id of the ``number``-th retry of ``job_id``: ``<id>:retry-<n>``, numbered on from
    the first job for a retry of a retry, and shortened to :data:`JOB_ID_MAX` characters."""
    first, mark, count = job_id.rpartition(RETRY_MARK)
    if mark and count.isdigit():
        job_id = first
    suffix = f"{RETRY_MARK}{number}"
    return job_id[: JOB_ID_MAX - len(suffix)] + suffix


# --- how a job is shown ------------------------------------------------------------------


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def summary_view(summary: JobSummary) -> dict[str, Any]:
    """The public representation of a job in a listing."""
    return {
        "id": summary.id,
        "name": summary.name,
        "status": summary.status.value,
        "attempts": summary.attempts,
        "last_error": summary.last_error,
        "request_id": summary.request_id,
        "retry_of": summary.retry_of,
        "created_at": _utc(summary.created_at),
        "started_at": _utc(summary.started_at),
        "finished_at": _utc(summary.finished_at),
        "updated_at": _utc(summary.updated_at),
    }


def payload_view(payload: JobData) -> tuple[dict[str, Any], list[str]]:
    """The payload as shown, and the names of the fields left out of it: a field whose JSON
    is longer than :data:`SHOWN_FIELD_MAX` characters (an import's CSV text) is only named."""
    shown: dict[str, Any] = {}
    omitted: list[str] = []
    for field, value in payload.items():
        if len(json.dumps(value, default=str)) > SHOWN_FIELD_MAX:
            omitted.append(field)
        else:
            shown[field] = value
    return shown, omitted


def job_view(record: JobRecord) -> dict[str, Any]:
    """The public representation of one job: its summary, its payload without its large
    fields (named in ``payload_omitted``), and its result."""
    shown, omitted = payload_view(record.payload)
    return summary_view(record.summary()) | {
        "payload": shown,
        "payload_omitted": omitted,
        "result": None if record.result is None else dict(record.result),
    }
