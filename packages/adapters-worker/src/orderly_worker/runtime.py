"""What every job can reach: the core's dependencies, the retry policy and the dead letters.

The worker assembles one :class:`WorkerResources` at start-up (see ``settings.py``) and keeps
it in the queue's per-process context; jobs and the boundary read it with :func:`resources`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.context import Actor
from orderly_core.jobs import JobQueue
from orderly_core.ports import Dependencies
from orderly_core.webhooks.ports import WebhookSender
from orderly_worker.retry import RetryPolicy

JobContext = dict[str, Any]
"""The queue's per-job context: ``job_id``, ``job_try``, ``redis``, and :data:`RESOURCES`."""

JobResult = dict[str, Any]
"""What a job returns: JSON data, kept with the job so ``orderly`` can read its outcome."""

WORKER_ACTOR = Actor.system("worker")
"""Every job acts as Orderly itself; who asked for it travels in the payload, for the logs."""

RESOURCES = "orderly"
DEAD_LETTERS_KEY = "orderly:jobs:dead"
DEAD_LETTERS_KEPT = 1000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A job Orderly gave up on: it will not run again unless someone enqueues it anew."""

    job_id: str
    job_name: str
    job_try: int
    code: str  # invalid_payload | unavailable | internal_error
    detail: str
    request_id: str | None
    failed_at: str  # RFC 3339, UTC


class DeadLetters(Protocol):
    async def record(self, letter: DeadLetter) -> None: ...


class RedisDeadLetters:
    """The newest dead letters, newest first, as JSON in one capped Redis list.

    An interim store: it lets an operator find jobs that were given up without knowing their
    ids, and is bounded so that a failure storm cannot fill Redis.
    """

    def __init__(self, redis: Redis, key: str = DEAD_LETTERS_KEY) -> None:
        self._redis = redis
        self._key = key

    async def record(self, letter: DeadLetter) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self._key, json.dumps(asdict(letter)))
            pipe.ltrim(self._key, 0, DEAD_LETTERS_KEPT - 1)
            await pipe.execute()


@dataclass(frozen=True, slots=True)
class WorkerResources:
    deps: Dependencies
    retry: RetryPolicy
    job_timeout_s: float
    dead_letters: DeadLetters
    close: Callable[[], Awaitable[None]]  # releases what start-up opened (pool, client, relay)
    sender: WebhookSender
    queue: JobQueue
    engine: AsyncEngine


def resources(ctx: JobContext) -> WorkerResources:
    """The resources start-up put in the context; a missing entry is a wiring bug."""
    try:
        found: WorkerResources = ctx[RESOURCES]
    except KeyError:
        raise RuntimeError(
            "the worker's start-up did not run: no resources in the job context"
        ) from None
    return found
