"""``orderly db``: move the database schema between migration revisions and show where it is.

The same migrations run in ``orderly dev`` and in the test suite; in production, ``orderly db
upgrade`` runs once before new API and worker processes start (the ``migrate`` service of
``compose.yaml``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_cli.boundary import EXIT_USAGE, run_async
from orderly_cli.config import cli_settings
from orderly_cli.options import AsJson, DryRun
from orderly_cli.output import print_json
from orderly_cli.session import operator_context, run_use_case
from orderly_core.platform.retention import purge_expired_keys
from orderly_db import migrate
from orderly_db.engine import create_engine
from orderly_db.log import quiet_migration_logs

app = typer.Typer(
    help="Apply, revert and inspect the database migrations, and purge expired idempotency "
    "keys (needs DATABASE_URL).",
    no_args_is_help=True,
)

type _Move = Callable[[AsyncEngine], Awaitable[None]]


@app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    _migrate(lambda engine: migrate.upgrade(engine, revision), done="upgraded")


@app.command()
def downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision: -1 (one step back), an id, or base.")
    ] = "-1",
) -> None:
    """Revert migrations down to REVISION (default: one step back). Data in the dropped
    tables and columns is lost."""
    _migrate(lambda engine: migrate.downgrade(engine, revision), done="downgraded")


@app.command()
def current(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show the database's revision and whether it is up to date."""
    revision = run_async(_revision())
    head = migrate.head()
    if as_json:
        print_json({"revision": revision, "head": head, "up_to_date": revision == head})
        return
    state = "up to date" if revision == head else f"behind: the newest is {_name(head)}"
    typer.echo(f"database at revision {_name(revision)} ({state})")


@app.command("purge-keys")
def purge_keys(dry_run: DryRun = False, as_json: AsJson = False) -> None:
    """Delete the stored outcomes of idempotency keys older than IDEMPOTENCY_KEY_TTL_HOURS.

    A key older than that names a new request when it is used again. Orderly's worker runs
    this on a schedule; run it by hand after lowering the retention. With --dry-run, counts
    (up to 1000) what would be deleted.
    """
    ctx = operator_context(dry_run=dry_run)
    report = run_use_case(lambda deps: purge_expired_keys(deps, ctx), as_json=as_json)
    if as_json:
        print_json({"applied": report.applied, "purged": report.purged})
    else:
        verb = "purged" if report.applied else "would purge"
        typer.echo(f"{verb} {report.purged} expired idempotency key(s)")


def _name(revision: str | None) -> str:
    return revision if revision is not None else "none (empty schema)"


def _migrate(move: _Move, *, done: str) -> None:
    """Runs ``move`` and says from which revision to which it ``done`` the database."""
    before, after = run_async(_move(move))
    if before == after:
        typer.echo(f"database already at revision {_name(after)}; nothing to do")
    else:
        typer.echo(f"database {done} from {_name(before)} to {_name(after)}")


async def _move(move: _Move) -> tuple[str | None, str | None]:
    quiet_migration_logs()
    engine = create_engine(cli_settings(), application_name="orderly-cli")
    try:
        before = await migrate.current(engine)
        try:
            await move(engine)
        except migrate.MigrationError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        return before, await migrate.current(engine)
    finally:
        await engine.dispose()


async def _revision() -> str | None:
    engine = create_engine(cli_settings(), application_name="orderly-cli")
    try:
        return await migrate.current(engine)
    finally:
        await engine.dispose()
