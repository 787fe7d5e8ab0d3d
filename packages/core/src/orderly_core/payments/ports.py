"""What payments need outside the core: the payment provider, and where payments, refunds and
handled provider events are kept.

The provider port speaks Orderly's words only: amounts as :class:`Money`, references as
strings, inbound notifications as bytes and a signature string. An adapter (``orderly_payments``)
turns them into a provider's SDK calls; the core never sees an SDK object or an HTTP header.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Protocol

from orderly_core.orders.ports import OrdersUnit
from orderly_core.payments.model import Payment, Refund
from orderly_core.platform.ports import Services
from orderly_core.shared.money import Money

# --- the provider -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """Ask the provider for ``amount`` for one of Orderly's payments. The provider is given
    ``idempotency_key`` (derived from Orderly's own key): asking twice starts one payment."""

    payment_id: uuid.UUID
    order_id: uuid.UUID
    amount: Money
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class StartedPayment:
    """What the provider made of a payment request."""

    reference: str | None  # the provider's id for it (``None`` for manual payments)
    # What the customer's client needs to pay: Stripe's client secret, handed to Stripe.js,
    # or the manual provider's instructions. Never stored, logged, audited or announced.
    client_action: str | None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    refund_id: uuid.UUID
    payment_reference: str | None
    amount: Money
    reason: str
    idempotency_key: str


class ProviderRefundStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    PENDING = "pending"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    reference: str | None
    status: ProviderRefundStatus
    failure_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderUnavailable:
    """The provider could not be reached or answered with a fault: worth trying again."""

    reason: str
    code: ClassVar[str] = "payment_provider_unavailable"

    @property
    def detail(self) -> str:
        return f"The payment provider could not be reached: {self.reason}"


@dataclass(frozen=True, slots=True)
class ProviderRefused:
    """The provider refused the request for good (a bad amount, an unknown reference...)."""

    reason: str
    code: ClassVar[str] = "payment_provider_refused"

    @property
    def detail(self) -> str:
        return f"The payment provider refused: {self.reason}"


ProviderError = ProviderUnavailable | ProviderRefused


@dataclass(frozen=True, slots=True)
class InboundNotification:
    """A notification a provider posted to Orderly: its body as received, byte for byte, and
    its signature (for Stripe, the ``Stripe-Signature`` header's value), if it had one."""

    payload: bytes
    signature: str | None


class ProviderEventKind(enum.StrEnum):
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    OTHER = "other"  # a type Orderly does not act on: acknowledged and ignored


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A verified provider notification, in Orderly's words."""

    event_id: str  # the provider's, unique per provider
    type: str  # the provider's own name for it ("payment_intent.succeeded")
    kind: ProviderEventKind
    reference: str | None = None  # the provider's payment id it is about
    amount: Money | None = None  # what the provider says was paid (or attempted)
    payment_id: uuid.UUID | None = None  # Orderly's payment id, from the provider's metadata
    order_id: uuid.UUID | None = None  # Orderly's order id, from the provider's metadata
    failure_reason: str | None = None


@dataclass(frozen=True, slots=True)
class NotificationRefused:
    """An inbound notification that is not a verified provider event: no signature, a
    forged or stale one, or a body that is not the provider's."""

    reason: str
    code: ClassVar[str] = "notification_refused"

    @property
    def detail(self) -> str:
        return f"The notification was refused: {self.reason}"


@dataclass(frozen=True, slots=True)
class ProviderPaymentState:
    """A payment as the provider knows it, for reconciliation."""

    reference: str
    amount: Money
    succeeded: bool
    created_at: datetime
    payment_id: uuid.UUID | None  # Orderly's, from the provider's metadata
    order_id: uuid.UUID | None


class PaymentProvider(Protocol):
    """One payment provider, as Orderly uses it."""

    @property
    def name(self) -> str:
        """``manual`` or ``stripe``: what payments record as their provider."""
        ...

    @property
    def settles_by_event(self) -> bool:
        """Whether a payment succeeds only through a verified provider event (Stripe), or is
        recorded by staff (manual)."""
        ...

    async def start(self, request: PaymentRequest) -> StartedPayment | ProviderError: ...

    async def resume(self, reference: str) -> StartedPayment | ProviderError:
        """A started payment's client action again (its client secret), for a retried
        request: the client action is never stored."""
        ...

    async def cancel(self, reference: str) -> ProviderError | None:
        """Cancel a pending payment; cancelling one already cancelled is not an error."""
        ...

    async def refund(self, request: RefundRequest) -> ProviderRefund | ProviderError: ...

    def verify(
        self, notification: InboundNotification, now: datetime
    ) -> ProviderEvent | NotificationRefused:
        """The verified event ``notification`` carries, or why it is refused."""
        ...

    async def payments_since(
        self, since: datetime
    ) -> Sequence[ProviderPaymentState] | ProviderError:
        """The provider's payments created since ``since``, for reconciliation."""
        ...


# --- storage --------------------------------------------------------------------------------


class PaymentRepository(Protocol):
    async def add(self, payment: Payment) -> None: ...

    async def get(self, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment | None: ...

    async def by_reference(
        self, provider: str, reference: str, *, for_update: bool = False
    ) -> Payment | None: ...

    async def of_order(self, order_id: uuid.UUID, *, for_update: bool = False) -> list[Payment]:
        """The order's payments, oldest first."""
        ...

    async def save(self, payment: Payment) -> None:
        """Write everything of a locked payment but its id, order, provider and creation."""
        ...

    async def cancels_due(self, now: datetime, limit: int) -> list[Payment]:
        """Pending payments to cancel at their provider whose ``retry_at`` has passed (or is
        unset), oldest first: those marked ``cancel_due`` and those whose order was cancelled
        or expired (found by joining their order)."""
        ...


class RefundRepository(Protocol):
    async def add(self, refund: Refund) -> None: ...

    async def get(self, refund_id: uuid.UUID, *, for_update: bool = False) -> Refund | None: ...

    async def of_order(self, order_id: uuid.UUID) -> list[Refund]:
        """The order's refunds, oldest first."""
        ...

    async def save(self, refund: Refund) -> None: ...

    async def due(self, now: datetime, limit: int) -> list[Refund]:
        """Pending refunds whose ``retry_at`` has passed (or is unset), oldest first."""
        ...


class ProviderEventLog(Protocol):
    """The provider events already handled, each kept in the transaction of its effect."""

    async def add(
        self, provider: str, event_id: str, type_: str, outcome: str, at: datetime
    ) -> bool:
        """Record an event; ``False``, changing nothing, when it was recorded before."""
        ...


class PaymentsUnit(OrdersUnit, Protocol):
    """Payments move orders (to paid), so their unit of work holds the orders' repositories."""

    @property
    def payments(self) -> PaymentRepository: ...

    @property
    def refunds(self) -> RefundRepository: ...

    @property
    def provider_events(self) -> ProviderEventLog: ...


class PaymentsServices(Services[PaymentsUnit], Protocol):
    """What the payments' use cases reach: the orders' services (their units of work hold
    the payments' repositories too) and the payment provider."""

    @property
    def order_ttl(self) -> timedelta:
        """How long an unpaid order holds its stock (as :class:`OrdersServices` says)."""
        ...

    @property
    def payment_provider(self) -> PaymentProvider: ...
