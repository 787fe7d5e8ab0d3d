"""How ``orderly webhooks`` shows endpoints and deliveries: rich tables for people, JSON for
scripts.

An endpoint or a delivery in JSON has the members of the HTTP API's resource
(``endpoint_view``, ``delivery_view``), with timestamps in RFC 3339 UTC. A signing secret is
printed only by the command that made it, with a warning that it will not be shown again.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from orderly_cli import output
from orderly_core.shared.paging import Page
from orderly_core.webhooks.deliveries import DeliveryDetail
from orderly_core.webhooks.endpoints import RegisteredEndpoint
from orderly_core.webhooks.model import (
    Attempt,
    Delivery,
    Endpoint,
    delivery_view,
    endpoint_view,
)
from orderly_core.webhooks.replay import ReplayReport

SHOWN_ONCE = (
    "Keep this signing secret now: Orderly will not show it again "
    "(rotate it with `orderly webhooks rotate-secret` if it is lost)."
)


def endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    """An endpoint as the HTTP API shows one: never its secret."""
    return output.json_view(endpoint_view(endpoint))


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return output.json_view(delivery_view(delivery))


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "at": output.rfc3339(attempt.at),
        "latency_ms": attempt.latency_ms,
        "status": attempt.status,
        "error": attempt.error,
        "succeeded": attempt.succeeded,
    }


def show_endpoint(endpoint: Endpoint, *, title: str) -> None:
    rows = (
        ("ID", str(endpoint.id)),
        ("URL", Text(endpoint.url)),
        ("Events", ", ".join(t.value for t in endpoint.event_types)),
        ("Active", "yes" if endpoint.active else "no"),
        ("Disabled because", Text(endpoint.disabled_reason or "-")),
        ("Failing since", output.time_text(endpoint.failing_since)),
        ("Old secret signs until", output.time_text(endpoint.previous_secret_until)),
        ("Version", str(endpoint.version)),
        ("Created", output.rfc3339(endpoint.created_at)),
        ("Updated", output.rfc3339(endpoint.updated_at)),
    )
    output.console().print(output.fields_table(title, rows))


def show_endpoints(endpoints: tuple[Endpoint, ...]) -> None:
    out = output.console()
    if not endpoints:
        out.print("No webhook endpoints.")
        return
    table = output.list_table(f"{len(endpoints)} webhook endpoint(s), oldest first")
    table.add_column("ID", no_wrap=True)
    table.add_column("URL", overflow="fold")
    table.add_column("Events", overflow="fold")
    table.add_column("Active", no_wrap=True)
    table.add_column("Version", justify="right", no_wrap=True)
    table.add_column("Disabled because", overflow="fold")
    for endpoint in endpoints:
        table.add_row(
            str(endpoint.id),
            Text(endpoint.url),
            ", ".join(t.value for t in endpoint.event_types),
            "yes" if endpoint.active else "no",
            str(endpoint.version),
            Text(endpoint.disabled_reason or "-"),
        )
    out.print(table)


def show_with_secret(
    registered: RegisteredEndpoint, *, applied: bool, done: str, would: str, as_json: bool
) -> None:
    """An endpoint and the secret just made for it (``done``: what happened to it; ``would``:
    what a dry run would do); the warning goes to stderr with --json."""
    endpoint, secret = registered.endpoint, registered.secret
    if as_json:
        output.print_json(
            {"applied": applied, "endpoint": endpoint_json(endpoint), "secret": secret}
        )
        if secret is not None:
            typer.echo(f"warning: {SHOWN_ONCE}", err=True)
        return
    if not applied:
        output.not_applied(f"Webhook endpoint {endpoint.id} {would}; no secret was made:")
        show_endpoint(endpoint, title=f"Webhook endpoint {endpoint.id}")
        return
    show_endpoint(endpoint, title=f"Webhook endpoint {endpoint.id} {done}")
    out = output.console()
    out.print(f"Signing secret: {secret}", highlight=False, soft_wrap=True)
    out.print(f"[bold]{SHOWN_ONCE}[/bold]")


show_written: output.WriteOutcome[Endpoint] = output.WriteOutcome(
    "endpoint", lambda endpoint: f"Webhook endpoint {endpoint.id}", endpoint_json, show_endpoint
)
"""The endpoint a change produced."""


def show_removed(endpoint: Endpoint, *, applied: bool, as_json: bool) -> None:
    if as_json:
        output.print_json({"applied": applied, "endpoint": endpoint_json(endpoint)})
    elif applied:
        output.console().print(
            f"Removed webhook endpoint {endpoint.id} ({escape(endpoint.url)}) and its deliveries."
        )
    else:
        output.not_applied(
            f"Webhook endpoint {endpoint.id} ({escape(endpoint.url)}) and its deliveries would "
            "be removed."
        )


def _deliveries_table(title: str, *, wide: bool) -> Table:
    """Deliveries with their id whole; ``wide`` adds the event's id, the last HTTP status and
    when each was made, and times in full."""
    table = output.list_table(title)
    output.add_id_column(table)
    if wide:
        output.add_id_column(table, "Event")
    table.add_column("Type", overflow="fold")
    table.add_column("State", no_wrap=True)
    table.add_column("Tries", justify="right", no_wrap=True)
    if wide:
        table.add_column("Last status", justify="right", no_wrap=True)
    table.add_column("Next attempt", no_wrap=True)
    if wide:
        table.add_column("Created", no_wrap=True)
    return table


def _delivery_row(table: Table, delivery: Delivery, *, wide: bool) -> None:
    cells = [str(delivery.id)]
    if wide:
        cells.append(str(delivery.event_id))
    cells += [delivery.event_type.value, delivery.state.value, str(delivery.attempts)]
    if wide:
        cells.append("-" if delivery.last_status is None else str(delivery.last_status))
    cells.append(output.table_time(delivery.next_attempt_at, wide=wide))
    if wide:
        cells.append(output.rfc3339(delivery.created_at))
    table.add_row(*cells)


def show_deliveries(page: Page[Delivery], *, wide: bool = False) -> None:
    out = output.console(wide=wide)
    if not page.items:
        out.print("No deliveries.")
    else:
        table = _deliveries_table(f"{len(page.items)} delivery(ies), newest first", wide=wide)
        for delivery in page.items:
            _delivery_row(table, delivery, wide=wide)
        out.print(table)
    if page.next_cursor:
        out.print(f"Older deliveries follow: --cursor {page.next_cursor}")


def show_delivery(detail: DeliveryDetail) -> None:
    delivery = detail.delivery
    out = output.console()
    rows = (
        ("ID", str(delivery.id)),
        ("Endpoint", str(delivery.endpoint_id)),
        ("Event", f"{delivery.event_id} ({delivery.event_type.value})"),
        ("State", delivery.state.value),
        ("Attempts", str(delivery.attempts)),
        ("Next attempt", output.time_text(delivery.next_attempt_at)),
        ("Last status", "-" if delivery.last_status is None else str(delivery.last_status)),
        ("Last error", Text(delivery.last_error or "-")),
        ("Delivered", output.time_text(delivery.delivered_at)),
        ("Created", output.rfc3339(delivery.created_at)),
        ("Updated", output.rfc3339(delivery.updated_at)),
    )
    out.print(output.fields_table(f"Delivery {delivery.id}", rows))
    if not detail.attempts:
        out.print("No attempts yet.")
        return
    attempts = output.list_table("Attempts, first first")
    attempts.add_column("#", justify="right", no_wrap=True)
    attempts.add_column("At", no_wrap=True)
    attempts.add_column("Status", justify="right", no_wrap=True)
    attempts.add_column("Latency", justify="right", no_wrap=True)
    attempts.add_column("Error", overflow="fold")
    for attempt in detail.attempts:
        attempts.add_row(
            str(attempt.number),
            output.rfc3339(attempt.at),
            "-" if attempt.status is None else str(attempt.status),
            f"{attempt.latency_ms} ms",
            Text(attempt.error or "-"),
        )
    out.print(attempts)


def delivery_detail_json(detail: DeliveryDetail) -> dict[str, Any]:
    """A delivery with its attempts, as ``GET /api/v1/webhooks/deliveries/{id}`` answers."""
    return delivery_json(detail.delivery) | {
        "attempt_log": [attempt_json(a) for a in detail.attempts]
    }


def show_redelivery(delivery: Delivery, *, applied: bool, as_json: bool) -> None:
    if as_json:
        output.print_json({"applied": applied, "delivery": delivery_json(delivery)})
        return
    if applied:
        output.console().print(
            f"Event {delivery.event_id} will be sent again as delivery {delivery.id}; "
            "Orderly's worker sends it."
        )
    else:
        output.not_applied(f"Event {delivery.event_id} would be sent again as a new delivery.")


def show_replay(report: ReplayReport, *, applied: bool, as_json: bool) -> None:
    if as_json:
        output.print_json(
            {
                "applied": applied,
                "endpoint_id": str(report.endpoint_id),
                "count": report.count,
                "delivery_ids": [str(i) for i in report.delivery_ids],
            }
        )
        return
    out = output.console()
    if not applied:
        output.not_applied(f"{report.count} event(s) would be sent again to {report.endpoint_id}.")
        return
    out.print(
        f"{report.count} event(s) will be sent again to {report.endpoint_id}; Orderly's "
        "worker sends them. Follow them with `orderly webhooks deliveries "
        f"{report.endpoint_id}`."
    )
