"""``/health`` (is the process alive?) and ``/ready`` (can it serve requests?).

An orchestrator restarts a process that fails ``/health``, so it does no I/O: a database
outage must not restart every API process. ``/ready`` takes a process out of the load
balancer while PostgreSQL or Redis cannot be reached.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

import structlog
from fastapi import Request
from starlette.responses import Response

from orderly_http.container import AppResources, Resources
from orderly_http.context import request_id_of
from orderly_http.problems import problem_response, problem_responses
from orderly_http.routing import Router
from orderly_http.schemas import Health, Readiness, json_response

router = Router(tags=["health"])
log = structlog.get_logger(__name__)

_HEALTHY = Health(status="ok").model_dump_json().encode()


@router.get("/health", operation_id="health.live", summary="Liveness", response_model=Health)
async def health() -> Response:
    """Answers as long as the process runs; touches no server."""
    return Response(_HEALTHY, media_type="application/json")


async def _probe(name: str, check: Callable[[], Awaitable[object]], timeout_s: float) -> bool:
    try:
        async with asyncio.timeout(timeout_s):
            await check()
    except Exception as error:  # whatever the reason, the server is not usable now
        log.warning("readiness_check_failed", check=name, error=repr(error))
        return False
    return True


async def _select_one(resources: AppResources) -> None:
    async with resources.engine.connect() as connection:
        await connection.exec_driver_sql("select 1")


@router.get(
    "/ready",
    operation_id="health.ready",
    summary="Readiness",
    response_model=Readiness,
    responses=problem_responses(503),
)
async def ready(request: Request, resources: Resources) -> Response:
    """Checks PostgreSQL (``select 1``) and Redis (``PING``) at once, each with a short
    timeout. 503 names what is down."""
    timeout_s = resources.settings.ready_timeout_s
    postgres_ok, redis_ok = await asyncio.gather(
        _probe("postgres", lambda: _select_one(resources), timeout_s),
        _probe("redis", resources.redis.ping, timeout_s),
    )
    checks = {"postgres": postgres_ok, "redis": redis_ok}
    down = [name for name, ok in checks.items() if not ok]
    states: dict[str, Literal["ok", "down"]] = {
        name: "ok" if ok else "down" for name, ok in checks.items()
    }
    if down:
        return problem_response(
            request_id_of(request.scope),
            status=503,
            code="not_ready",
            title="Not ready",
            detail=f"Not ready: {' and '.join(down)} cannot be reached.",
            members={"checks": states},
        )
    return json_response(Readiness.model_construct(status="ready", checks=states))
