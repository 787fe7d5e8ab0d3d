"""``/api/v1/orders/{id}/shipments``, ``/api/v1/shipments/{id}`` and
``/api/v1/orders/{id}/cancellations``: shipping an order's units with tracking, delivering
shipments, and cancelling what remains to ship of a paid order.

Staff and admins ship, deliver and cancel; a customer reads the shipments of their own orders,
with their tracking (anyone else's order, or its shipment, is 404). Who may do what, and every
quantity rule, is the core's decision. Creating a shipment and cancelling units require an
``Idempotency-Key`` (a retry must never ship twice or refund twice); delivering accepts one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header
from pydantic.json_schema import SkipJsonSchema
from starlette.responses import Response

from orderly_core.shipments.model import Shipment
from orderly_core.shipments.steps import cancel_remainder
from orderly_core.shipments.use_cases import (
    ShipmentStep,
    create_shipment,
    deliver_shipment,
    get_shipment,
    list_shipments,
)
from orderly_http import limits
from orderly_http.answers import (
    REQUIRED_KEY_NOTE,
    IdempotencyKey,
    answer,
    answer_change,
    described,
    idempotency_key_missing,
    optional_version,
    version_of,
)
from orderly_http.container import Resources
from orderly_http.context import RequestContext, WriteContext
from orderly_http.problems import problem_responses
from orderly_http.routing import Router
from orderly_http.shipment_schemas import (
    CancellationResource,
    NewShipmentBody,
    RemainderCancellationBody,
    ShipmentListResource,
    ShipmentResource,
)

router = Router(prefix="/api/v1", tags=["shipments"])

OrderIfMatch = Annotated[
    str | SkipJsonSchema[None],
    Header(
        description='The order\'s `ETag` (such as `"3"`): change only that version',
        json_schema_extra=limits.IF_MATCH,
    ),
]
ShipmentIfMatch = Annotated[
    str | SkipJsonSchema[None],
    Header(
        description='The shipment\'s `ETag` (such as `"1"`): change only that version',
        json_schema_extra=limits.IF_MATCH,
    ),
]


def _shipment_location(shipment: Shipment) -> str:
    return f"{router.prefix}/shipments/{shipment.id}"


@router.post(
    "/orders/{order_id}/shipments",
    operation_id="shipments.create",
    status_code=201,
    summary="Ship some of an order's units",
    description=described(
        create_shipment,
        f"{REQUIRED_KEY_NOTE} Answers 201 with the shipment, its `Location` and `ETag`. `If-Match` "
        "(optional) names the order's version: a stale copy gets 412.",
    ),
    response_model=ShipmentResource,
    responses={
        200: {"model": ShipmentResource, "description": "Dry run: the shipment it would make"},
        **problem_responses(400, 401, 403, 404, 409, 412, 422),
    },
)
async def create_shipment_route(
    *,
    order_id: str,
    body: NewShipmentBody,
    resources: Resources,
    ctx: WriteContext,
    idempotency_key: IdempotencyKey = None,
    if_match: OrderIfMatch = None,
) -> Response:
    del idempotency_key
    if (missing := idempotency_key_missing(ctx)) is not None:
        return missing
    new = body.to_domain(order_id, optional_version(if_match))
    result = await create_shipment(resources.dependencies, ctx, new)
    return answer(
        result,
        ctx,
        ShipmentResource.document,
        status=201,
        version=version_of,
        location=_shipment_location,
        conditional=if_match is not None,
    )


@router.get(
    "/orders/{order_id}/shipments",
    operation_id="shipments.list_for_order",
    summary="List an order's shipments",
    description=described(list_shipments),
    response_model=ShipmentListResource,
    responses=problem_responses(401, 404, 422),
)
async def list_shipments_route(
    *, order_id: str, resources: Resources, ctx: RequestContext
) -> Response:
    result = await list_shipments(resources.dependencies, ctx, order_id)
    return answer(result, ctx, ShipmentListResource.document)


@router.get(
    "/shipments/{shipment_id}",
    operation_id="shipments.get",
    summary="Get a shipment",
    description=described(get_shipment, "Answers the shipment with its `ETag`."),
    response_model=ShipmentResource,
    responses=problem_responses(401, 404, 422),
)
async def get_shipment_route(
    *, shipment_id: str, resources: Resources, ctx: RequestContext
) -> Response:
    result = await get_shipment(resources.dependencies, ctx, shipment_id)
    return answer(result, ctx, ShipmentResource.document, version=version_of)


@router.post(
    "/shipments/{shipment_id}/deliver",
    operation_id="shipments.deliver",
    summary="Mark a shipment delivered",
    description=described(
        deliver_shipment,
        "Send `If-Match` with the shipment's `ETag` to change only that version (412 "
        "otherwise); `Idempotency-Key` is optional.",
    ),
    response_model=ShipmentResource,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def deliver_shipment_route(
    *,
    shipment_id: str,
    resources: Resources,
    ctx: WriteContext,
    if_match: ShipmentIfMatch = None,
) -> Response:
    step = ShipmentStep(shipment_id, optional_version(if_match))
    result = await deliver_shipment(resources.dependencies, ctx, step)
    return answer_change(result, ctx, ShipmentResource.document, if_match=if_match)


@router.post(
    "/orders/{order_id}/cancellations",
    operation_id="orders.cancel_remainder",
    summary="Cancel what remains to ship of an order",
    description=described(
        cancel_remainder,
        "The body is optional (without `lines`, everything remaining). "
        f"{REQUIRED_KEY_NOTE} Answers 200 with the order and the refunds made. `If-Match` "
        "(optional) names the order's version: a stale copy gets 412.",
    ),
    response_model=CancellationResource,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 422),
)
async def cancel_remainder_route(
    *,
    order_id: str,
    resources: Resources,
    ctx: WriteContext,
    body: RemainderCancellationBody | None = None,
    idempotency_key: IdempotencyKey = None,
    if_match: OrderIfMatch = None,
) -> Response:
    del idempotency_key
    if (missing := idempotency_key_missing(ctx)) is not None:
        return missing
    body = body or RemainderCancellationBody()
    request = body.to_domain(order_id, optional_version(if_match))
    result = await cancel_remainder(resources.dependencies, ctx, request)
    return answer(
        result,
        ctx,
        CancellationResource.document,
        version=lambda cancellation: cancellation.order.version,
        conditional=if_match is not None,
    )
