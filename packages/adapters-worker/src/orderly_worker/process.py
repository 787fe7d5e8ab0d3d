"""The worker process: arq's worker, made to outlast Redis outages.

arq stops its worker when a Redis command fails (python-arq/arq#435, #498, #386). Orderly's
queue holds nothing that cannot be rebuilt from PostgreSQL, so an outage is waited out
instead: a failed poll is logged and retried after a backoff (doubling up to
:data:`MAX_BACKOFF_S`), and a Redis that is down at start-up is waited for. Meanwhile the
delivery engine goes on sending webhooks from PostgreSQL (:mod:`orderly_worker.engine`), and
jobs lost with Redis's memory are closed as ``lost`` dead letters by its reconciliation once
Redis is back.

``python -m orderly_worker`` (what ``orderly worker`` runs) starts it; ``arq --check
orderly_worker.settings.WorkerSettings`` stays the health check.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import structlog
import uvloop
from arq.worker import Worker, get_kwargs
from redis.exceptions import RedisError

from orderly_worker.runtime import RESOURCES

MAX_BACKOFF_S = 30.0
FIRST_BACKOFF_S = 0.5

log = structlog.get_logger("orderly_worker")

_OUTAGES = (RedisError, OSError, TimeoutError)


class OutageTolerantWorker(Worker):
    """arq's worker, which waits Redis outages out instead of stopping."""

    _backoff_s = FIRST_BACKOFF_S

    async def main(self) -> None:
        while True:
            try:
                await super().main()
            except _OUTAGES as error:
                if RESOURCES in self.ctx:  # started: only a poll can fail, and those are kept
                    raise
                log.warning("queue_unavailable", phase="start-up", error=_reason(error))
                await self._wait()
            else:
                return

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except _OUTAGES as error:
            log.warning("queue_unavailable", error=_reason(error))
            await self._wait()
        else:
            if self._backoff_s != FIRST_BACKOFF_S:
                log.info("queue_available")
            self._backoff_s = FIRST_BACKOFF_S

    async def _wait(self) -> None:
        await asyncio.sleep(self._backoff_s)
        self._backoff_s = min(self._backoff_s * 2, MAX_BACKOFF_S)


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def worker_from(settings: type, **overrides: Any) -> OutageTolerantWorker:
    kwargs = cast("dict[str, Any]", get_kwargs(settings))
    return OutageTolerantWorker(**(kwargs | overrides))


def main() -> None:
    from orderly_worker import settings

    # arq runs on the thread's current event loop: uvloop's, as the API's, spends about half
    # the CPU of asyncio's own on each socket operation.
    asyncio.set_event_loop(uvloop.new_event_loop())
    worker_from(settings.WorkerSettings).run()
