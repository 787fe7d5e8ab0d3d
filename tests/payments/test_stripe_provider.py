"""The Stripe provider through Stripe's own SDK, against localstripe: payments paid as a
storefront pays them, the signed events localstripe posts, refunds, cancellations,
reconciliation's listing, and Stripe out of reach or at fault (a real HTTP peer on
127.0.0.1 answering as Stripe does when it fails)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from orderly_core.payments.ports import (
    InboundNotification,
    NotificationRefused,
    PaymentRequest,
    ProviderEvent,
    ProviderEventKind,
    ProviderRefundStatus,
    ProviderRefused,
    ProviderUnavailable,
    RefundRequest,
    StartedPayment,
)
from orderly_core.shared.money import Money
from orderly_payments.stripe import StripeProvider, stripe_idempotency_key
from tests.payments_fixtures import (
    CARD_DECLINED,
    SECRET_KEY,
    WEBHOOK_SECRET,
    LocalStripe,
    QuietServer,
    StripeEventReceiver,
    free_port,
)

EUR_12_34 = Money(1234, "EUR")


def _request(amount: Money = EUR_12_34, key: str | None = None) -> PaymentRequest:
    return PaymentRequest(
        payment_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        amount=amount,
        idempotency_key=key or f"pay-{uuid.uuid4()}",
    )


def _refund(reference: str | None, amount: Money) -> RefundRequest:
    return RefundRequest(
        refund_id=uuid.uuid4(),
        payment_reference=reference,
        amount=amount,
        reason="damaged in transit",
        idempotency_key=f"refund-{uuid.uuid4()}",
    )


async def _started(provider: StripeProvider, request: PaymentRequest) -> StartedPayment:
    started = await provider.start(request)
    assert isinstance(started, StartedPayment), started
    return started


def _reference(started: StartedPayment) -> str:
    assert started.reference is not None
    return started.reference


def _sign(payload: bytes, secret: str = WEBHOOK_SECRET, at: float | None = None) -> str:
    timestamp = int(time.time() if at is None else at)
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _event_payload(type_: str, subject: dict[str, Any]) -> bytes:
    return json.dumps(
        {"id": f"evt_{uuid.uuid4().hex[:14]}", "object": "event", "type": type_,
         "created": int(time.time()), "data": {"object": subject}}
    ).encode()  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC)


# --- a payment, paid as a storefront pays it ------------------------------------------------


async def test_a_card_payment_ends_in_a_verified_success_event(
    localstripe: LocalStripe, stripe_provider: StripeProvider, stripe_events: StripeEventReceiver
) -> None:
    request = _request()
    started = await _started(stripe_provider, request)
    reference = _reference(started)
    assert reference.startswith("pi_")
    assert started.client_action is not None
    assert started.client_action.startswith(f"{reference}_secret_")
    intent = localstripe.storefront.intent(reference)
    assert (intent.amount, intent.currency) == (1234, "eur")
    assert intent.metadata.to_dict() == {
        "order_id": str(request.order_id),
        "payment_id": str(request.payment_id),
    }

    assert await localstripe.storefront.pay(reference) == "succeeded"
    delivery = await stripe_events.wait_for("payment_intent.succeeded", reference)
    event = stripe_provider.verify(
        InboundNotification(delivery.payload, delivery.signature), _now()
    )

    assert event == ProviderEvent(
        event_id=delivery.body["id"],
        type="payment_intent.succeeded",
        kind=ProviderEventKind.PAYMENT_SUCCEEDED,
        reference=reference,
        amount=EUR_12_34,
        payment_id=request.payment_id,
        order_id=request.order_id,
    )
    assert event.event_id.startswith("evt_")


async def test_a_declined_card_ends_in_a_verified_failure_event(
    localstripe: LocalStripe, stripe_provider: StripeProvider, stripe_events: StripeEventReceiver
) -> None:
    request = _request(Money(990, "USD"))
    reference = _reference(await _started(stripe_provider, request))

    assert await localstripe.storefront.pay(reference, CARD_DECLINED) == "declined"
    delivery = await stripe_events.wait_for("payment_intent.payment_failed", reference)
    event = stripe_provider.verify(
        InboundNotification(delivery.payload, delivery.signature), _now()
    )

    assert isinstance(event, ProviderEvent)
    assert event.kind is ProviderEventKind.PAYMENT_FAILED
    assert (event.reference, event.amount) == (reference, Money(990, "USD"))
    assert (event.payment_id, event.order_id) == (request.payment_id, request.order_id)
    assert event.failure_reason == "Your card was declined."
    assert localstripe.storefront.intent(reference).status == "requires_payment_method"


async def test_resuming_a_payment_gives_the_same_client_secret(
    stripe_provider: StripeProvider,
) -> None:
    started = await _started(stripe_provider, _request())
    assert await stripe_provider.resume(_reference(started)) == started
    unknown = await stripe_provider.resume("pi_doesnotexist000")
    assert isinstance(unknown, ProviderRefused)


async def test_amounts_are_given_in_stripes_unit_where_it_differs_from_iso(
    localstripe: LocalStripe, stripe_provider: StripeProvider
) -> None:
    yen = _reference(await _started(stripe_provider, _request(Money(500, "JPY"))))
    krona = _reference(await _started(stripe_provider, _request(Money(500, "ISK"))))
    ariary = _reference(await _started(stripe_provider, _request(Money(150_000, "MGA"))))
    amounts = {
        ref: (
            localstripe.storefront.intent(ref).amount,
            localstripe.storefront.intent(ref).currency,
        )
        for ref in (yen, krona, ariary)
    }
    assert amounts == {yen: (500, "jpy"), krona: (50_000, "isk"), ariary: (1_500, "mga")}
    # A fraction of an ariary, and nothing at all, cannot be charged: refused without asking.
    for amount in (Money(150_050, "MGA"), Money(0, "EUR")):
        assert isinstance(await stripe_provider.start(_request(amount)), ProviderRefused)


# --- inbound events: what is refused, and what is read defensively ---------------------------


async def test_a_notification_that_is_not_a_verified_recent_stripe_event_is_refused(
    localstripe: LocalStripe, stripe_provider: StripeProvider, stripe_events: StripeEventReceiver
) -> None:
    reference = _reference(await _started(stripe_provider, _request()))
    await localstripe.storefront.pay(reference)
    delivery = await stripe_events.wait_for("payment_intent.succeeded", reference)
    payload, signed_at = delivery.payload, int(delivery.signature.split(",")[0][2:])  # type: ignore[union-attr]
    tampered = payload.replace(b'"amount": 1234', b'"amount": 1')
    assert tampered != payload

    refused = {
        "missing header": InboundNotification(payload, None),
        "empty header": InboundNotification(payload, ""),
        "garbage header": InboundNotification(payload, "\x00nonsense, t=,v1=zz"),
        "forged": InboundNotification(payload, _sign(payload, "whsec_somebodyelse")),
        "tampered body": InboundNotification(tampered, delivery.signature),
        "stale": InboundNotification(payload, _sign(payload, at=time.time() - 301)),
        "from the future": InboundNotification(payload, _sign(payload, at=time.time() + 301)),
        "not json": InboundNotification(b"<html>hi</html>", _sign(b"<html>hi</html>")),
        "not utf-8": InboundNotification(b"\xff\xfe{}", _sign(b"\xff\xfe{}")),
        "a json array": InboundNotification(b"[1, 2]", _sign(b"[1, 2]")),
        "a json string": InboundNotification(b'"evt"', _sign(b'"evt"')),
        "no id": InboundNotification(b'{"type": "x"}', _sign(b'{"type": "x"}')),
        "deep nesting": InboundNotification(b"[" * 100_000, _sign(b"[" * 100_000)),
    }
    for case, notification in refused.items():
        outcome = stripe_provider.verify(notification, _now())
        assert isinstance(outcome, NotificationRefused), case

    # The genuine delivery, checked by a clock too far from its signed time, is refused too.
    late = datetime.fromtimestamp(signed_at + 301, UTC)
    genuine = InboundNotification(payload, delivery.signature)
    assert isinstance(stripe_provider.verify(genuine, late), NotificationRefused)
    assert isinstance(stripe_provider.verify(genuine, _now()), ProviderEvent)


def test_events_orderly_does_not_act_on_are_other(stripe_provider: StripeProvider) -> None:
    charge = _event_payload("charge.succeeded", {"object": "charge", "id": "ch_1", "amount": 5})
    canceled = _event_payload(
        "payment_intent.canceled",
        {"object": "payment_intent", "id": "pi_1", "amount": 700, "currency": "eur"},
    )
    long_type = _event_payload("x" * 500, {})

    for payload in (charge, canceled, long_type):
        event = stripe_provider.verify(InboundNotification(payload, _sign(payload)), _now())
        assert isinstance(event, ProviderEvent)
        assert event.kind is ProviderEventKind.OTHER
        assert len(event.type) <= 64
    event = stripe_provider.verify(InboundNotification(canceled, _sign(canceled)), _now())
    assert isinstance(event, ProviderEvent)
    assert (event.reference, event.amount) == ("pi_1", Money(700, "EUR"))


def test_a_verified_event_is_read_defensively(stripe_provider: StripeProvider) -> None:
    """Whatever a verified event's fields hold, they become typed values or ``None``."""
    order_id = uuid.uuid4()
    odd_intents: list[tuple[dict[str, Any], Money | None]] = [
        ({"amount": 1234, "amount_received": 1200, "currency": "eur"}, Money(1200, "EUR")),
        ({"amount": 1234, "amount_received": 0, "currency": "eur"}, Money(1234, "EUR")),
        ({"amount": 1234, "currency": "EUR"}, Money(1234, "EUR")),
        ({"amount": "1234", "currency": "eur"}, None),
        ({"amount": True, "currency": "eur"}, None),
        ({"amount": -5, "currency": "eur"}, None),
        ({"amount": 10**30, "currency": "eur"}, None),
        ({"amount": 1234, "currency": "xx\x00"}, None),
        ({"amount": 1234, "currency": 978}, None),
        ({"amount": 1234}, None),
        ({"amount": 1250, "currency": "isk"}, None),  # a fraction of a krona
        ({"amount": 1200, "currency": "isk"}, Money(12, "ISK")),
    ]
    for fields, amount in odd_intents:
        subject = {
            "object": "payment_intent",
            "id": "pi_odd",
            "metadata": {"order_id": str(order_id), "payment_id": "\x00not-a-uuid"},
            **fields,
        }
        payload = _event_payload("payment_intent.succeeded", subject)
        event = stripe_provider.verify(InboundNotification(payload, _sign(payload)), _now())
        assert isinstance(event, ProviderEvent), fields
        assert event.kind is ProviderEventKind.PAYMENT_SUCCEEDED
        assert (event.amount, event.order_id, event.payment_id) == (amount, order_id, None), fields

    metadata: object
    for metadata in (None, [], "x", {"order_id": 5}, {"order_id": "{" + str(order_id) + "}"}):
        payload = _event_payload(
            "payment_intent.payment_failed",
            {"object": "payment_intent", "id": "pi_odd", "metadata": metadata,
             "last_payment_error": "not a mapping"},
        )  # fmt: skip
        event = stripe_provider.verify(InboundNotification(payload, _sign(payload)), _now())
        assert isinstance(event, ProviderEvent), metadata
        assert (event.order_id, event.payment_id) == (None, None)
        assert event.failure_reason == "the payment failed"

    subject_not_mapping = _event_payload("payment_intent.succeeded", "pi_1")  # type: ignore[arg-type]
    event = stripe_provider.verify(
        InboundNotification(subject_not_mapping, _sign(subject_not_mapping)), _now()
    )
    assert isinstance(event, ProviderEvent)
    assert (event.kind, event.reference, event.amount) == (
        ProviderEventKind.PAYMENT_SUCCEEDED,
        None,
        None,
    )


