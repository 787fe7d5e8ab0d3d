"""The root of the ``orderly`` command: its help, ``--version``, logging, and the commands that
run Orderly's processes (``dev``, ``serve``, ``worker``).

It imports none of the command groups that act on data, so that ``orderly dev`` starts
without importing (or, on a fresh clone, compiling) them: see :mod:`orderly_cli.launcher`.
:mod:`orderly_cli.main` adds the groups.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from typing import Annotated

import structlog
import typer

from orderly_cli.boundary import EXIT_USAGE, OrderlyGroup, stop
from orderly_cli.commands import runtime
from orderly_db.log import configure_logging
from orderly_db.settings import ConfigurationError, LogSettings, load_settings

HELP = (
    "Orderly: orders and inventory for small online shops.\n\n"
    "Start here: `orderly dev` runs the whole stack locally with embedded PostgreSQL and "
    "Redis. Commands acting on data connect with DATABASE_URL and REDIS_URL, or find a "
    "running `orderly dev` in the current directory or one above it by themselves.\n\n"
    "Exit codes: 0 success, 1 the operation was refused (the reason is printed), "
    "2 usage or configuration error, 3 a server could not be reached, 4 internal error."
)


def make_app() -> typer.Typer:
    """The root command with ``dev``, ``serve`` and ``worker``."""
    app = typer.Typer(
        name="orderly",
        cls=OrderlyGroup,
        help=HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    app.callback()(_start)
    runtime.register(app)
    return app


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"orderly {version('orderly-cli')}")
        raise typer.Exit


def _start(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print Orderly's version and exit.",
        ),
    ] = False,
) -> None:
    """Configure logging once, and name the command in every log line."""
    try:
        settings = load_settings(LogSettings)
    except ConfigurationError as error:
        stop(EXIT_USAGE, "configuration_error", str(error))
    configure_logging(settings.log_format, settings.log_level)
    words = [arg for arg in sys.argv[1:] if not arg.startswith("-")][:2]
    structlog.contextvars.bind_contextvars(command=" ".join(words))
