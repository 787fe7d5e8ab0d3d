"""The API process's settings: the shared infrastructure settings plus what only HTTP needs.

Read from the environment, then ``.env``; :func:`http_settings` validates them at start-up and
names any bad or missing variable.
"""

from __future__ import annotations

from pydantic import Field

from orderly_db.settings import InfraSettings, load_settings


class HttpSettings(InfraSettings):
    docs_enabled: bool = Field(
        default=True, description="Serve the OpenAPI document at /openapi.json, /docs and /redoc"
    )
    ready_timeout_s: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="How long GET /ready waits for each of PostgreSQL and Redis to answer",
    )
    redis_timeout_s: float = Field(
        default=2.0, gt=0, le=30, description="Connect and read timeout of the Redis client"
    )


def http_settings() -> HttpSettings:
    """Settings from the environment (then ``.env``); raises ``ConfigurationError``."""
    return load_settings(HttpSettings)
