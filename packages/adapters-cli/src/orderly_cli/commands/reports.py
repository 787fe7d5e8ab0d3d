"""``orderly reports``: the daily sales summaries, for operators.

``sales`` prints the stored summaries of a range of days; ``summarise`` makes (or makes again)
one day's summary, as Orderly's worker does for yesterday a few minutes after midnight UTC.
What a summary counts is the core's rule (``orderly_core.sales``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from orderly_cli import output
from orderly_cli.options import AsJson, DryRun
from orderly_cli.session import operator_context, run_use_case
from orderly_core.sales.model import SalesSummary, summary_view
from orderly_core.sales.use_cases import SalesQuery, sales_report, summarise_sales
from orderly_core.shared.money import Money

app = typer.Typer(
    help=(
        "Sales reports: the daily sales summaries (orders placed and paid each UTC day, "
        "revenue per currency, the SKUs sold most).\n\n"
        "Commands connect with DATABASE_URL and REDIS_URL, or find a running `orderly dev` "
        "in the current directory, and act as the operator (your OS user)."
    ),
    no_args_is_help=True,
)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=f"'{option}'"
        ) from None


def _json(summary: SalesSummary) -> dict[str, Any]:
    view = summary_view(summary)
    return view | {"computed_at": output.rfc3339(summary.computed_at)}


def _revenue_text(summary: SalesSummary) -> str:
    amounts = [Money(r.amount, r.currency) for r in summary.tally.revenue]
    return ", ".join(f"{m.format_major()} {m.currency}" for m in amounts) or "-"


def _show(summaries: tuple[SalesSummary, ...], title: str) -> None:
    table = output.list_table(title)
    for column in ("Day", "Orders", "Revenue", "Top SKUs (units)"):
        table.add_column(column, overflow="fold")
    for summary in summaries:
        top = ", ".join(f"{s.sku} ({s.units})" for s in summary.tally.top_skus[:5]) or "-"
        table.add_row(
            summary.day.isoformat(), str(summary.tally.orders), _revenue_text(summary), top
        )
    output.console().print(table)


@app.command("sales")
def sales_command(
    first: Annotated[str, typer.Option("--from", metavar="DATE", help="First day (YYYY-MM-DD).")],
    last: Annotated[
        str, typer.Option("--to", metavar="DATE", help="Last day, included (YYYY-MM-DD).")
    ],
    as_json: AsJson = False,
) -> None:
    """Print the daily sales summaries of a range of days (at most 366).

    Each day counts the orders placed that UTC day that have been paid (paid, shipped or
    delivered when the summary was made), the revenue per currency and the SKUs sold most.
    Days not summarised yet (today) are absent. With --json:
    {"from": ..., "to": ..., "days": [{"day", "orders", "revenue", "top_skus", "computed_at"}]}.

    \b
    Example:
      orderly reports sales --from 2031-03-01 --to 2031-03-31
    """
    query = SalesQuery(_day(first, "--from"), _day(last, "--to"))
    ctx = operator_context()
    report = run_use_case(lambda deps: sales_report(deps, ctx, query), as_json=as_json)
    if as_json:
        days = [_json(summary) for summary in report.days]
        output.print_json({"from": first, "to": last, "days": days})
        return
    _show(report.days, f"Sales {report.first} to {report.last} ({len(report.days)} day(s))")


@app.command("summarise")
def summarise_command(
    day: Annotated[
        str | None,
        typer.Option(metavar="DATE", help="The day to summarise (default: yesterday, UTC)."),
    ] = None,
    dry_run: DryRun = False,
    as_json: AsJson = False,
) -> None:
    """Make (or make again) one day's sales summary, replacing the one kept.

    Orderly's worker summarises yesterday a few minutes after midnight UTC; run this to bring
    a day up to date after late payments, or for days before Orderly ran. With --dry-run,
    prints the summary and keeps nothing.

    \b
    Example:
      orderly reports summarise --day 2031-03-01
    """
    wanted = _day(day, "--day") if day is not None else None
    ctx = operator_context(dry_run=dry_run)
    summary = run_use_case(lambda deps: summarise_sales(deps, ctx, wanted), as_json=as_json)
    if as_json:
        output.print_json({"applied": ctx.applies_changes, "summary": _json(summary)})
        return
    if not ctx.applies_changes:
        output.console().print(f"[bold]{output.NOT_APPLIED}.[/bold] The summary would be:")
    _show((summary,), f"Sales of {summary.day}")
