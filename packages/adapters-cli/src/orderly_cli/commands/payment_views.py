"""How payments and refunds are shown: rich tables for people, JSON for scripts.

A payment or a refund in JSON has the members of the HTTP API's resources (``payment_view``,
``refund_view``), with timestamps in RFC 3339 UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from orderly_cli import output
from orderly_cli.commands.order_views import money_text
from orderly_core.payments.followups import FollowUpReport
from orderly_core.payments.model import Payment, Refund
from orderly_core.payments.reconcile import ReconcileReport
from orderly_core.payments.views import payment_view, refund_view


def payment_json(payment: Payment) -> dict[str, Any]:
    return output.json_view(payment_view(payment))


def refund_json(refund: Refund) -> dict[str, Any]:
    return output.json_view(refund_view(refund))


def show_payments(
    payments: Sequence[Payment], *, title: str = "Payments", wide: bool = False
) -> None:
    out = output.console(wide=wide)
    if not payments:
        out.print(f"{title}: none.")
        return
    table = output.list_table(f"{title}, oldest first")
    output.add_id_column(table)
    for heading in ("Status", "Provider"):
        table.add_column(heading, no_wrap=True)
    table.add_column("Reference", overflow="fold")
    table.add_column("Amount", justify="right", no_wrap=True)
    table.add_column("Created", no_wrap=True)
    for payment in payments:
        table.add_row(
            str(payment.id),
            payment.status.value,
            payment.provider,
            Text(payment.provider_reference or "-"),
            money_text(payment.amount),
            output.table_time(payment.created_at, wide=wide),
        )
    out.print(table)


def show_refunds(refunds: Sequence[Refund], *, title: str = "Refunds", wide: bool = False) -> None:
    """Refunds; ``wide`` adds the payment each one refunds, and times in full."""
    out = output.console(wide=wide)
    if not refunds:
        out.print(f"{title}: none.")
        return
    table = output.list_table(title)
    output.add_id_column(table)
    table.add_column("Status", no_wrap=True)
    if wide:
        output.add_id_column(table, "Payment")
    table.add_column("Amount", justify="right", no_wrap=True)
    table.add_column("Reason", overflow="fold")
    table.add_column("Created", no_wrap=True)
    for refund in refunds:
        cells: list[str | Text] = [str(refund.id), refund.status.value]
        if wide:
            cells.append(str(refund.payment_id))
        cells += [
            money_text(refund.amount),
            Text(refund.reason),
            output.table_time(refund.created_at, wide=wide),
        ]
        table.add_row(*cells)
    out.print(table)


def reconcile_json(report: ReconcileReport) -> dict[str, Any]:
    return output.json_view(
        {
            "applied": report.applied,
            "since": report.since,
            "checked": report.checked,
            "missed": [
                {
                    "reference": m.reference,
                    "amount": m.amount,
                    "currency": m.currency,
                    "payment_id": str(m.payment_id) if m.payment_id else None,
                    "order_id": str(m.order_id) if m.order_id else None,
                    "outcome": m.outcome,
                }
                for m in report.missed
            ],
        }
    )


def show_reconcile(report: ReconcileReport) -> None:
    out = output.console()
    out.print(
        f"Checked {report.checked} payment(s) at the provider since {output.rfc3339(report.since)}."
    )
    if not report.missed:
        out.print("Orderly missed no success.")
        return
    if report.applied:
        out.print(f"Applied {len(report.missed)} success(es) Orderly had missed:")
    else:
        out.print(
            f"[bold]{output.NOT_APPLIED}.[/bold] {len(report.missed)} success(es) would be applied:"
        )
    for m in report.missed:
        out.print(f"{m.reference} ({m.amount} {m.currency}, order {m.order_id}): {m.outcome}")


def settle_json(report: FollowUpReport) -> dict[str, Any]:
    def ids(values: Sequence[Any]) -> list[str]:
        return [str(v) for v in values]

    return {
        "applied": report.applied,
        "refunded": ids(report.refunded),
        "refunds_failed": ids(report.refunds_failed),
        "refunds_waiting": ids(report.refunds_waiting),
        "cancelled": ids(report.cancelled),
        "cancels_waiting": ids(report.cancels_waiting),
    }


def show_settle(report: FollowUpReport) -> None:
    out = output.console()
    if not report.applied:
        out.print(
            f"[bold]{output.NOT_APPLIED}.[/bold] {len(report.refunds_waiting)} refund(s) "
            f"and {len(report.cancels_waiting)} payment cancellation(s) are due."
        )
        return
    out.print(
        f"Refunds: {len(report.refunded)} succeeded, {len(report.refunds_failed)} failed, "
        f"{len(report.refunds_waiting)} to try again. Payments cancelled at the provider: "
        f"{len(report.cancelled)}, {len(report.cancels_waiting)} to try again."
    )
