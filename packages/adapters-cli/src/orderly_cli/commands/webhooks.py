"""``orderly webhooks``: webhook endpoints, their signing secrets and their deliveries, for
operators.

Each command decodes its options, builds the operator's context, runs one webhook use case
and prints the outcome. Which URLs and event types are accepted, who may act, and what a
redelivery or a replay makes all live in the core; what is checked here is only what the
command line itself must make sense of: a time in ISO 8601. How endpoints and deliveries are
shown is in :mod:`orderly_cli.commands.webhook_views`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from orderly_cli import output
from orderly_cli.commands import webhook_views
from orderly_cli.options import (
    AsJson,
    Cursor,
    DryRun,
    IdempotencyKey,
    Limit,
    Wide,
    command_group,
    if_version_option,
    moment,
)
from orderly_cli.session import operator_context, run_idempotent_use_case, run_use_case
from orderly_core.platform.outbox import EventType
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_core.webhooks.deliveries import DeliveryQuery, get_delivery, list_deliveries, redeliver
from orderly_core.webhooks.endpoints import (
    EndpointChanges,
    EndpointRemoval,
    NewEndpoint,
    list_endpoints,
    register_endpoint,
    remove_endpoint,
    rotate_secret,
    update_endpoint,
)
from orderly_core.webhooks.replay import ReplayRequest, replay_events

_TYPES = ", ".join(t.value for t in EventType)

app = command_group(
    "Webhooks: the endpoints Orderly sends its events to (signed with a secret of "
    "their own), and each delivery of an event to an endpoint.\n\n"
    "Commands connect with DATABASE_URL and REDIS_URL, or find a running `orderly dev` "
    "in the current directory. They act as the operator (your OS user). Writes take "
    "--dry-run (check everything, show the result, change nothing) and --idempotency-key "
    "KEY; every command takes --json for scripts. A signing secret is printed once, by "
    "the command that made it (add, rotate-secret)."
)

EndpointId = Annotated[str, typer.Argument(metavar="ID", help="The endpoint's id.")]
DeliveryId = Annotated[str, typer.Argument(metavar="DELIVERY_ID", help="The delivery's id.")]
IfVersion = Annotated[int | None, if_version_option("endpoint")]
Events = Annotated[
    list[str],
    typer.Option(
        "--event",
        metavar="TYPE",
        help=f"An event type; repeat for each ({_TYPES}).",
    ),
]


# --- endpoints -----------------------------------------------------------------------------


@app.command("list")
def list_command(as_json: AsJson = False) -> None:
    """List every webhook endpoint, oldest first; never their secrets.

    With --json: {"items": [endpoint, ...]}.

    \b
    Example:
      orderly webhooks list
    """
    ctx = operator_context()
    endpoints = run_use_case(lambda deps: list_endpoints(deps, ctx), as_json=as_json)
    if as_json:
        output.print_json({"items": [webhook_views.endpoint_json(e) for e in endpoints]})
    else:
        webhook_views.show_endpoints(endpoints)


@app.command("add")
def add_command(
    *,
    url: Annotated[
        str, typer.Option(metavar="URL", help="Where to POST the events: an https:// URL.")
    ],
    event: Events,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Register an endpoint and print its new signing secret, the only time it is shown.

    The URL is absolute https:// (http:// only where WEBHOOK_ALLOW_HTTP allows it), with no
    user name, password or #fragment; its host may not be localhost or an IP address that
    is not public (loopback, private, link-local...) unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES
    allows it. Each event type once. With --json: {"applied": ..., "endpoint": {...}, "secret": "whsec_..."}; the
    secret is null with --dry-run, which makes none.

    \b
    Example:
      orderly webhooks add --url https://hooks.example.com/orderly --event order.placed --event order.paid
    """  # noqa: E501
    new = NewEndpoint(url, tuple(event))
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    registered = run_idempotent_use_case(
        lambda deps: register_endpoint(deps, ctx, new), as_json=as_json
    )
    webhook_views.show_with_secret(
        registered,
        applied=ctx.applies_changes,
        done="registered",
        would="would be registered",
        as_json=as_json,
    )


def _switch_command(*, active: bool) -> Callable[[Callable[[], None]], Callable[..., None]]:
    """The command that turns an endpoint on (``active``) or off: the function it decorates
    gives the command its name and, by its docstring, its help."""
    done = "enabled" if active else "disabled"

    def declare(described: Callable[[], None]) -> Callable[..., None]:
        def command(
            endpoint_id: EndpointId,
            if_version: IfVersion = None,
            dry_run: DryRun = False,
            idempotency_key: IdempotencyKey = None,
            as_json: AsJson = False,
        ) -> None:
            changes = EndpointChanges(endpoint_id, expected_version=if_version, active=active)
            ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
            endpoint = run_idempotent_use_case(
                lambda deps: update_endpoint(deps, ctx, changes), as_json=as_json
            )
            webhook_views.show_written(
                endpoint, applied=ctx.applies_changes, done=done, as_json=as_json
            )

        command.__name__, command.__qualname__ = described.__name__, described.__qualname__
        command.__doc__ = described.__doc__
        return command

    return declare


@app.command("disable")
@_switch_command(active=False)
def disable_command() -> None:
    """Stop sending events to an endpoint; it keeps its settings and deliveries.

    \b
    Example:
      orderly webhooks disable 0f8e2a6c-6b1d-4d39-9d0e-3a7c5b2e1f40
    """


@app.command("enable")
@_switch_command(active=True)
def enable_command() -> None:
    """Send events to an endpoint again, forgetting why and since when it was failing.

    \b
    Example:
      orderly webhooks enable 0f8e2a6c-6b1d-4d39-9d0e-3a7c5b2e1f40
    """


