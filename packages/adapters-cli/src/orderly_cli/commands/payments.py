"""``orderly payments``: what Orderly settles with the payment provider on its own schedule,
run by hand: reconciling the provider's payments with Orderly's, and settling pending refunds
and cancellations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from orderly_cli import output
from orderly_cli.commands import payment_views
from orderly_cli.options import AsJson, DryRun, command_group, moment
from orderly_cli.session import operator_context, run_use_case
from orderly_core.payments.followups import settle_payments
from orderly_core.payments.reconcile import reconcile_payments

RECONCILE_DAYS = 2  # how far back reconciliation looks by default

app = command_group(
    "Payments: compare the payment provider's payments with Orderly's, and settle what is "
    "still owed (pending refunds, payments to cancel). Orderly's worker runs both on its "
    "schedule; these commands run them now, as the operator. Each takes --dry-run and --json."
)


@app.command("reconcile")
def reconcile_command(
    *,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="ISO", help="Look at the provider's payments created since (default: 2 days)."
        ),
    ] = None,
    dry_run: DryRun = False,
    as_json: AsJson = False,
) -> None:
    """Apply the payment successes Orderly missed (their event never arrived).

    Each of the provider's succeeded payments since --since whose payment Orderly has not
    recorded as succeeded is applied as its event would have been: the payment succeeds and
    its order is paid when covered (or it is refunded, its order being cancelled). With
    --dry-run, only reports. With --json: {"applied", "since", "checked", "missed": [...]}.

    \b
    Examples:
      orderly payments reconcile --dry-run
      orderly payments reconcile --since 2031-04-01
    """
    start = moment(since, "--since") or datetime.now(UTC) - timedelta(days=RECONCILE_DAYS)
    ctx = operator_context(dry_run=dry_run)
    report = run_use_case(lambda deps: reconcile_payments(deps, ctx, start), as_json=as_json)
    if as_json:
        output.print_json(payment_views.reconcile_json(report))
    else:
        payment_views.show_reconcile(report)


@app.command("settle")
def settle_command(dry_run: DryRun = False, as_json: AsJson = False) -> None:
    """Ask the provider for every pending refund that is due, and cancel at the provider the
    pending payments of cancelled or expired orders.

    This is what Orderly's scheduled job runs every minute. With --json: {"applied",
    "refunded", "refunds_failed", "refunds_waiting", "cancelled", "cancels_waiting"}.

    \b
    Example:
      orderly payments settle
    """
    ctx = operator_context(dry_run=dry_run)
    report = run_use_case(lambda deps: settle_payments(deps, ctx), as_json=as_json)
    if as_json:
        output.print_json(payment_views.settle_json(report))
    else:
        payment_views.show_settle(report)
