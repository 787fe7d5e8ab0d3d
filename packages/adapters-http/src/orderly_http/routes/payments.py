"""``/api/v1/orders/{id}/payments``, ``/pay`` and ``/refunds``: paying orders and giving money
back.

A customer starts paying their own order (``POST .../payments``) and reads its payments and
refunds; staff and admins do so for any order, record money that arrived by hand
(``POST .../pay``, manual provider only) and refund (``POST .../refunds``). Who may do what,
and every amount rule, is the core's decision. Every write here requires an
``Idempotency-Key``: a retry must never start, record or refund twice.
"""

from __future__ import annotations

from starlette.responses import Response

from orderly_core.payments.manual import record_manual_payment
from orderly_core.payments.reading import list_payments, list_refunds
from orderly_core.payments.refunds import refund_order
from orderly_core.payments.starting import PaymentStart, start_payment
from orderly_http.answers import (
    REQUIRED_KEY_NOTE,
    IdempotencyKey,
    answer,
    described,
    idempotency_key_missing,
)
from orderly_http.container import Resources
from orderly_http.context import RequestContext, WriteContext
from orderly_http.payment_schemas import (
    ManualPaymentBody,
    PaymentListResource,
    RecordedPaymentResource,
    RefundBody,
    RefundListResource,
    StartedPaymentResource,
)
from orderly_http.problems import problem_responses
from orderly_http.routing import Router

router = Router(prefix="/api/v1/orders", tags=["payments"])


@router.post(
    "/{order_id}/payments",
    operation_id="payments.start",
    status_code=201,
    summary="Start paying an order",
    description=described(
        start_payment,
        f"{REQUIRED_KEY_NOTE} Answers 201 with the payment and `client_secret` (Stripe) or "
        "`instructions` (manual). 503 `payment_provider_unavailable` (with `Retry-After`) "
        "when the provider cannot be reached: retry with the same key.",
    ),
    response_model=StartedPaymentResource,
    responses={
        200: {"model": StartedPaymentResource, "description": "Dry run: the payment it would be"},
        **problem_responses(400, 401, 404, 409, 422, 502, 503),
    },
)
async def start_payment_route(
    *,
    order_id: str,
    resources: Resources,
    ctx: WriteContext,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    del idempotency_key  # read into the context; declared here to document it
    if (missing := idempotency_key_missing(ctx)) is not None:
        return missing
    result = await start_payment(resources.dependencies, ctx, PaymentStart(order_id))
    return answer(result, ctx, StartedPaymentResource.started, status=201)


@router.get(
    "/{order_id}/payments",
    operation_id="payments.list",
    summary="List an order's payments",
    description=described(list_payments),
    response_model=PaymentListResource,
    responses=problem_responses(401, 404, 422),
)
async def list_payments_route(
    *, order_id: str, resources: Resources, ctx: RequestContext
) -> Response:
    result = await list_payments(resources.dependencies, ctx, order_id)
    return answer(result, ctx, PaymentListResource.document)


@router.post(
    "/{order_id}/pay",
    operation_id="payments.record",
    status_code=201,
    summary="Record a payment made by hand",
    description=described(
        record_manual_payment,
        f"{REQUIRED_KEY_NOTE} Answers 201 with the payment and the order.",
    ),
    response_model=RecordedPaymentResource,
    responses={
        200: {"model": RecordedPaymentResource, "description": "Dry run: what it would record"},
        **problem_responses(400, 401, 403, 404, 409, 422),
    },
)
async def record_payment_route(
    *,
    order_id: str,
    body: ManualPaymentBody,
    resources: Resources,
    ctx: WriteContext,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    del idempotency_key
    if (missing := idempotency_key_missing(ctx)) is not None:
        return missing
    result = await record_manual_payment(resources.dependencies, ctx, body.to_domain(order_id))
    return answer(result, ctx, RecordedPaymentResource.document, status=201)


@router.post(
    "/{order_id}/refunds",
    operation_id="refunds.create",
    status_code=201,
    summary="Refund an order",
    description=described(
        refund_order,
        f"{REQUIRED_KEY_NOTE} Answers 201 with the refunds made (`items`), as the provider left "
        "them; a dry run answers the refunds it would make.",
    ),
    response_model=RefundListResource,
    responses={
        200: {"model": RefundListResource, "description": "Dry run: the refunds it would make"},
        **problem_responses(400, 401, 403, 404, 409, 422),
    },
)
async def refund_order_route(
    *,
    order_id: str,
    body: RefundBody,
    resources: Resources,
    ctx: WriteContext,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    del idempotency_key
    if (missing := idempotency_key_missing(ctx)) is not None:
        return missing
    result = await refund_order(resources.dependencies, ctx, body.to_domain(order_id))
    return answer(result, ctx, RefundListResource.made, status=201)


@router.get(
    "/{order_id}/refunds",
    operation_id="refunds.list",
    summary="List an order's refunds",
    description=described(list_refunds),
    response_model=RefundListResource,
    responses=problem_responses(401, 404, 422),
)
async def list_refunds_route(
    *, order_id: str, resources: Resources, ctx: RequestContext
) -> Response:
    result = await list_refunds(resources.dependencies, ctx, order_id)
    return answer(result, ctx, RefundListResource.document)
