"""The ``orderly`` command: the admin CLI, and the way to run Orderly's processes."""

from __future__ import annotations

import typer

from orderly_cli.commands import db, products, runtime

app = typer.Typer(
    name="orderly",
    help=(
        "Orderly: orders and inventory for small online shops.\n\n"
        "Start here: `orderly dev` runs the whole stack locally with embedded PostgreSQL and "
        "Redis. Commands acting on data connect with DATABASE_URL and REDIS_URL, or find a "
        "running `orderly dev` in the current directory by themselves.\n\n"
        "Exit codes: 0 success, 1 the operation was refused (the reason is printed), "
        "2 usage or configuration error, 3 a server could not be reached."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
runtime.register(app)
app.add_typer(db.app, name="db")
app.add_typer(products.app, name="products")


def run() -> None:
    """Console-script entry point."""
    app()
