"""What every job can reach: the core's dependencies, the retry policy, the sender and the queue.

The worker assembles one :class:`WorkerResources` at start-up (see ``settings.py``) and keeps
it in the queue's per-process context; jobs and the boundary read it with :func:`resources`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.jobs.ports import JobQueue
from orderly_core.shared.context import Actor
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.ports import WebhookSender
from orderly_worker.retry import RetryPolicy

JobContext = dict[str, Any]
"""The queue's per-job context: ``job_id``, ``job_try``, ``redis``, and :data:`RESOURCES`."""

JobResult = dict[str, Any]
"""What a job returns: JSON data, kept with the job in the queue for a day and in the job's
record in PostgreSQL, where ``orderly jobs show`` and the API read it."""

WORKER_ACTOR = Actor.system("worker")
"""Every job acts as Orderly itself; who asked for it travels in the payload, for the logs."""

RESOURCES = "orderly"


@dataclass(frozen=True, slots=True)
class WorkerResources:
    deps: Dependencies
    retry: RetryPolicy
    job_timeout_s: float
    close: Callable[[], Awaitable[None]]  # releases the pool, the client and the delivery engine
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