# --- refunds and cancellations ---------------------------------------------------------------


async def test_partial_then_full_refunds(
    localstripe: LocalStripe, stripe_provider: StripeProvider
) -> None:
    reference = _reference(await _started(stripe_provider, _request()))
    await localstripe.storefront.pay(reference)

    partial = await stripe_provider.refund(_refund(reference, Money(500, "EUR")))
    rest = await stripe_provider.refund(_refund(reference, Money(734, "EUR")))

    for refund in (partial, rest):
        assert not isinstance(refund, ProviderRefused | ProviderUnavailable), refund
        assert refund.status is ProviderRefundStatus.SUCCEEDED
        assert refund.reference is not None
        assert refund.reference.startswith("re_")
    assert not isinstance(partial, ProviderRefused | ProviderUnavailable)
    assert not isinstance(rest, ProviderRefused | ProviderUnavailable)
    assert partial.reference != rest.reference


async def test_a_refund_stripe_cannot_make_is_refused(
    stripe_provider: StripeProvider,
) -> None:
    unpaid = _reference(await _started(stripe_provider, _request()))
    for request in (
        _refund(None, Money(100, "EUR")),
        _refund(unpaid, Money(100, "EUR")),
        _refund("pi_doesnotexist000", Money(100, "EUR")),
        _refund(unpaid, Money(0, "EUR")),
    ):
        assert isinstance(await stripe_provider.refund(request), ProviderRefused), request


