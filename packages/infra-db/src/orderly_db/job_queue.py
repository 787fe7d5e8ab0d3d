"""The job queue on Redis (arq), shared by everything that queues work.

The API, the CLI and the worker queue jobs here; the worker runs them. Payloads and results
travel as JSON (``orderly_core.jobs.payloads.serialize``). What became of a job is recorded in
PostgreSQL (``orderly_core.jobs.model``), not read from the queue; the queue is asked only to
close the records of jobs that ended or were lost unrecorded
(:mod:`orderly_core.jobs.reconcile`). The client connects
lazily, so a process starts even while Redis is down and only the calls that need the queue
fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import DeserializationError, Job, JobStatus
from redis.asyncio import ConnectionPool

from orderly_core.jobs.payloads import deserialize, serialize
from orderly_core.jobs.reconcile import QueuedJob, QueueState

_STATES = {
    JobStatus.deferred: QueueState.WAITING,
    JobStatus.queued: QueueState.WAITING,
    JobStatus.in_progress: QueueState.RUNNING,
    JobStatus.complete: QueueState.DONE,
    JobStatus.not_found: QueueState.ABSENT,
}


class ArqJobQueue:
    def __init__(self, redis: ArqRedis) -> None:
        self._redis = redis

    @classmethod
    def from_url(cls, redis_url: str, *, timeout_s: float = 2.0) -> ArqJobQueue:
        pool = ConnectionPool.from_url(
            redis_url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        )
        return cls(ArqRedis(pool, job_serializer=_serialize, job_deserializer=deserialize))

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)

    async def enqueue(
        self,
        name: str,
        payload: Mapping[str, object],
        job_id: str,
        *,
        defer_until: datetime | None = None,
    ) -> bool:
        queued = await self._redis.enqueue_job(
            name, dict(payload), _job_id=job_id, _defer_until=defer_until
        )
        return queued is not None

    async def state(self, job_id: str) -> QueuedJob:
        """Where the queue says the job is, with its result once it is done."""
        job = Job(job_id, self._redis, _deserializer=deserialize)
        state = _STATES[await job.status()]
        if state is not QueueState.DONE:
            return QueuedJob(state)
        try:
            info = await job.result_info()
        except DeserializationError as error:  # a result nobody can read says only that
            return QueuedJob(state, None, f"its result cannot be read ({type(error).__name__})")
        if info is None:  # its result expired since
            return QueuedJob(QueueState.ABSENT)
        if info.success:
            return QueuedJob(state, info.result)
        return QueuedJob(state, None, _describe(info.result))


def _serialize(message: dict[str, Any]) -> bytes:
    return serialize(message)


def _describe(error: object) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
