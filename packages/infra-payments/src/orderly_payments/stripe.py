"""Stripe, through its official SDK: a PaymentIntent per payment, refunds against it, and the
signed events Stripe posts to Orderly, verified with the SDK's own verifier.

The SDK speaks to Stripe (or to a local stand-in at ``api_base``) with its asynchronous HTTPX
client, so that a slow Stripe never ties up the event loop or a thread pool. Every request that
creates something carries an idempotency key derived from Orderly's, so a retried request
starts one PaymentIntent and makes one refund. The SDK retries a failed connection once
(Stripe's requests with idempotency keys are safe to repeat); what still fails comes back as
:class:`ProviderUnavailable` (worth trying again: no connection, a timeout, a rate limit, a
fault on Stripe's side, rejected credentials) or :class:`ProviderRefused` (for good: a declined
card, an invalid request, an unknown reference). No SDK exception leaves this module.

Nothing here logs, or puts in an error, the secret key, a client secret or card data: error
texts are masked, and the SDK's own debug lines (which carry request and response bodies) are
dropped before any handler sees them.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast

import stripe

from orderly_core.payments.ports import (
    InboundNotification,
    NotificationRefused,
    PaymentRequest,
    ProviderError,
    ProviderEvent,
    ProviderEventKind,
    ProviderPaymentState,
    ProviderRefund,
    ProviderRefundStatus,
    ProviderRefused,
    ProviderUnavailable,
    RefundRequest,
    StartedPayment,
)
from orderly_core.shared.money import MAX_MINOR_UNITS, Money, MoneyError, normalise_currency

PROVIDER_NAME: Final = "stripe"
SUCCEEDED_EVENT: Final = "payment_intent.succeeded"
FAILED_EVENT: Final = "payment_intent.payment_failed"
# The events a shop enables on the endpoint it registers in Stripe.
HANDLED_EVENTS: Final = (SUCCEEDED_EVENT, FAILED_EVENT)

# Stripe keeps idempotency keys of at most 255 characters.
_MAX_IDEMPOTENCY_KEY: Final = 255
# Where Stripe's unit for an amount differs from ISO 4217's minor unit, which Orderly uses
# (docs.stripe.com/currencies#special-cases): Stripe keeps two decimals for the Icelandic
# króna (ISO: none) and none for the Malagasy ariary (ISO: two). Orderly's amount times the
# first number, divided by the second, is Stripe's.
_STRIPE_SCALE: Final[Mapping[str, tuple[int, int]]] = {"ISK": (100, 1), "MGA": (1, 100)}
# The most a provider event's own fields may hold before they are cut (Orderly's columns).
_MAX_EVENT_ID: Final = 255
_MAX_EVENT_TYPE: Final = 64
_MAX_REFERENCE: Final = 255
_MAX_REASON: Final = 500
_PAGE_SIZE: Final = 100
_ALLOWED_TYPES: Final = "allowed_payment_method_types"

_log = logging.getLogger(__name__)

_SECRET_TEXT: Final = (
    re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9_*]+"),  # API keys (Stripe masks most)
    re.compile(r"_secret_[A-Za-z0-9]+"),  # client secrets: pi_..._secret_...
    re.compile(r"whsec_[A-Za-z0-9+/=_-]*"),  # webhook signing secrets
)
_SIGNATURE_TIMESTAMP: Final = re.compile(r"(?:^|,)\s*t=(\d{1,12})\s*(?:,|$)")


class _NoBodies(logging.Filter):
    """Drops the SDK's debug lines: they quote request and response bodies, and a
    PaymentIntent's body carries its client secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


def _quiet_sdk_bodies() -> None:
    sdk_log = logging.getLogger("stripe")
    if not any(isinstance(f, _NoBodies) for f in sdk_log.filters):
        sdk_log.addFilter(_NoBodies())


