"""What background jobs need outside the core: the queue that carries them and the records
that say what became of them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from orderly_core.jobs.model import JobRecord, JobStatus, JobSummary
from orderly_core.platform.audit import HasAuditLog
from orderly_core.platform.ports import Services
from orderly_core.platform.transaction import IdempotentUnit


class JobQueue(Protocol):
    """Where background work is queued for the worker."""

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


class JobRecords(Protocol):
    """The records of background jobs, inside a unit of work (one PostgreSQL table)."""

    async def add(self, record: JobRecord) -> bool:
        """Insert ``record``; ``False``, changing nothing, when a record has its id."""
        ...

    async def get(self, job_id: str, *, for_update: bool = False) -> JobRecord | None: ...

    async def purge_succeeded(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` records of jobs that succeeded before ``before``; the number
        deleted. Failed and dead jobs are kept: they are what someone may still act on."""
        ...

    async def unfinished(self, before: datetime, limit: int) -> list[JobRecord]:
        """Up to ``limit`` records still ``queued`` or ``running`` and unchanged since before
        ``before``, least recently changed first."""
        ...

    async def save(self, record: JobRecord) -> None:
        """Store the record's progress: everything but its id, name, payload, request,
        ``retry_of`` and creation time, which never change."""
        ...

    async def list(
        self,
        *,
        after: tuple[datetime, str] | None,
        limit: int,
        status: JobStatus | None,
        name: str | None,
        hidden_names: frozenset[str] = frozenset(),
    ) -> list[JobSummary]:
        """Summaries newest first, by (created_at, id), after the position ``after``."""
        ...


class JobsUnit(IdempotentUnit, HasAuditLog, Protocol):
    """A unit of work for jobs: their records, the audit trail, idempotency records."""

    @property
    def jobs(self) -> JobRecords: ...


class JobsServices(Services[JobsUnit], Protocol):
    @property
    def job_record_ttl(self) -> timedelta:
        """How long a succeeded job's record is kept."""
        ...
