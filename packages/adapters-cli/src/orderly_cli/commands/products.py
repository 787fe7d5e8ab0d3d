"""``orderly products``: the catalogue and its stock, for operators.

Each command decodes its options, builds the operator's context, runs one catalogue use case
and prints the outcome (see :mod:`orderly_cli.output`). The business rules live in the core;
what is checked here is only what the command line itself must make sense of: a price given
in major units of a currency, a well-formed idempotency key. ``import`` lives in
:mod:`orderly_cli.commands.product_import`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from orderly_cli import output
from orderly_cli.commands.product_import import import_command
from orderly_cli.options import (
    AsJson,
    Cursor,
    DryRun,
    IdempotencyKey,
    IfVersion,
    Limit,
    command_group,
)
from orderly_cli.session import operator_context, run_idempotent_use_case, run_use_case
from orderly_core.catalogue.model import ProductQuery
from orderly_core.catalogue.use_cases import (
    ArchiveRequest,
    NewProduct,
    ProductChanges,
    StockAdjustment,
    adjust_stock,
    archive_product,
    create_product,
    get_product,
    list_products,
    update_product,
)
from orderly_core.shared.money import Money, MoneyError, normalise_currency, parse_major
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT

app = command_group(
    "The product catalogue and its stock levels.\n\n"
    "Commands connect with DATABASE_URL and REDIS_URL, or find a running `orderly dev` "
    "in the current directory. Writes act as the operator (your OS user) and take "
    "--dry-run (check everything, show the result, change nothing) and "
    "--idempotency-key KEY. Every command takes --json for scripts."
)


Sku = Annotated[str, typer.Argument(metavar="SKU", help="The product's SKU (any case).")]


def _money(price: str, currency: str) -> Money:
    """A price in major units converted exactly, or a usage error naming the bad option."""
    try:
        code = normalise_currency(currency)
    except MoneyError as error:
        raise typer.BadParameter(str(error), param_hint="'--currency'") from None
    try:
        return parse_major(price, code)
    except MoneyError as error:
        raise typer.BadParameter(str(error), param_hint="'--price'") from None


@app.command("list")
def list_command(
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--archived", help="Only active, or only archived, products."),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(metavar="TEXT", help="Only products whose name or SKU contains TEXT."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """List products in SKU order, a page at a time.

    Shows price, stock on hand, reserved by open orders and available. When more products
    follow, the next page's cursor is printed; pass it back with --cursor. With --json:
    {"items": [...], "next_cursor": ...}, prices in minor units.

    \b
    Example:
      orderly products list --active --search mug --limit 20
    """
    ctx = operator_context()
    query = ProductQuery(limit=limit, cursor=cursor, active=active, search=search)
    page = run_use_case(lambda deps: list_products(deps, ctx, query), as_json=as_json)
    if as_json:
        output.print_json(output.page_json(page, output.product_json))
    else:
        output.show_page(page)


@app.command("show")
def show_command(sku: Sku, as_json: AsJson = False) -> None:
    """Show one product with its stock levels and version.

    \b
    Example:
      orderly products show MUG-01 --json
    """
    ctx = operator_context()
    product = run_use_case(lambda deps: get_product(deps, ctx, sku), as_json=as_json)
    if as_json:
        output.print_json(output.product_json(product))
    else:
        output.show_product(product)


LowStock = Annotated[
    int,
    typer.Option(
        "--low-stock",
        metavar="N",
        help="Send a stock.low event when the available stock falls below N (0: never).",
    ),
]


MaxPerOrder = Annotated[
    int,
    typer.Option(
        "--max-per-order",
        metavar="N",
        help="The most units of it one order may hold, 1-1000 (0: no limit of its own).",
    ),
]


@app.command("create")
def create_command(
    *,
    sku: Annotated[
        str, typer.Option(metavar="SKU", help="1-64 of A-Z 0-9 - _ . (stored upper-case; unique).")
    ],
    name: Annotated[str, typer.Option(metavar="TEXT", help="1-200 characters.")],
    price: Annotated[
        str, typer.Option(metavar="AMOUNT", help="Unit price in major units, e.g. 12.50 (exact).")
    ],
    currency: Annotated[
        str, typer.Option(metavar="CODE", help="ISO 4217 code of the price, e.g. EUR.")
    ],
    description: Annotated[str, typer.Option(metavar="TEXT", help="Up to 5000 characters.")] = "",
    on_hand: Annotated[int, typer.Option(metavar="N", help="Opening stock on hand.")] = 0,
    low_stock: LowStock = 0,
    max_per_order: MaxPerOrder = 0,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Create an active product with its opening stock.

    The price is a decimal in major units, converted exactly with the currency's decimals:
    12.50 EUR is 1250 cents, 1500 JPY is 1500 yen; 12.505 EUR is refused, never rounded.
    A SKU already in use (in any case) is refused.

    \b
    Example:
      orderly products create --sku MUG-01 --name "Blue mug" --price 12.50 --currency EUR --on-hand 40
    """  # noqa: E501
    money = _money(price, currency)
    new = NewProduct(
        sku,
        name,
        money.amount,
        money.currency,
        description,
        on_hand,
        low_stock_threshold=low_stock,
        max_per_order=max_per_order,
    )
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    product = run_idempotent_use_case(lambda deps: create_product(deps, ctx, new), as_json=as_json)
    output.show_written(product, applied=ctx.applies_changes, done="created", as_json=as_json)