async def test_cancelling_a_pending_payment_twice_and_a_paid_one(
    localstripe: LocalStripe, stripe_provider: StripeProvider
) -> None:
    pending = _reference(await _started(stripe_provider, _request()))
    paid = _reference(await _started(stripe_provider, _request()))
    await localstripe.storefront.pay(paid)

    assert await stripe_provider.cancel(pending) is None
    assert localstripe.storefront.intent(pending).status == "canceled"
    assert await stripe_provider.cancel(pending) is None  # already cancelled: done
    refused = await stripe_provider.cancel(paid)
    assert isinstance(refused, ProviderRefused)
    assert "succeeded" in refused.reason
    assert localstripe.storefront.intent(paid).status == "succeeded"
    assert isinstance(await stripe_provider.cancel("pi_doesnotexist000"), ProviderRefused)


# --- reconciliation's listing ----------------------------------------------------------------


async def test_payments_since_lists_every_page_of_payments_created_since(
    localstripe: LocalStripe, stripe_provider: StripeProvider
) -> None:
    before = _now() - timedelta(seconds=2)
    requests = [_request(Money(100 + n, "EUR")) for n in range(105)]
    references = [_reference(await _started(stripe_provider, r)) for r in requests]
    await localstripe.storefront.pay(references[0])

    listed = await stripe_provider.payments_since(before)

    assert not isinstance(listed, ProviderRefused | ProviderUnavailable)
    by_reference = {state.reference: state for state in listed}
    assert sorted(by_reference) == sorted(references)
    first = by_reference[references[0]]
    assert (first.amount, first.succeeded) == (Money(100, "EUR"), True)
    assert (first.payment_id, first.order_id) == (requests[0].payment_id, requests[0].order_id)
    assert not by_reference[references[1]].succeeded
    assert all(before <= state.created_at <= _now() for state in listed)
    assert await stripe_provider.payments_since(_now() + timedelta(hours=1)) == []


