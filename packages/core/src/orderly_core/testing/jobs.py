"""In-memory fakes of the jobs' ports: the job records and the job queue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from orderly_core.jobs.model import JobRecord, JobStatus, JobSummary


class InMemoryJobRecords:
    def __init__(self, rows: dict[str, JobRecord]) -> None:
        self._rows = rows

    async def purge_succeeded(self, before: datetime, limit: int) -> int:
        old = [
            r.id
            for r in self._rows.values()
            if r.status is JobStatus.SUCCEEDED and r.finished_at and r.finished_at < before
        ][:limit]
        for job_id in old:
            del self._rows[job_id]
        return len(old)

    async def add(self, record: JobRecord) -> bool:
        if record.id in self._rows:
            return False
        self._rows[record.id] = record
        return True

    async def get(self, job_id: str, *, for_update: bool = False) -> JobRecord | None:  # noqa: ARG002
        return self._rows.get(job_id)

    async def unfinished(self, before: datetime, limit: int) -> list[JobRecord]:
        waiting = (JobStatus.QUEUED, JobStatus.RUNNING)
        found = [r for r in self._rows.values() if r.status in waiting and r.updated_at < before]
        return sorted(found, key=lambda r: (r.updated_at, r.id))[:limit]

    async def save(self, record: JobRecord) -> None:
        stored = self._rows.get(record.id)
        if stored is None:
            raise LookupError(f"save() of a job never added: {record.id}")
        self._rows[record.id] = replace(
            record,
            name=stored.name,
            payload=stored.payload,
            request_id=stored.request_id,
            retry_of=stored.retry_of,
            created_at=stored.created_at,
        )

    async def list(
        self,
        *,
        after: tuple[datetime, str] | None,
        limit: int,
        status: JobStatus | None,
        name: str | None,
        hidden_names: frozenset[str] = frozenset(),
    ) -> list[JobSummary]:
        newest_first = sorted(self._rows.values(), key=lambda j: (j.created_at, j.id), reverse=True)
        return [
            j.summary()
            for j in newest_first
            if (after is None or (j.created_at, j.id) < after)
            and status in (None, j.status)
            and name in (None, j.name)
            and j.name not in hidden_names
        ][:limit]


@dataclass(frozen=True, slots=True)
class QueuedJob:
    name: str
    payload: Mapping[str, object]
    job_id: str
    defer_until: datetime | None


class InMemoryJobQueue:
    """A job queue that keeps what it is given; ``down`` makes it fail like Redis away."""

    def __init__(self) -> None:
        self.jobs: list[QueuedJob] = []
        self.down = False

    async def enqueue(
        self,
        name: str,
        payload: Mapping[str, object],
        job_id: str,
        *,
        defer_until: datetime | None = None,
    ) -> bool:
        if self.down:
            raise ConnectionError("the queue is unreachable")
        if any(job.job_id == job_id for job in self.jobs):
            return False
        self.jobs.append(QueuedJob(name, dict(payload), job_id, defer_until))
        return True
