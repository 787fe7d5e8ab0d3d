"""The records of background jobs in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.jobs.model import JobRecord, JobStatus, JobSummary
from orderly_db.keyset import newest_first
from orderly_db.statements import Columns, DriverConnection, Statement, json_text
from orderly_db.tables import jobs

_SUMMARY_COLUMNS = [column for column in jobs.c if column.name not in ("payload", "result")]


def _to_summary(row: Row[Any]) -> JobSummary:
    return JobSummary(
        id=row.id,
        name=row.name,
        status=JobStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        request_id=row.request_id,
        retry_of=row.retry_of,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        updated_at=row.updated_at,
    )


def _to_record(row: Columns) -> JobRecord:
    return JobRecord(
        id=row["id"],
        name=row["name"],
        payload=row["payload"],
        status=JobStatus(row["status"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        result=row["result"],
        request_id=row["request_id"],
        retry_of=row["retry_of"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
    )


def _progress(record: JobRecord) -> dict[str, object]:
    """The columns that change as the job runs."""
    return {
        "status": record.status.value,
        "attempts": record.attempts,
        "last_error": record.last_error,
        "result": None if record.result is None else dict(record.result),
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "updated_at": record.updated_at,
    }


_RECORD = select(jobs).where(jobs.c.id == bindparam("id"))
_GET = Statement.compiled(_RECORD)
_GET_FOR_UPDATE = Statement.compiled(_RECORD.with_for_update())
_PROGRESS_COLUMNS = (
    "status", "attempts", "last_error", "result", "started_at", "finished_at", "updated_at",
)  # fmt: skip
_SAVE = Statement.compiled(
    update(jobs)
    .where(jobs.c.id == bindparam("key_id"))
    .values({name: bindparam(name) for name in _PROGRESS_COLUMNS})
)


class SqlJobRecords:
    def __init__(self, connection: AsyncConnection, driver: DriverConnection) -> None:
        self._db = connection
        self._driver = driver

    async def purge_succeeded(self, before: datetime, limit: int) -> int:
        old = (
            select(jobs.c.id)
            .where(jobs.c.status == JobStatus.SUCCEEDED.value, jobs.c.finished_at < before)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        deleted = await self._db.execute(
            jobs.delete().where(jobs.c.id.in_(old)).returning(jobs.c.id)
        )
        return len(deleted.all())

    async def add(self, record: JobRecord) -> bool:
        values = _progress(record) | {
            "id": record.id,
            "name": record.name,
            "payload": dict(record.payload),
            "request_id": record.request_id,
            "retry_of": record.retry_of,
            "created_at": record.created_at,
        }
        statement = (
            pg_insert(jobs)
            .values(values)
            .on_conflict_do_nothing(index_elements=[jobs.c.id])
            .returning(jobs.c.id)
        )
        return (await self._db.execute(statement)).first() is not None

    async def get(self, job_id: str, *, for_update: bool = False) -> JobRecord | None:
        statement = _GET_FOR_UPDATE if for_update else _GET
        row = await statement.fetch_one(self._driver, {"id": job_id})
        return None if row is None else _to_record(row)

    async def unfinished(self, before: datetime, limit: int) -> list[JobRecord]:
        waiting = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
        query = (
            select(jobs)
            .where(jobs.c.status.in_(waiting), jobs.c.updated_at < before)
            .order_by(jobs.c.updated_at, jobs.c.id)
            .limit(limit)
        )
        rows = (await self._db.execute(query)).all()
        return [_to_record(row._mapping) for row in rows]

    async def save(self, record: JobRecord) -> None:
        values = _progress(record)
        if values["result"] is not None:
            values["result"] = json_text(values["result"])
        await _SAVE.execute(self._driver, {**values, "key_id": record.id})

    async def list(
        self,
        *,
        after: tuple[datetime, str] | None,
        limit: int,
        status: JobStatus | None,
        name: str | None,
        hidden_names: frozenset[str] = frozenset(),
    ) -> list[JobSummary]:
        query = newest_first(
            select(*_SUMMARY_COLUMNS), jobs.c.created_at, jobs.c.id, after=after, limit=limit
        )
        if status is not None:
            query = query.where(jobs.c.status == status.value)
        if name is not None:
            query = query.where(jobs.c.name == name)
        if hidden_names:
            query = query.where(jobs.c.name.not_in(sorted(hidden_names)))
        return [_to_summary(row) for row in (await self._db.execute(query)).all()]