@app.command("remove")
def remove_command(
    endpoint_id: EndpointId,
    if_version: IfVersion = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Remove an endpoint, and with it every one of its deliveries and their attempts.

    With --json: {"applied": ..., "endpoint": {...}} (the endpoint as it was).

    \b
    Example:
      orderly webhooks remove 0f8e2a6c-6b1d-4d39-9d0e-3a7c5b2e1f40 --dry-run
    """
    removal = EndpointRemoval(endpoint_id, if_version)
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    endpoint = run_idempotent_use_case(
        lambda deps: remove_endpoint(deps, ctx, removal), as_json=as_json
    )
    webhook_views.show_removed(endpoint, applied=ctx.applies_changes, as_json=as_json)


@app.command("rotate-secret")
def rotate_secret_command(
    endpoint_id: EndpointId,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Give an endpoint a new signing secret and print it, the only time it is shown.

    The previous secret keeps signing deliveries next to the new one for
    WEBHOOK_SECRET_OVERLAP_HOURS (24 by default), so the receiver can switch over without
    rejecting a delivery. With --json: {"applied": ..., "endpoint": {...}, "secret": ...}.

    \b
    Example:
      orderly webhooks rotate-secret 0f8e2a6c-6b1d-4d39-9d0e-3a7c5b2e1f40
    """
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    rotated = run_idempotent_use_case(
        lambda deps: rotate_secret(deps, ctx, endpoint_id), as_json=as_json
    )
    webhook_views.show_with_secret(
        rotated,
        applied=ctx.applies_changes,
        done="has a new signing secret",
        would="would get a new signing secret",
        as_json=as_json,
    )


# --- deliveries ----------------------------------------------------------------------------


@app.command("deliveries")
def deliveries_command(
    endpoint_id: EndpointId,
    *,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    wide: Wide = False,
    as_json: AsJson = False,
) -> None:
    """List an endpoint's deliveries, newest first, a page at a time (--wide adds each one's
    event id, last HTTP status and creation time).

    A delivery is pending (waiting for its next attempt), delivered, or dead (every attempt
    failed). When older deliveries follow, the next page's cursor is printed; pass it back
    with --cursor. With --json: {"items": [...], "next_cursor": ...}.

    \b
    Example:
      orderly webhooks deliveries 0f8e2a6c-6b1d-4d39-9d0e-3a7c5b2e1f40 --limit 20
    """
    query = DeliveryQuery(limit=limit, cursor=cursor)
    ctx = operator_context()
    page = run_use_case(
        lambda deps: list_deliveries(deps, ctx, endpoint_id, query), as_json=as_json
    )
    if as_json:
        output.print_json(output.page_json(page, webhook_views.delivery_json))
    else:
        webhook_views.show_deliveries(page, wide=wide)


@app.command("show-delivery")
def show_delivery_command(delivery_id: DeliveryId, as_json: AsJson = False) -> None:
    """Show one delivery with every attempt made of it: time, status, latency, error.

    With --json: the delivery with "attempt_log": [...].

    \b
    Example:
      orderly webhooks show-delivery 7c1d9e2a-4b3f-4e8a-9a61-5d2c0b7e3f18
    """
    ctx = operator_context()
    detail = run_use_case(lambda deps: get_delivery(deps, ctx, delivery_id), as_json=as_json)
    if as_json:
        output.print_json(webhook_views.delivery_detail_json(detail))
    else:
        webhook_views.show_delivery(detail)


@app.command("redeliver")
def redeliver_command(
    delivery_id: DeliveryId,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Send a delivery's event to its endpoint again, whether it was delivered or is dead.

    A new pending delivery is made, due now, and Orderly's worker sends it; the old one
    stays as it was. The endpoint must be enabled. With --json: {"applied": ...,
    "delivery": {...}}.

    \b
    Example:
      orderly webhooks redeliver 7c1d9e2a-4b3f-4e8a-9a61-5d2c0b7e3f18
    """
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    delivery = run_idempotent_use_case(
        lambda deps: redeliver(deps, ctx, delivery_id), as_json=as_json
    )
    webhook_views.show_redelivery(delivery, applied=ctx.applies_changes, as_json=as_json)


@app.command("replay")
def replay_command(
    endpoint_id: EndpointId,
    *,
    event: Events,
    since: Annotated[
        str, typer.Option(metavar="ISO", help="Events created at or after this time.")
    ],
    until: Annotated[str, typer.Option(metavar="ISO", help="Events created before this time.")],
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Send an endpoint every event of the given types created in [--since, --until) again,
    delivered ones included: for a receiver that lost data.

    The endpoint must be enabled and subscribe to each type. At most 10,000 events a
    replay; a range holding more is refused (replay shorter ranges). Times are ISO 8601,
    read as UTC without an offset. Prints how many events will be sent; with --json:
    {"applied": ..., "endpoint_id": ..., "count": N, "delivery_ids": [...]}.

    \b
    Example:
      orderly webhooks replay 0f8e2a6c-6b1d-4d39-9d0e-3a7c5b2e1f40 --event order.placed --since 2031-04-01 --until 2031-04-02
    """  # noqa: E501
    start, end = moment(since, "--since"), moment(until, "--until")
    if start is None or end is None:  # both options are required
        raise typer.BadParameter("--since and --until are both required")
    request = ReplayRequest(tuple(event), start, end)
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    report = run_idempotent_use_case(
        lambda deps: replay_events(deps, ctx, endpoint_id, request), as_json=as_json
    )
    webhook_views.show_replay(report, applied=ctx.applies_changes, as_json=as_json)
