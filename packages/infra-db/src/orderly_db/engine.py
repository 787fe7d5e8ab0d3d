"""The process's one SQLAlchemy engine, configured for production."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from orderly_db.settings import InfraSettings


def create_engine(settings: InfraSettings, *, application_name: str = "orderly") -> AsyncEngine:
    """An asyncpg engine with a sized pool, liveness checks and a statement timeout."""
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": application_name,
            },
        },
    )
