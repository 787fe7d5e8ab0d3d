"""``orderly shipping-rates``: the shop's shipping rates, for operators.

Each command decodes its options, builds the operator's context, runs one shipping use case
and prints the outcome. The rules (codes, countries, one currency per rate) are the core's;
what is checked here is only what the command line itself must make sense of: a price in
major units of the rate's currency.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from orderly_cli import output
from orderly_cli.options import (
    AsJson,
    Cursor,
    DryRun,
    IdempotencyKey,
    Limit,
    command_group,
    if_version_option,
)
from orderly_cli.session import operator_context, run_idempotent_use_case, run_use_case
from orderly_core.shared.money import Money, MoneyError, normalise_currency, parse_major
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT, Page
from orderly_core.shipping.model import ShippingRate, ShippingRateQuery, rate_view
from orderly_core.shipping.use_cases import (
    NewShippingRate,
    RetireRequest,
    ShippingRateChanges,
    create_shipping_rate,
    get_shipping_rate,
    list_shipping_rates,
    retire_shipping_rate,
    update_shipping_rate,
)

app = command_group(
    "The shop's shipping rates: what each way of shipping costs, where it ships, and from "
    "which subtotal it is free. When any rate is active, every order needs a shipping "
    "address and one of the rates serving it in the order's currency; a shop selling in two "
    "currencies defines a rate for each (std-eur, std-usd).\n\n"
    "Commands connect with DATABASE_URL and REDIS_URL, or find a running `orderly dev` "
    "in the current directory. Writes act as the operator and take --dry-run and "
    "--idempotency-key KEY. Every command takes --json for scripts."
)

Code = Annotated[str, typer.Argument(metavar="CODE", help="The rate's code (any case).")]
IfVersion = Annotated[int | None, if_version_option("shipping rate")]
Countries = Annotated[
    list[str] | None,
    typer.Option(
        "--country",
        metavar="CC",
        help="An ISO 3166-1 alpha-2 code the rate serves; repeat for each. None: everywhere.",
    ),
]


def _money(amount: str, currency: str, option: str) -> Money:
    """An amount in major units of ``currency``, converted exactly, or a usage error."""
    try:
        code = normalise_currency(currency)
    except MoneyError as error:
        raise typer.BadParameter(str(error), param_hint="'--currency'") from None
    try:
        return parse_major(amount, code)
    except MoneyError as error:
        raise typer.BadParameter(str(error), param_hint=f"'{option}'") from None


def rate_json(rate: ShippingRate) -> dict[str, Any]:
    return output.json_view(rate_view(rate))


def _money_text(amount: int, currency: str) -> str:
    return f"{Money(amount, currency).format_major()} {currency}"


def _free_text(rate: ShippingRate) -> str:
    if rate.free_above is None:
        return "-"
    return f"from {_money_text(rate.free_above, rate.price.currency)}"


def show_rate(rate: ShippingRate, *, title: str) -> None:
    rows = (
        ("Code", rate.code),
        ("Name", Text(rate.name)),
        ("Countries", ", ".join(rate.countries) or "everywhere"),
        ("Price", _money_text(rate.price.amount, rate.price.currency)),
        ("Free", _free_text(rate)),
        ("Active", "yes" if rate.active else "no (retired)"),
        ("Version", str(rate.version)),
        ("Created", output.rfc3339(rate.created_at)),
        ("Updated", output.rfc3339(rate.updated_at)),
    )
    output.console().print(output.fields_table(title, rows))


show_written: output.WriteOutcome[ShippingRate] = output.WriteOutcome(
    "shipping_rate", lambda rate: f"Shipping rate {rate.code}", rate_json, show_rate
)


def _show_page(page: Page[ShippingRate]) -> None:
    out = output.console()
    if not page.items:
        out.print("No shipping rates.")
    else:
        table = output.list_table(f"{len(page.items)} shipping rate(s)")
        for heading in ("Code", "Name", "Countries", "Price", "Free", "Active", "Version"):
            table.add_column(heading, overflow="fold")
        for rate in page.items:
            table.add_row(
                rate.code,
                Text(rate.name),
                ", ".join(rate.countries) or "everywhere",
                _money_text(rate.price.amount, rate.price.currency),
                _free_text(rate),
                "yes" if rate.active else "no",
                str(rate.version),
            )
        out.print(table)
    if page.next_cursor:
        out.print(f"More rates follow: --cursor {page.next_cursor}")


@app.command("list")
def list_command(
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--retired", help="Only active, or only retired, rates."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """List shipping rates in code order, a page at a time.

    With --json: {"items": [...], "next_cursor": ...}, amounts in minor units.

    \b
    Example:
      orderly shipping-rates list --active
    """
    ctx = operator_context()
    query = ShippingRateQuery(limit=limit, cursor=cursor, active=active)
    page = run_use_case(lambda deps: list_shipping_rates(deps, ctx, query), as_json=as_json)
    if as_json:
        output.print_json(output.page_json(page, rate_json))
    else:
        _show_page(page)


@app.command("show")
def show_command(code: Code, as_json: AsJson = False) -> None:
    """Show one shipping rate.

    \b
    Example:
      orderly shipping-rates show std-eur --json
    """
    ctx = operator_context()
    rate = run_use_case(lambda deps: get_shipping_rate(deps, ctx, code), as_json=as_json)
    if as_json:
        output.print_json(rate_json(rate))
    else:
        show_rate(rate, title=f"Shipping rate {rate.code}")


@app.command("create")
def create_command(
    *,
    code: Annotated[
        str,
        typer.Option(metavar="CODE", help="1-32 of a-z 0-9 _ . - (kept lower-case; unique)."),
    ],
    name: Annotated[str, typer.Option(metavar="TEXT", help="1-100 characters.")],
    price: Annotated[
        str, typer.Option(metavar="AMOUNT", help="Price in major units, e.g. 4.90 (exact).")
    ],
    currency: Annotated[str, typer.Option(metavar="CODE", help="ISO 4217 code, e.g. EUR.")],
    country: Countries = None,
    free_above: Annotated[
        str | None,
        typer.Option(metavar="AMOUNT", help="Free for orders whose subtotal reaches this."),
    ] = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Create an active shipping rate.

    Amounts are decimals in major units of the rate's currency, converted exactly.

    \b
    Examples:
      orderly shipping-rates create --code std-eur --name Standard --price 4.90 --currency EUR --country DE --country FR --free-above 50
      orderly shipping-rates create --code std-usd --name Standard --price 7 --currency USD
    """  # noqa: E501
    money = _money(price, currency, "--price")
    free = None if free_above is None else _money(free_above, currency, "--free-above").amount
    new = NewShippingRate(
        code, name, money.amount, money.currency, tuple(country or ()), free_above=free
    )
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    rate = run_idempotent_use_case(
        lambda deps: create_shipping_rate(deps, ctx, new), as_json=as_json
    )
    show_written(rate, applied=ctx.applies_changes, done="created", as_json=as_json)


