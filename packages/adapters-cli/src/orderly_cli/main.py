"""The ``orderly`` command: the admin CLI, and the way to run Orderly's processes."""

from __future__ import annotations

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
    shipments,
    shipping_rates,
    stock,
    users,
    webhooks,
)
from orderly_cli.root import make_app

app = make_app()
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