# --- what Stripe is sent: a real HTTP peer in front of localstripe, or standing in for it ------


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: str


class StripePeer:
    """An HTTP server on 127.0.0.1 that records each request, then forwards it to
    ``upstream`` and returns its answer, or answers ``status`` and ``body`` itself (after
    ``delay`` seconds)."""

    def __init__(
        self,
        upstream: str | None = None,
        status: int = 200,
        body: bytes = b"{}",
        delay: float = 0,
    ) -> None:
        self.seen: list[Seen] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length)
                peer.seen.append(
                    Seen(self.command, self.path, dict(self.headers.items()), payload.decode())
                )
                answer_status, answer = status, body
                if upstream is not None:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
                    forwarded = httpx.request(
                        self.command, upstream + self.path, headers=headers, content=payload
                    )
                    answer_status, answer = forwarded.status_code, forwarded.content
                time.sleep(delay)
                self.send_response(answer_status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def recording_peer(localstripe: LocalStripe) -> Iterator[StripePeer]:
    peer = StripePeer(upstream=localstripe.url)
    yield peer
    peer.close()


async def test_stripe_is_given_an_idempotency_key_derived_from_orderlys(
    localstripe: LocalStripe, recording_peer: StripePeer
) -> None:
    """localstripe ignores Idempotency-Key (the same key twice makes two PaymentIntents
    there), so what is checked is what Stripe is sent: the key of each request that
    creates something, the same for the same key, and at most 255 characters."""
    provider = StripeProvider(SECRET_KEY, WEBHOOK_SECRET, api_base=recording_peer.url)
    try:
        reference = _reference(await _started(provider, _request(key="order-key-1")))
        await localstripe.storefront.pay(reference)
        await provider.refund(_refund(reference, Money(100, "EUR")))
        long_key = "k" * 300
        await _started(provider, _request(key=long_key))
    finally:
        await provider.aclose()

    posts = [seen for seen in recording_peer.seen if seen.method == "POST"]
    keys = [seen.headers.get("Idempotency-Key") for seen in posts]
    assert [seen.path for seen in posts] == [
        "/v1/payment_intents",
        "/v1/payment_intents",  # localstripe names the card list as API versions before 2026
        "/v1/refunds",
        "/v1/payment_intents",
        "/v1/payment_intents",
    ]
    assert keys[:2] == ["order-key-1", "order-key-1"]
    assert keys[2] is not None
    assert keys[2].startswith("refund-")
    assert keys[3] == keys[4] == stripe_idempotency_key(long_key)
    assert "allowed_payment_method_types" in posts[0].body
    assert "&payment_method_types[0]=card" in posts[1].body
    assert "metadata[refund_id]=" in posts[2].body


def test_idempotency_keys_stripe_cannot_keep_become_a_digest() -> None:
    assert stripe_idempotency_key("abc-123") == "abc-123"
    assert stripe_idempotency_key("k" * 255) == "k" * 255
    for odd in ("k" * 256, "ключ", "a\x00b", ""):
        key = stripe_idempotency_key(odd)
        assert key == stripe_idempotency_key(odd)
        assert key.startswith("orderly-")
        assert len(key) <= 255
    assert stripe_idempotency_key("k" * 256) != stripe_idempotency_key("k" * 257)


async def test_reconciliation_asks_stripe_to_filter_by_creation_time(
    recording_peer: StripePeer, stripe_provider: StripeProvider
) -> None:
    provider = StripeProvider(SECRET_KEY, WEBHOOK_SECRET, api_base=recording_peer.url)
    since = datetime(2026, 3, 1, tzinfo=UTC)
    try:
        assert await provider.payments_since(since) == []
    finally:
        await provider.aclose()
    gets = [seen.path for seen in recording_peer.seen if seen.method == "GET"]
    assert gets[0] == f"/v1/payment_intents?created[gte]={int(since.timestamp())}&limit=100"
    assert gets[1] == "/v1/payment_intents?limit=100"  # localstripe refuses the filter


def _stripe_error(type_: str, message: str, code: str | None = None) -> bytes:
    return json.dumps({"error": {"type": type_, "message": message, "code": code}}).encode()


_UNAVAILABLE, _REFUSED = ProviderUnavailable, ProviderRefused
_FAILURES: list[tuple[int, bytes, type[ProviderUnavailable | ProviderRefused]]] = [
    (500, _stripe_error("api_error", "Something went wrong"), _UNAVAILABLE),
    (502, b"<html>Bad gateway</html>", _UNAVAILABLE),
    (429, _stripe_error("invalid_request_error", "Too many", "rate_limit"), _UNAVAILABLE),
    (409, _stripe_error("idempotency_error", "in use", "idempotency_key_in_use"), _UNAVAILABLE),
    (401, _stripe_error("invalid_request_error", f"Invalid API Key: {SECRET_KEY}"), _UNAVAILABLE),
    (402, _stripe_error("card_error", "Your card was declined.", "card_declined"), _REFUSED),
    (400, _stripe_error("invalid_request_error", "Amount too small", "amount_too_small"), _REFUSED),
    (400, _stripe_error("idempotency_error", "Keys for idempotent requests"), _REFUSED),
    (404, _stripe_error("invalid_request_error", "No such intent", "resource_missing"), _REFUSED),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "expected"), _FAILURES)