@app.command("update")
def update_command(
    sku: Sku,
    *,
    name: Annotated[str | None, typer.Option(metavar="TEXT", help="New name.")] = None,
    description: Annotated[
        str | None, typer.Option(metavar="TEXT", help="New description.")
    ] = None,
    price: Annotated[
        str | None,
        typer.Option(metavar="AMOUNT", help="New unit price in major units; needs --currency."),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(metavar="CODE", help="Currency of --price (ISO 4217); needs --price."),
    ] = None,
    active: Annotated[
        bool | None,
        typer.Option("--activate/--deactivate", help="Put on sale, or take out of sale."),
    ] = None,
    low_stock: LowStock | None = None,
    max_per_order: MaxPerOrder | None = None,
    if_version: IfVersion = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Change some fields of a product; fields not given stay as they are.

    --price and --currency always go together (the price is read in that currency's major
    units), also when the currency does not change. With --if-version N the change applies
    only to version N of the product, so an edit based on a stale read is refused. A change
    that leaves every field as it was creates no new version.

    \b
    Example:
      orderly products update MUG-01 --price 14.00 --currency EUR --if-version 3
    """
    if (price is None) != (currency is None):
        given, missing = (
            ("--price", "--currency") if currency is None else ("--currency", "--price")
        )
        raise typer.BadParameter(f"needs {missing} as well", param_hint=f"'{given}'")
    money = None if price is None or currency is None else _money(price, currency)
    changes = ProductChanges(
        sku=sku,
        expected_version=if_version,
        name=name,
        description=description,
        unit_price=None if money is None else money.amount,
        currency=None if money is None else money.currency,
        active=active,
        low_stock_threshold=low_stock,
        max_per_order=max_per_order,
    )
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    product = run_idempotent_use_case(
        lambda deps: update_product(deps, ctx, changes), as_json=as_json
    )
    output.show_written(product, applied=ctx.applies_changes, done="updated", as_json=as_json)


@app.command("archive")
def archive_command(
    sku: Sku,
    if_version: IfVersion = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Take a product out of sale; its history and stock stay.

    Archiving an archived product changes nothing. `update SKU --activate` puts it back on sale.

    \b
    Example:
      orderly products archive MUG-01 --if-version 4
    """
    request = ArchiveRequest(sku, if_version)
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    product = run_idempotent_use_case(
        lambda deps: archive_product(deps, ctx, request), as_json=as_json
    )
    output.show_written(product, applied=ctx.applies_changes, done="archived", as_json=as_json)


@app.command("adjust-stock")
def adjust_stock_command(
    sku: Sku,
    *,
    delta: Annotated[
        int, typer.Option(metavar="N", help="Units to add (positive) or remove (negative).")
    ],
    reason: Annotated[
        str, typer.Option(metavar="TEXT", help="Why the stock changes (1-500 characters).")
    ],
    if_version: IfVersion = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Add to or remove from a product's stock on hand, with a reason.

    Stock on hand may never drop below what open orders have reserved: such an adjustment
    is refused.

    \b
    Examples:
      orderly products adjust-stock MUG-01 --delta 24 --reason "delivery 2031-04"
      orderly products adjust-stock MUG-01 --delta -3 --reason "broken in storage"
    """
    adjustment = StockAdjustment(sku, delta, reason, if_version)
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    product = run_idempotent_use_case(
        lambda deps: adjust_stock(deps, ctx, adjustment), as_json=as_json
    )
    output.show_written(product, applied=ctx.applies_changes, done="adjusted", as_json=as_json)


app.command("import")(import_command)
