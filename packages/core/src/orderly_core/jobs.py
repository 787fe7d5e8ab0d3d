"""Background jobs as explicit, JSON-safe payloads (never pickled objects).

Whoever enqueues a job and the worker that runs it agree on its name and payload here.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from returns.result import Failure, Result, Success

from orderly_core.authorization import catalogue_write_denied
from orderly_core.context import Context, Mode
from orderly_core.errors import Forbidden

IMPORT_PRODUCTS = "import_products"
DELIVER_WEBHOOK = "deliver_webhook"


class PayloadError(ValueError):
    """A job payload that does not have the expected shape."""


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise PayloadError(f"job payload field '{key}' must be a string")
    return value


@dataclass(frozen=True, slots=True)
class ImportProductsJob:
    """Import a product CSV in the background, as Orderly's system actor."""

    csv_text: str
    request_id: str
    requested_by: str  # who asked for it, for the logs
    mode: Mode = Mode.EXECUTE

    def to_payload(self) -> dict[str, str]:
        return {
            "csv_text": self.csv_text,
            "request_id": self.request_id,
            "requested_by": self.requested_by,
            "mode": self.mode.value,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, object]) -> ImportProductsJob:
        try:
            mode = Mode(_text(data, "mode"))
        except ValueError as error:
            raise PayloadError(str(error)) from error
        return cls(
            csv_text=_text(data, "csv_text"),
            request_id=_text(data, "request_id"),
            requested_by=_text(data, "requested_by"),
            mode=mode,
        )


def serialize(message: Mapping[str, object]) -> bytes:
    """The queue's wire format: JSON, so a job can be read by anyone and unpickles nothing."""
    return json.dumps(message, separators=(",", ":")).encode()


def deserialize(data: bytes) -> dict[str, object]:
    message = json.loads(data)
    if not isinstance(message, dict):
        raise PayloadError("a queued job must be a JSON object")
    return message


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a business rule refused the work: final
    DEAD = "dead"  # could not be done (bad payload, unavailable too long, a bug): dead-lettered


@dataclass(frozen=True, slots=True)
class JobState:
    id: str
    status: JobStatus
    result: Mapping[str, object] | None = None  # what the job reported, once it has finished


class JobQueue(Protocol):
    """Where background work is queued, and where its progress can be read."""

    async def enqueue(
        self,
        name: str,
        payload: Mapping[str, object],
        job_id: str,
        *,
        defer_until: datetime | None = None,
    ) -> bool:
        """Queue a job (to run at ``defer_until``, or now); ``False`` when a job with this id
        is queued or finished recently."""
        ...

    async def state(self, job_id: str) -> JobState | None:
        """The job's state, or ``None`` when no such job is known (or it was forgotten)."""
        ...


@dataclass(frozen=True, slots=True)
class JobNotFound:
    job_id: str
    code: ClassVar[str] = "job_not_found"

    @property
    def detail(self) -> str:
        return f"No job is known as '{self.job_id}' (results are kept for a day)."


async def get_job(
    queue: JobQueue, ctx: Context, job_id: str
) -> Result[JobState, Forbidden | JobNotFound]:
    """Read a background job's state and result. Catalogue managers only: job results list
    the rows of the files they imported."""
    if denied := catalogue_write_denied(ctx.actor, "read background jobs"):
        return Failure(denied)
    state = await queue.state(job_id)
    return Success(state) if state else Failure(JobNotFound(job_id))