async def test_stripe_failing_is_a_typed_error_never_an_exception(
    status: int, body: bytes, expected: type[ProviderUnavailable | ProviderRefused]
) -> None:
    peer = StripePeer(status=status, body=body)
    provider = StripeProvider(SECRET_KEY, WEBHOOK_SECRET, api_base=peer.url, network_retries=0)
    try:
        outcomes = [
            await provider.start(_request()),
            await provider.resume("pi_1"),
            await provider.refund(_refund("pi_1", Money(100, "EUR"))),
            await provider.payments_since(_now()),
        ]
    finally:
        await provider.aclose()
        peer.close()
    for outcome in outcomes:
        assert isinstance(outcome, expected), outcome
        assert SECRET_KEY not in outcome.reason


async def test_stripe_out_of_reach_or_silent_is_unavailable() -> None:
    closed = StripeProvider(
        SECRET_KEY, WEBHOOK_SECRET, api_base=f"http://127.0.0.1:{free_port()}", network_retries=0
    )
    silent_peer = StripePeer(delay=2)
    silent = StripeProvider(
        SECRET_KEY, WEBHOOK_SECRET, api_base=silent_peer.url, timeout_s=0.3, network_retries=0
    )
    try:
        for provider in (closed, silent):
            outcomes = [
                await provider.start(_request()),
                await provider.resume("pi_1"),
                await provider.cancel("pi_1"),
                await provider.refund(_refund("pi_1", Money(100, "EUR"))),
                await provider.payments_since(_now()),
            ]
            assert all(isinstance(o, ProviderUnavailable) for o in outcomes), outcomes
    finally:
        await closed.aclose()
        await silent.aclose()
        silent_peer.close()


async def test_no_secret_reaches_a_log_line(
    localstripe: LocalStripe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = localstripe.provider()
    try:
        started = await _started(provider, _request())
        await provider.resume(_reference(started))
        await provider.cancel(_reference(started))
        await provider.cancel(_reference(started))
    finally:
        await provider.aclose()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert started.client_action is not None
    assert started.client_action not in logged
    assert "_secret_" not in logged
    assert SECRET_KEY not in logged
    assert "Request to Stripe api" in logged  # the SDK's own lines still come through


def test_the_provider_needs_both_keys_and_never_shows_them() -> None:
    with pytest.raises(ValueError, match="secret key"):
        StripeProvider("", WEBHOOK_SECRET)
    with pytest.raises(ValueError, match="secret key"):
        StripeProvider(SECRET_KEY, "")
    provider = StripeProvider(SECRET_KEY, WEBHOOK_SECRET)
    assert (provider.name, provider.settles_by_event) == ("stripe", True)
    assert SECRET_KEY not in repr(provider)
    assert WEBHOOK_SECRET not in repr(provider)