class StripeProvider:
    """The Stripe payment provider (:class:`orderly_core.payments.ports.PaymentProvider`).

    ``secret_key`` is the account's secret API key, ``webhook_secret`` the signing secret of
    the endpoint registered for Orderly's event URL; ``api_base`` points the SDK at a Stripe
    stand-in (localstripe) instead of api.stripe.com; ``tolerance_s`` is how far an event's
    signed timestamp may be from now; ``timeout_s`` bounds each HTTP request to Stripe.
    """

    def __init__(
        self,
        secret_key: str,
        webhook_secret: str,
        *,
        api_base: str | None = None,
        tolerance_s: int = 300,
        timeout_s: float = 10.0,
        network_retries: int = 1,
    ) -> None:
        if not secret_key or not webhook_secret:
            raise ValueError("Stripe needs a secret key and a webhook signing secret")
        self._secrets = (secret_key, webhook_secret)
        self._webhook_secret = webhook_secret
        self._tolerance_s = tolerance_s
        self._closed = False
        self._http = stripe.HTTPXClient(timeout=timeout_s)
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            http_client=self._http,
            max_network_retries=network_retries,
        )
        _quiet_sdk_bodies()

    def __repr__(self) -> str:  # never the keys
        return "StripeProvider()"

    @property
    def name(self) -> str:
        return PROVIDER_NAME

    @property
    def settles_by_event(self) -> bool:
        return True

    async def aclose(self) -> None:
        """Close the HTTP connections to Stripe (at the end of the process)."""
        await self._http.close_async()  # type: ignore[no-untyped-call]
        self._closed = True

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` closed the provider's connections."""
        return self._closed

    # --- payments ---------------------------------------------------------------------------

    async def start(self, request: PaymentRequest) -> StartedPayment | ProviderError:
        """A PaymentIntent for cards only (a card payment settles at once, before the order
        could expire), with Orderly's order and payment ids in its metadata."""
        amount = _to_stripe_amount(request.amount)
        if amount is None:
            return ProviderRefused(f"Stripe cannot charge {request.amount.currency} this amount")
        params: stripe.params.PaymentIntentCreateParams = {
            "amount": amount,
            "currency": request.amount.currency.lower(),
            "allowed_payment_method_types": ["card"],
            "metadata": {
                "order_id": str(request.order_id),
                "payment_id": str(request.payment_id),
            },
        }
        options: stripe.RequestOptions = {
            "idempotency_key": stripe_idempotency_key(request.idempotency_key)
        }
        create = self._client.v1.payment_intents.create_async
        try:
            try:
                intent = await create(params=params, options=options)
            except stripe.InvalidRequestError as error:
                if _ALLOWED_TYPES not in str(error.user_message or ""):
                    raise
                # API versions before 2026-10-28 (and localstripe) name the list
                # `payment_method_types`; Stripe keeps no result of a refused request, so the
                # same idempotency key serves the second form.
                legacy = {k: v for k, v in params.items() if k != _ALLOWED_TYPES}
                legacy["payment_method_types"] = ["card"]
                intent = await create(params=cast("Any", legacy), options=options)
        except stripe.StripeError as error:
            return self._failed("start a payment", error)
        return StartedPayment(reference=intent.id, client_action=intent.client_secret)

    async def resume(self, reference: str) -> StartedPayment | ProviderError:
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(reference)
        except stripe.StripeError as error:
            return self._failed("read a payment", error)
        return StartedPayment(reference=intent.id, client_action=intent.client_secret)

    async def cancel(self, reference: str) -> ProviderError | None:
        """Cancel a PaymentIntent. One already cancelled is not an error; one that already
        succeeded cannot be cancelled (refused: its money is refunded instead); one still
        processing is worth trying again (it settles within moments)."""
        try:
            await self._client.v1.payment_intents.cancel_async(reference)
        except stripe.InvalidRequestError as error:
            return await self._cancel_refused(reference, error)
        except stripe.StripeError as error:
            return self._failed("cancel a payment", error)
        return None

    async def _cancel_refused(
        self, reference: str, error: stripe.InvalidRequestError
    ) -> ProviderError | None:
        """Stripe refuses to cancel a PaymentIntent in a final state: which one is it?"""
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(reference)
        except stripe.StripeError:
            return self._failed("cancel a payment", error)
        match intent.status:
            case "canceled":
                return None
            case "succeeded":
                return ProviderRefused("the payment already succeeded; refund it instead")
            case "processing":
                return ProviderUnavailable("the payment is being processed; try again later")
            case _:
                return self._failed("cancel a payment", error)

    async def refund(self, request: RefundRequest) -> ProviderRefund | ProviderError:
        if request.payment_reference is None:
            return ProviderRefused("the payment has no Stripe PaymentIntent to refund")
        amount = _to_stripe_amount(request.amount)
        if amount is None:
            return ProviderRefused(f"Stripe cannot refund {request.amount.currency} this amount")
        try:
            refund = await self._client.v1.refunds.create_async(
                params={
                    "payment_intent": request.payment_reference,
                    "amount": amount,
                    "metadata": {"refund_id": str(request.refund_id)},
                },
                options={"idempotency_key": stripe_idempotency_key(request.idempotency_key)},
            )
        except stripe.StripeError as error:
            return self._failed("refund a payment", error)
        return _provider_refund(refund)

    async def payments_since(
        self, since: datetime
    ) -> Sequence[ProviderPaymentState] | ProviderError:
        """The PaymentIntents created at or after ``since``, every page of them.

        Stripe filters by creation time itself; a stand-in that refuses the filter
        (localstripe does) is asked for everything, and the filter is applied here."""
        params: stripe.params.PaymentIntentListParams = {
            "created": {"gte": int(since.timestamp())},
            "limit": _PAGE_SIZE,
        }
        states: list[ProviderPaymentState] = []
        try:
            try:
                page = await self._client.v1.payment_intents.list_async(params=params)
            except stripe.InvalidRequestError as error:
                if "created" not in str(error.user_message or ""):
                    raise
                page = await self._client.v1.payment_intents.list_async(
                    params={"limit": _PAGE_SIZE}
                )
            async for intent in page.auto_paging_iter():
                state = _payment_state(intent.to_dict())
                if state is None:
                    _log.warning("Stripe listed a PaymentIntent Orderly cannot read: %s", intent.id)
                elif state.created_at >= since:
                    states.append(state)
        except stripe.StripeError as error:
            return self._failed("list payments", error)
        return states

    # --- inbound events ---------------------------------------------------------------------

    def verify(
        self, notification: InboundNotification, now: datetime
    ) -> ProviderEvent | NotificationRefused:
        """The event a notification Stripe posted carries, checked with the SDK's verifier
        against the webhook signing secret; its signed timestamp must also lie within the
        tolerance of ``now``, in either direction. Never raises."""
        signature = notification.signature
        if signature is None or not signature.strip():
            return NotificationRefused("the Stripe-Signature header is missing")
        try:
            event = stripe.Webhook.construct_event(
                notification.payload, signature, self._webhook_secret, self._tolerance_s
            )
        except stripe.SignatureVerificationError:
            return NotificationRefused("the Stripe signature does not match, or is too old")
        except (ValueError, TypeError, AttributeError, RecursionError):
            # ValueError covers a body that is not UTF-8 or not JSON.
            return NotificationRefused("the body is not a Stripe event")
        signed_at = _signed_at(signature)
        if signed_at is None or abs(now.timestamp() - signed_at) > self._tolerance_s:
            return NotificationRefused("the Stripe signature's timestamp is not recent")
        try:
            body = event.to_dict()
        except (ValueError, TypeError, AttributeError, RecursionError):
            return NotificationRefused("the body is not a Stripe event")
        return _provider_event(body)

    # --- errors -----------------------------------------------------------------------------

    def _failed(self, action: str, error: stripe.StripeError) -> ProviderError:
        reason = self._masked(_describe(error))
        failure = _classify(error, reason)
        _log.warning("Stripe could not %s: %s", action, reason)
        return failure

    def _masked(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        for pattern in _SECRET_TEXT:
            text = pattern.sub("***", text)
        return text


# --- helpers, free of the SDK's objects where they can be ------------------------------------


def stripe_idempotency_key(key: str) -> str:
    """The key Stripe is given for Orderly's: the same one when Stripe can keep it (printable
    ASCII, at most 255 characters), else a digest of it, so that the same key always gives
    the same key."""
    if 0 < len(key) <= _MAX_IDEMPOTENCY_KEY and key.isascii() and key.isprintable():
        return key
    return "orderly-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _to_stripe_amount(money: Money) -> int | None:
    multiply, divide = _STRIPE_SCALE.get(money.currency, (1, 1))
    if money.amount <= 0 or money.amount % divide:
        return None
    return money.amount * multiply // divide


def _from_stripe_amount(amount: object, currency: object) -> Money | None:
    """Orderly's money for an amount and currency Stripe sent, or ``None`` if they are not
    an amount in a known currency."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not isinstance(currency, str):
        return None
    try:
        code = normalise_currency(currency)
    except MoneyError:
        return None
    multiply, divide = _STRIPE_SCALE.get(code, (1, 1))
    if amount < 0 or amount % multiply:
        return None
    minor = amount * divide // multiply
    return Money(minor, code) if minor <= MAX_MINOR_UNITS else None


def _describe(error: stripe.StripeError) -> str:
    kind = type(error).__name__
    code = f" ({error.code})" if isinstance(error.code, str) and error.code else ""
    message = error.user_message if isinstance(error.user_message, str) else ""
    if not message:
        message = f"HTTP {error.http_status}" if error.http_status else "no answer"
    return f"{kind}{code}: {message}"[:_MAX_REASON]


def _classify(error: stripe.StripeError, reason: str) -> ProviderError:
    """Refused for good, or worth trying again."""
    if isinstance(error, stripe.CardError | stripe.InvalidRequestError | stripe.IdempotencyError):
        return ProviderRefused(reason)
    if isinstance(
        error,
        stripe.APIConnectionError
        | stripe.RateLimitError
        | stripe.AuthenticationError
        | stripe.PermissionError,
    ):
        # Rejected credentials are the operator's to fix; a retry then succeeds.
        return ProviderUnavailable(reason)
    status = error.http_status
    if status is not None and 400 <= status < 500 and status not in (408, 409, 429):
        return ProviderRefused(reason)
    return ProviderUnavailable(reason)


def _provider_refund(refund: stripe.Refund) -> ProviderRefund:
    status = refund.status
    if status == "succeeded":
        return ProviderRefund(refund.id, ProviderRefundStatus.SUCCEEDED)
    if status in ("failed", "canceled"):
        failure = getattr(refund, "failure_reason", None)
        return ProviderRefund(
            refund.id,
            ProviderRefundStatus.FAILED,
            failure_reason=str(failure)[:_MAX_REASON] if failure else f"the refund {status}",
        )
    return ProviderRefund(refund.id, ProviderRefundStatus.PENDING)  # pending, requires_action


def _signed_at(signature: str) -> int | None:
    match = _SIGNATURE_TIMESTAMP.search(signature)
    return int(match.group(1)) if match else None


def _text(value: object, limit: int) -> str | None:
    """A non-empty string Stripe sent, cut to ``limit`` characters; ``None`` otherwise."""
    if not isinstance(value, str) or not value:
        return None
    return value[:limit]


def _uuid(value: object) -> uuid.UUID | None:
    """Orderly's id from Stripe's metadata, if it is one (in its canonical spelling)."""
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    return parsed if str(parsed) == value.lower() else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _provider_event(body: Mapping[str, Any]) -> ProviderEvent | NotificationRefused:
    """Orderly's words for a verified Stripe event. Fields that cannot be read are ``None``:
    a success whose amount cannot be read never matches a payment."""
    event_id = _text(body.get("id"), _MAX_EVENT_ID + 1)
    type_ = _text(body.get("type"), _MAX_EVENT_TYPE)
    if event_id is None or len(event_id) > _MAX_EVENT_ID or type_ is None:
        return NotificationRefused("the body is not a Stripe event")
    kind = {
        SUCCEEDED_EVENT: ProviderEventKind.PAYMENT_SUCCEEDED,
        FAILED_EVENT: ProviderEventKind.PAYMENT_FAILED,
    }.get(type_, ProviderEventKind.OTHER)
    intent = _mapping(_mapping(body.get("data")).get("object"))
    if intent.get("object") != "payment_intent":
        return ProviderEvent(event_id=event_id, type=type_, kind=kind)
    metadata = _mapping(intent.get("metadata"))
    received = intent.get("amount_received")
    succeeded = kind is ProviderEventKind.PAYMENT_SUCCEEDED
    if not succeeded or isinstance(received, bool) or not isinstance(received, int) or not received:
        received = intent.get("amount")
    failure = None
    if kind is ProviderEventKind.PAYMENT_FAILED:
        failure = _text(_mapping(intent.get("last_payment_error")).get("message"), _MAX_REASON)
        failure = failure or "the payment failed"
    return ProviderEvent(
        event_id=event_id,
        type=type_,
        kind=kind,
        reference=_text(intent.get("id"), _MAX_REFERENCE),
        amount=_from_stripe_amount(received, intent.get("currency")),
        payment_id=_uuid(metadata.get("payment_id")),
        order_id=_uuid(metadata.get("order_id")),
        failure_reason=failure,
    )


def _payment_state(intent: Mapping[str, Any]) -> ProviderPaymentState | None:
    """A listed PaymentIntent, or ``None`` if it cannot be read."""
    reference = _text(intent.get("id"), _MAX_REFERENCE)
    created = intent.get("created")
    succeeded = intent.get("status") == "succeeded"
    received = intent.get("amount_received") if succeeded else None
    amount = _from_stripe_amount(
        received if isinstance(received, int) and received else intent.get("amount"),
        intent.get("currency"),
    )
    if reference is None or amount is None or isinstance(created, bool):
        return None
    if not isinstance(created, int) or not 0 <= created < 253402300800:  # before year 10000
        return None
    metadata = _mapping(intent.get("metadata"))
    return ProviderPaymentState(
        reference=reference,
        amount=amount,
        succeeded=succeeded,
        created_at=datetime.fromtimestamp(created, UTC),
        payment_id=_uuid(metadata.get("payment_id")),
        order_id=_uuid(metadata.get("order_id")),
    )
