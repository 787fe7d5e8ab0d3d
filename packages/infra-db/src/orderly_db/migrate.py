"""Applying the Alembic migrations from code: ``orderly db``, ``orderly dev`` and the tests."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_db.engine import transaction


class MigrationError(Exception):
    """A revision that does not exist, or a step the migration history cannot take."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "orderly_db:migrations")
    config.attributes["connection"] = connection
    return config


def _step(move: Callable[[Config, str], None], revision: str) -> Callable[[Connection], None]:
    def run(connection: Connection) -> None:
        try:
            move(_config(connection), revision)
        except CommandError as error:
            raise MigrationError(str(error)) from error

    return run


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _in_one_transaction(engine, _step(command.upgrade, revision))


async def downgrade(engine: AsyncEngine, revision: str = "-1") -> None:
    await _in_one_transaction(engine, _step(command.downgrade, revision))


async def _in_one_transaction(engine: AsyncEngine, step: Callable[[Connection], None]) -> None:
    """Every migration of ``step`` in one transaction: all of them or none."""
    async with transaction(engine) as connection:
        await connection.run_sync(step)


def head() -> str | None:
    """The newest revision the migrations define."""
    return ScriptDirectory.from_config(_config()).get_current_head()


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or ``None`` before the first migration."""
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
