"""The API's composition root: what the process opens once and closes at shutdown.

The lifespan of the app opens :class:`AppResources` and keeps them on ``app.state``; routes
reach them only through :func:`resources`. Tests may hand in their own
:class:`~orderly_core.unit_of_work.Dependencies` (the in-memory fakes, say) instead of PostgreSQL's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from orderly_core.jobs.ports import JobQueue
from orderly_core.unit_of_work import Dependencies
from orderly_db.engine import create_engine
from orderly_db.job_queue import ArqJobQueue
from orderly_db.unit_of_work import dependencies_from_settings
from orderly_http.auth import AccessTokens
from orderly_http.ratelimit import AttemptLimit, LoginLimiter
from orderly_http.settings import HttpSettings
from orderly_payments.settings import close_provider, provider_from_settings


@dataclass(frozen=True, slots=True)
class AppResources:
    settings: HttpSettings
    dependencies: Dependencies  # what the use cases receive
    engine: AsyncEngine  # PostgreSQL, for the use cases and the readiness check
    redis: Redis  # the job queue's server
    tokens: AccessTokens  # issues and verifies access tokens
    login_limiter: LoginLimiter  # counts failed sign-ins in Redis
    signup_limit: AttemptLimit  # counts sign-ups per client address
    password_change_limit: AttemptLimit  # counts wrong current passwords per account
    reset_email_limit: AttemptLimit  # counts password reset requests per email
    reset_address_limit: AttemptLimit  # counts password reset requests per client address
    verification_limit: AttemptLimit  # counts verification links asked for per account
    jobs: JobQueue  # where background work is queued and followed


@asynccontextmanager
async def open_resources(
    settings: HttpSettings, dependencies: Dependencies | None = None
) -> AsyncIterator[AppResources]:
    """Create the engine, the Redis client (neither connects yet) and the payment provider,
    and close them all at shutdown."""
    engine = create_engine(settings, application_name="orderly-api")
    redis = Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.redis_timeout_s,
        socket_timeout=settings.redis_timeout_s,
    )
    jobs = ArqJobQueue.from_url(settings.redis_url, timeout_s=settings.redis_timeout_s)
    provider = None
    if dependencies is None:
        provider = provider_from_settings(settings)
        dependencies = replace(
            dependencies_from_settings(engine, settings),
            payment_provider=provider,
        )
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    try:
        yield AppResources(
            settings=settings,
            dependencies=dependencies,
            engine=engine,
            redis=redis,
            tokens=AccessTokens.from_secret(
                secret, timedelta(seconds=settings.access_token_ttl_s), dependencies.clock
            ),
            login_limiter=LoginLimiter(
                redis,
                per_pair=settings.login_max_failures_per_account,
                per_address=settings.login_max_failures_per_address,
                slowdown_after=settings.login_slowdown_after_failures,
                max_delay_s=settings.login_max_delay_s,
                window_s=settings.login_window_s,
            ),
            signup_limit=AttemptLimit(
                redis,
                kind="sign-ups",
                limit=settings.signup_max_per_address,
                window_s=settings.signup_window_s,
            ),
            password_change_limit=AttemptLimit(
                redis,
                kind="password-failures",
                limit=settings.password_change_max_failures,
                window_s=settings.login_window_s,
            ),
            reset_email_limit=AttemptLimit(
                redis,
                kind="password-resets:email",
                limit=settings.password_reset_max_per_email,
                window_s=settings.password_reset_window_s,
            ),
            reset_address_limit=AttemptLimit(
                redis,
                kind="password-resets:address",
                limit=settings.password_reset_max_per_address,
                window_s=settings.password_reset_window_s,
            ),
            verification_limit=AttemptLimit(
                redis,
                kind="verification-links",
                limit=settings.verification_max_per_account,
                window_s=settings.password_reset_window_s,
            ),
            jobs=jobs,
        )
    finally:
        try:
            await redis.aclose()
            await jobs.close()
            if provider is not None:
                await close_provider(provider)
        finally:
            await engine.dispose()


def app_resources(app: Starlette) -> AppResources:
    """The resources of a running app; an error if its lifespan has not started."""
    found: AppResources | None = getattr(app.state, "resources", None)
    if found is None:
        raise RuntimeError("the app's lifespan has not started: its resources are not open")
    return found


async def resources(request: Request) -> AppResources:
    return app_resources(request.app)


Resources = Annotated[AppResources, Depends(resources)]
