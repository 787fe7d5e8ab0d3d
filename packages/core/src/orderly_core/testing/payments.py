"""In-memory fakes of the payments' repositories, and :class:`FakePaymentProvider`, a payment
provider whose every answer a test scripts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from orderly_core.orders.model import Order, OrderStatus
from orderly_core.payments.model import Payment, PaymentStatus, Refund, RefundStatus
from orderly_core.payments.ports import (
    InboundNotification,
    NotificationRefused,
    PaymentRequest,
    ProviderError,
    ProviderEvent,
    ProviderPaymentState,
    ProviderRefund,
    ProviderRefundStatus,
    RefundRequest,
    StartedPayment,
)


class InMemoryPayments:
    def __init__(self, rows: dict[uuid.UUID, Payment], orders: dict[uuid.UUID, Order]) -> None:
        self._rows = rows
        self._orders = orders

    async def add(self, payment: Payment) -> None:
        self._rows[payment.id] = payment

    async def get(self, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment | None:  # noqa: ARG002
        return self._rows.get(payment_id)

    async def by_reference(
        self,
        provider: str,
        reference: str,
        *,
        for_update: bool = False,  # noqa: ARG002
    ) -> Payment | None:
        found = [
            p
            for p in self._rows.values()
            if p.provider == provider and p.provider_reference == reference
        ]
        return min(found, key=lambda p: (p.created_at, p.id)) if found else None

    async def of_order(self, order_id: uuid.UUID, *, for_update: bool = False) -> list[Payment]:  # noqa: ARG002
        mine = (p for p in self._rows.values() if p.order_id == order_id)
        return sorted(mine, key=lambda p: (p.created_at, p.id))

    async def save(self, payment: Payment) -> None:
        self._rows[payment.id] = payment

    async def cancels_due(self, now: datetime, limit: int) -> list[Payment]:
        def ended(payment: Payment) -> bool:
            order = self._orders.get(payment.order_id)
            return order is not None and order.status is OrderStatus.CANCELLED

        due = [
            p
            for p in self._rows.values()
            if p.status is PaymentStatus.PENDING
            and (p.cancel_due or ended(p))
            and (p.retry_at is None or p.retry_at <= now)
        ]
        return sorted(due, key=lambda p: (p.created_at, p.id))[:limit]


class InMemoryRefunds:
    def __init__(self, rows: dict[uuid.UUID, Refund]) -> None:
        self._rows = rows

    async def add(self, refund: Refund) -> None:
        self._rows[refund.id] = refund

    async def get(self, refund_id: uuid.UUID, *, for_update: bool = False) -> Refund | None:  # noqa: ARG002
        return self._rows.get(refund_id)

    async def of_order(self, order_id: uuid.UUID) -> list[Refund]:
        mine = (r for r in self._rows.values() if r.order_id == order_id)
        return sorted(mine, key=lambda r: (r.created_at, r.id))

    async def save(self, refund: Refund) -> None:
        self._rows[refund.id] = refund

    async def due(self, now: datetime, limit: int) -> list[Refund]:
        due = [
            r
            for r in self._rows.values()
            if r.status is RefundStatus.PENDING and (r.retry_at is None or r.retry_at <= now)
        ]
        return sorted(due, key=lambda r: (r.created_at, r.id))[:limit]


class InMemoryProviderEvents:
    def __init__(self, rows: dict[tuple[str, str], tuple[str, str, datetime]]) -> None:
        self._rows = rows

    async def add(
        self, provider: str, event_id: str, type_: str, outcome: str, at: datetime
    ) -> bool:
        if (provider, event_id) in self._rows:
            return False
        self._rows[provider, event_id] = (type_, outcome, at)
        return True


SIGNATURE = "fake-signature"  # what FakePaymentProvider accepts as a notification's signature


@dataclass
class FakePaymentProvider:
    """A payment provider for tests: it answers what the test set, and remembers what it
    was asked.

    ``start`` answers ``start_answer`` (by default a reference ``pi_<n>`` and the client
    action ``secret_<n>``); ``refund_answer``, ``cancel_answer`` and ``payments`` likewise.
    Events to deliver are made with :meth:`notification`, which :meth:`verify` accepts
    (with :data:`SIGNATURE`); anything else is refused."""

    name: str = "fake"
    settles_by_event: bool = True
    start_answer: StartedPayment | ProviderError | None = None
    resume_answer: StartedPayment | ProviderError | None = None
    cancel_answer: ProviderError | None = None
    refund_answer: ProviderRefund | ProviderError | None = None
    payments: Sequence[ProviderPaymentState] | ProviderError = ()
    started: list[PaymentRequest] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    refunds: list[RefundRequest] = field(default_factory=list)
    _events: dict[bytes, ProviderEvent] = field(default_factory=dict)

    async def start(self, request: PaymentRequest) -> StartedPayment | ProviderError:
        self.started.append(request)
        if self.start_answer is not None:
            return self.start_answer
        keys = [r.idempotency_key for r in self.started]
        number = keys.index(request.idempotency_key) + 1  # the same key, the same payment
        return StartedPayment(f"pi_{number}", f"secret_{number}")

    async def resume(self, reference: str) -> StartedPayment | ProviderError:
        self.resumed.append(reference)
        if self.resume_answer is not None:
            return self.resume_answer
        return StartedPayment(reference, f"secret_{reference.removeprefix('pi_')}")

    async def cancel(self, reference: str) -> ProviderError | None:
        self.cancelled.append(reference)
        return self.cancel_answer

    async def refund(self, request: RefundRequest) -> ProviderRefund | ProviderError:
        self.refunds.append(request)
        if self.refund_answer is not None:
            return self.refund_answer
        return ProviderRefund(f"re_{len(self.refunds)}", ProviderRefundStatus.SUCCEEDED)

    def notification(
        self, event: ProviderEvent, *, signature: str = SIGNATURE
    ) -> InboundNotification:
        """The notification that carries ``event``, as the provider would post it."""
        payload = f"event:{event.event_id}:{len(self._events)}".encode()
        self._events[payload] = event
        return InboundNotification(payload, signature)

    def verify(
        self,
        notification: InboundNotification,
        now: datetime,  # noqa: ARG002
    ) -> ProviderEvent | NotificationRefused:
        if notification.signature != SIGNATURE:
            return NotificationRefused("the signature does not match")
        event = self._events.get(notification.payload)
        return event if event is not None else NotificationRefused("not an event of ours")

    async def payments_since(
        self,
        since: datetime,
    ) -> Sequence[ProviderPaymentState] | ProviderError:
        if not isinstance(self.payments, Sequence):
            return self.payments
        return [p for p in self.payments if p.created_at >= since]
