"""``POST /api/v1/payments/stripe/events``: the URL a shop registers in Stripe for its events.

Stripe calls it, not a user: there is no bearer token, no ``Idempotency-Key`` and no rate
limit. What proves an event is Stripe's is its ``Stripe-Signature``, checked by the provider
against ``STRIPE_WEBHOOK_SECRET`` over the body exactly as received (so the body is read raw,
never parsed first, and capped at :data:`MAX_EVENT_BYTES`). A redelivered event is answered
200 and changes nothing: each event's id is kept with its effect. The body (it carries the
PaymentIntent's client secret) is never logged or stored.
"""

from __future__ import annotations

from typing import Final

from fastapi import Request
from starlette.responses import Response

from orderly_core.payments.events import provider_actor, receive_provider_event
from orderly_core.payments.ports import InboundNotification
from orderly_core.shared.context import Context
from orderly_http.answers import answer, described
from orderly_http.container import Resources
from orderly_http.context import request_id_of
from orderly_http.payment_schemas import ProviderEventReceiptResource
from orderly_http.problems import problem_responses
from orderly_http.routing import Router

STRIPE: Final = "stripe"
STRIPE_EVENTS_PATH: Final = "/api/v1/payments/stripe/events"
SIGNATURE_HEADER: Final = "Stripe-Signature"
# Stripe's events are a few kilobytes; a larger body is refused (413) before it is read whole.
MAX_EVENT_BYTES: Final = 256 * 1024

router = Router(tags=["payments"])

_NOTES = (
    "Called by Stripe, not by clients: register this URL in Stripe (Developers → Webhooks) "
    "with the events `payment_intent.succeeded` and `payment_intent.payment_failed`, and set "
    "its signing secret as `STRIPE_WEBHOOK_SECRET`. No bearer token: the `Stripe-Signature` "
    "header, checked over the raw body with a 5-minute tolerance, proves the event; a missing, "
    "forged or stale signature, or a body that is not a Stripe event, is 400 "
    "`notification_refused` and changes nothing. Answers 200 with the outcome for every "
    "verified event, applied, redelivered (`duplicate`) or of no interest (`ignored`). A body "
    f"over {MAX_EVENT_BYTES // 1024} KiB is 413. With `PAYMENT_PROVIDER` other than `stripe` "
    "every request is 404 `payment_provider_not_in_use`."
)

_OPENAPI_EXTRA: Final = {
    "parameters": [
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "description": "Stripe's signature of the body: `t=<unix time>,v1=<hex HMAC-SHA256>`",
            "schema": {"type": "string", "maxLength": 4096},
        }
    ],
    "requestBody": {
        "required": True,
        "description": "A Stripe event, exactly as Stripe sent it",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "title": "StripeEvent",
                    "description": "Stripe's event object (`id`, `type`, `data.object`...)",
                }
            }
        },
    },
}


@router.post(
    STRIPE_EVENTS_PATH,
    operation_id="payments.receive_stripe_event",
    summary="Receive a Stripe event",
    description=described(receive_provider_event, _NOTES),
    response_model=ProviderEventReceiptResource,
    responses=problem_responses(400, 404, 413),
    openapi_extra=_OPENAPI_EXTRA,
)
async def receive_stripe_event_route(request: Request, resources: Resources) -> Response:
    ctx = Context(provider_actor(STRIPE), request_id_of(request.scope))
    notification = InboundNotification(
        payload=await request.body(), signature=request.headers.get(SIGNATURE_HEADER)
    )
    result = await receive_provider_event(
        resources.dependencies, ctx, notification, addressed_to=STRIPE
    )
    return answer(result, ctx, ProviderEventReceiptResource.document)
