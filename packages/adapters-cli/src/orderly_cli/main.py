"""The ``orderly`` command: the admin CLI, and the way to run Orderly's processes."""

from __future__ import annotations

import sys
from importlib.metadata import version
from typing import Annotated

import structlog
import typer

from orderly_cli.boundary import EXIT_USAGE
from orderly_cli.commands import (
    audit,
    db,
    jobs,
    mail,
    orders,
    payments,
    products,
    reports,
    returns,
    runtime,
    shipments,
    shipping_rates,
    stock,
    users,
    webhooks,
)
from orderly_db.log import configure_logging
from orderly_db.settings import ConfigurationError, LogSettings, load_settings

app = typer.Typer(
    name="orderly",
    help=(
        "Orderly: orders and inventory for small online shops.\n\n"
        "Start here: `orderly dev` runs the whole stack locally with embedded PostgreSQL and "
        "Redis. Commands acting on data connect with DATABASE_URL and REDIS_URL, or find a "
        "running `orderly dev` in the current directory or one above it by themselves.\n\n"
        "Exit codes: 0 success, 1 the operation was refused (the reason is printed), "
        "2 usage or configuration error, 3 a server could not be reached, 4 internal error."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"orderly {version('orderly-cli')}")
        raise typer.Exit


@app.callback()
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
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    configure_logging(settings.log_format, settings.log_level)
    words = [arg for arg in sys.argv[1:] if not arg.startswith("-")][:2]
    structlog.contextvars.bind_contextvars(command=" ".join(words))


runtime.register(app)
app.add_typer(db.app, name="db")
app.add_typer(products.app, name="products")
app.add_typer(users.app, name="users")
app.add_typer(stock.app, name="stock")
app.add_typer(orders.app, name="orders")
app.add_typer(shipping_rates.app, name="shipping-rates")
app.add_typer(shipments.app, name="shipments")
app.add_typer(payments.app, name="payments")
app.add_typer(returns.app, name="returns")
app.add_typer(audit.app, name="audit")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(mail.app, name="mail")
app.add_typer(jobs.app, name="jobs")
app.add_typer(reports.app, name="reports")


def run() -> None:
    """Console-script entry point."""
    app()
