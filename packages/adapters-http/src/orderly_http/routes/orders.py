"""``/api/v1/orders``: placing orders, reading them, and every step of their lifecycle.

Who may do what is the core's decision: customers place, read and cancel their own orders
(another customer's order is 404, as if it did not exist); staff and admins read all and may
ship, deliver and cancel any. An order becomes paid through its payments
(:mod:`orderly_http.routes.payments`); ``ship`` and ``deliver`` are shortcuts for shipping
everything remaining in one shipment and delivering every shipment
(:mod:`orderly_http.routes.shipments`).

Placing requires an ``Idempotency-Key`` header (the HTTP API's policy,
:func:`~orderly_http.answers.idempotency_key_missing`), and every step accepts one: a retry with the
same key and body gets the first answer again, byte for byte, with ``Idempotent-Replayed:
true`` (see :mod:`orderly_core.platform.idempotency` for the whole rule). Steps accept ``If-Match``
with the order's ``ETag``: a stale copy gets 412. Every write takes ``?mode=dry_run``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header, Query, Request
from pydantic.json_schema import SkipJsonSchema
from starlette.responses import Response

from orderly_core.orders.details import change_order_details
from orderly_core.orders.model import Order, OrderQuery, OrderStatus, Placement
from orderly_core.orders.placement import place_order
from orderly_core.orders.reading import get_order, list_orders
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.idempotency import Idempotent
from orderly_core.shared.context import Context, Mode
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_core.shipments.steps import cancel_order, deliver_order, ship_order
from orderly_core.unit_of_work import Dependencies
from orderly_http import limits
from orderly_http.answers import (
    answer,
    answer_change,
    described,
    dry_run_marked,
    expected_version,
    idempotency_key_missing,
    optional_version,
    version_of,
)
from orderly_http.container import Resources
from orderly_http.context import (
    IDEMPOTENCY_KEY_HEADER,
    ModeQuery,
    WriteContext,
    claims_context,
    run_signed_in,
)
from orderly_http.order_schemas import (
    CancelBody,
    NewOrderBody,
    OrderDetailsBody,
    OrderPageResource,
    OrderPreviewResource,
    OrderResource,
)
from orderly_http.paging import Cursor, Instant, Limit
from orderly_http.problems import precondition_required, problem_responses
from orderly_http.routing import Router
from orderly_http.shipment_schemas import TrackingBody

router = Router(prefix="/api/v1/orders", tags=["orders"])

IfMatch = Annotated[
    str | SkipJsonSchema[None],
    Header(
        description='The order\'s `ETag` (such as `"3"`): change only that version',
        json_schema_extra=limits.IF_MATCH,
    ),
]

_KEY_NOTE = (
    "A retry with the same `Idempotency-Key` and body within 24 hours (`IDEMPOTENCY_KEY_TTL_"
    "HOURS`) gets the first answer again, success or problem, with `Idempotent-Replayed: "
    "true`; the same key with another body is 422 `idempotency_key_reused`; a retry while "
    "the first request is still running is 409 `request_in_flight` with `Retry-After`."
)
_ORDER_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"model": OrderResource, "description": "The order after the step"}
}


def _placed_order(placement: Placement) -> dict[str, Any]:
    return OrderResource.document(placement.order)


def _placement_version(placement: Placement) -> int:
    return placement.order.version


def _placement_location(placement: Placement) -> str:
    return f"{router.prefix}/{placement.order.id}"


@router.post(
    "",
    operation_id="orders.place",
    status_code=201,
    summary="Place an order",
    description=described(
        place_order,
        "Requires `Idempotency-Key` (1-255 printable ASCII characters; 400 without it). "
        "Answers 201 with the order, its `Location` and `ETag`. "
        f"{_KEY_NOTE} A dry run (no key needed) is the quote: it answers 200 with the priced "
        "order, the stock available to each line and the `shipping_methods` available for "
        "the address with their prices, and stores nothing.",
    ),
    response_model=OrderResource,
    responses={
        200: {"model": OrderPreviewResource, "description": "Dry run: the order it would be"},
        **problem_responses(400, 401, 403, 409, 413, 422),
    },
)
async def place_order_route(
    *,
    body: NewOrderBody,
    request: Request,
    mode: ModeQuery = Mode.EXECUTE,
    idempotency_key: Annotated[
        str | SkipJsonSchema[None],
        Header(
            alias=IDEMPOTENCY_KEY_HEADER,
            description="A unique key for this order, reused for every retry of it",
            json_schema_extra=limits.IDEMPOTENCY_KEY,
        ),
    ] = None,
) -> Response:
    del idempotency_key  # read into the context; declared here to document it
    ctx = claims_context(request, mode)
    if (missing := idempotency_key_missing(ctx)) is not None:
        return missing
    new = body.to_domain()
    ctx, result = await run_signed_in(request, ctx, lambda deps, c: place_order(deps, c, new))
    return answer(
        result,
        ctx,
        _placed_order if ctx.applies_changes else OrderPreviewResource.from_placement,
        status=201,
        version=_placement_version,
        location=_placement_location,
    )


@router.get(
    "",
    operation_id="orders.list",
    summary="List orders",
    description=described(list_orders, "Follow `next_cursor` until it is null."),
    response_model=OrderPageResource,
    responses=problem_responses(401, 422),
)
async def list_orders_route(
    *,
    request: Request,
    status: Annotated[OrderStatus | None, Query(description="Only orders in this status")] = None,
    customer_id: Annotated[
        str | None,
        Query(description="Staff: only this customer's orders", json_schema_extra=limits.FILTER),
    ] = None,
    since: Annotated[
        Instant | None, Query(description="Placed at or after this time (RFC 3339, with offset)")
    ] = None,
    until: Annotated[Instant | None, Query(description="Placed before this time")] = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
) -> Response:
    query = OrderQuery(
        limit=limit,
        cursor=cursor,
        status=status,
        customer_id=customer_id,
        since=since,
        until=until,
    )
    ctx = claims_context(request)
    ctx, result = await run_signed_in(request, ctx, lambda deps, c: list_orders(deps, c, query))
    return answer(result, ctx, OrderPageResource.document)


@router.get(
    "/{order_id}",
    operation_id="orders.get",
    summary="Get an order",
    description=described(get_order, "Answers the order with its `ETag`."),
    response_model=OrderResource,
    responses=problem_responses(401, 404, 422),
)
async def get_order_route(*, order_id: str, request: Request) -> Response:
    ctx = claims_context(request)
    ctx, result = await run_signed_in(request, ctx, lambda deps, c: get_order(deps, c, order_id))
    return answer(result, ctx, OrderResource.document, version=version_of)


@router.patch(
    "/{order_id}",
    operation_id="orders.update",
    summary="Change an order's email or shipping address",
    description=described(
        change_order_details,
        "Send the `ETag` you read in `If-Match`: without it the answer is 428, and when the "
        f"order has changed since, 412 (read it again and reapply your change). {_KEY_NOTE}",
    ),
    response_model=OrderResource,
    responses={**_ORDER_ANSWER, **problem_responses(401, 403, 404, 409, 412, 413, 422, 428)},
)
async def change_order_route(
    *,
    order_id: str,
    body: OrderDetailsBody,
    resources: Resources,
    ctx: WriteContext,
    if_match: IfMatch = None,
) -> Response:
    if if_match is None:
        return dry_run_marked(precondition_required(ctx.request_id), ctx)
    change = body.to_domain(order_id, expected_version(if_match))
    result = await change_order_details(resources.dependencies, ctx, change)
    return answer_change(result, ctx, OrderResource.document, if_match=if_match)


def _step(order_id: str, if_match: str | None) -> OrderStep:
    return OrderStep(order_id, optional_version(if_match))


_STEP_RESPONSES = {**_ORDER_ANSWER, **problem_responses(401, 403, 404, 409, 412, 422)}
_STEP_NOTES = (
    "Send `If-Match` with the order's `ETag` to change only that version (412 otherwise); "
    f"`Idempotency-Key` is optional. {_KEY_NOTE}"
)

type _StepUseCase = Callable[[Dependencies, Context, OrderStep], Awaitable[Idempotent[Order, Any]]]


def _add_step(name: str, use_case: _StepUseCase, summary: str) -> None:
    @router.post(
        f"/{{order_id}}/{name}",
        operation_id=f"orders.{name}",
        summary=summary,
        description=described(use_case, _STEP_NOTES),
        response_model=OrderResource,
        responses=_STEP_RESPONSES,
        name=f"{name}_order",
    )
    async def step_route(
        *, order_id: str, resources: Resources, ctx: WriteContext, if_match: IfMatch = None
    ) -> Response:
        result = await use_case(resources.dependencies, ctx, _step(order_id, if_match))
        return answer_change(result, ctx, OrderResource.document, if_match=if_match)


_add_step("deliver", deliver_order, "Mark an order delivered")


@router.post(
    "/{order_id}/ship",
    operation_id="orders.ship",
    summary="Ship everything an order has left to ship",
    description=described(
        ship_order,
        "The body (the shipment's `carrier`, `tracking_number` and optional `tracking_url`) "
        f"is optional. To ship some units only, `POST .../shipments`. {_STEP_NOTES}",
    ),
    response_model=OrderResource,
    responses=_STEP_RESPONSES,
    name="ship_order",
)
async def ship_order_route(
    *,
    order_id: str,
    resources: Resources,
    ctx: WriteContext,
    body: TrackingBody | None = None,
    if_match: IfMatch = None,
) -> Response:
    tracking = None if body is None else body.tracking()
    step = _step(order_id, if_match)
    result = await ship_order(resources.dependencies, ctx, step, tracking)
    return answer_change(result, ctx, OrderResource.document, if_match=if_match)


@router.post(
    "/{order_id}/cancel",
    operation_id="orders.cancel",
    summary="Cancel an order",
    description=described(cancel_order, f"The body (a `reason`) is optional. {_STEP_NOTES}"),
    response_model=OrderResource,
    responses=_STEP_RESPONSES,
)
async def cancel_order_route(
    *,
    order_id: str,
    resources: Resources,
    ctx: WriteContext,
    body: CancelBody | None = None,
    if_match: IfMatch = None,
) -> Response:
    reason = body.reason if body is not None else "cancelled"
    result = await cancel_order(resources.dependencies, ctx, _step(order_id, if_match), reason)
    return answer_change(result, ctx, OrderResource.document, if_match=if_match)
