"""The payments' domain errors. The provider's own refusals (:class:`ProviderUnavailable`,
:class:`ProviderRefused`, :class:`NotificationRefused`) are values of the port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class OrderNotPayable:
    """The order awaits no payment: it is paid already, shipped, cancelled, or expired."""

    order_id: str
    status: str  # the order's status, or "expired" for a placed order past its expiry
    code: ClassVar[str] = "order_not_payable"

    @property
    def detail(self) -> str:
        return f"Order {self.order_id} is {self.status}: it awaits no payment."


@dataclass(frozen=True, slots=True)
class PaymentExceedsDue:
    """A recorded payment larger than what the order still owes."""

    order_id: str
    amount: int
    due: int
    currency: str
    code: ClassVar[str] = "payment_exceeds_due"

    @property
    def detail(self) -> str:
        return (
            f"Order {self.order_id} owes {self.due} {self.currency} (minor units); "
            f"{self.amount} is more than that."
        )


@dataclass(frozen=True, slots=True)
class ManualPaymentRefused:
    """The shop takes payments through a provider whose events settle them (Stripe)."""

    provider: str
    code: ClassVar[str] = "manual_payment_refused"

    @property
    def detail(self) -> str:
        return (
            f"Payments go through {self.provider}: an order becomes paid only through a "
            "verified provider event, not by hand."
        )


@dataclass(frozen=True, slots=True)
class RefundExceedsRefundable:
    """A refund larger than what the order's payments took minus what was refunded (refunds
    still pending count)."""

    order_id: str
    amount: int
    refundable: int
    currency: str
    code: ClassVar[str] = "refund_exceeds_refundable"

    @property
    def detail(self) -> str:
        return (
            f"Order {self.order_id} has {self.refundable} {self.currency} (minor units) left "
            f"to refund; {self.amount} is more than that."
        )


@dataclass(frozen=True, slots=True)
class ProviderNotInUse:
    """A notification addressed to a payment provider the shop does not use (Stripe's events
    reaching a shop on the manual provider)."""

    provider: str
    code: ClassVar[str] = "payment_provider_not_in_use"

    @property
    def detail(self) -> str:
        return f"This shop does not take payments through {self.provider}."