@app.command("update")
def update_command(
    code: Code,
    *,
    name: Annotated[str | None, typer.Option(metavar="TEXT", help="New name.")] = None,
    price: Annotated[
        str | None,
        typer.Option(metavar="AMOUNT", help="New price in major units; needs --currency."),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(metavar="CODE", help="Currency of the amounts given (ISO 4217)."),
    ] = None,
    country: Countries = None,
    everywhere: Annotated[
        bool, typer.Option("--everywhere", help="Serve every country (clears the countries).")
    ] = False,
    free_above: Annotated[
        str | None, typer.Option(metavar="AMOUNT", help="New free-shipping subtotal.")
    ] = None,
    never_free: Annotated[
        bool, typer.Option("--never-free", help="The rate is never free.")
    ] = False,
    active: Annotated[
        bool | None, typer.Option("--activate/--retire", help="Put back, or retire.")
    ] = None,
    if_version: IfVersion = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Change some fields of a shipping rate; fields not given stay as they are.

    --price and --free-above are read in the major units of --currency, which they need
    (the rate's own currency, or a new one with a new --price). Orders already placed keep
    the shipping price they were placed with.

    \b
    Example:
      orderly shipping-rates update std-eur --price 5.90 --currency EUR --if-version 1
    """
    if (price is not None or free_above is not None) and currency is None:
        raise typer.BadParameter(
            "is needed with --price and --free-above", param_hint="'--currency'"
        )
    if country and everywhere:
        raise typer.BadParameter("cannot go with --everywhere", param_hint="'--country'")
    money = None if price is None or currency is None else _money(price, currency, "--price")
    free = None
    if free_above is not None and currency is not None:
        free = _money(free_above, currency, "--free-above").amount
    countries = () if everywhere else (tuple(country) if country else None)
    changes = ShippingRateChanges(
        code,
        expected_version=if_version,
        name=name,
        countries=countries,
        price=None if money is None else money.amount,
        currency=None if money is None else money.currency,
        free_above=free,
        clear_free_above=never_free,
        active=active,
    )
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    rate = run_idempotent_use_case(
        lambda deps: update_shipping_rate(deps, ctx, changes), as_json=as_json
    )
    show_written(rate, applied=ctx.applies_changes, done="updated", as_json=as_json)


@app.command("delete")
def delete_command(
    code: Code,
    if_version: IfVersion = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Retire a shipping rate: new orders can no longer choose it; orders placed with it keep
    it. `update CODE --activate` puts it back.

    \b
    Example:
      orderly shipping-rates delete express --if-version 2
    """
    request = RetireRequest(code, if_version)
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    rate = run_idempotent_use_case(
        lambda deps: retire_shipping_rate(deps, ctx, request), as_json=as_json
    )
    show_written(rate, applied=ctx.applies_changes, done="retired", as_json=as_json)
