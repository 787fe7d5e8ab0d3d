"""The JSON shapes of payments and refunds (see :mod:`orderly_http.schemas` for the
conventions).

A payment's resource never holds what the provider hands a customer's client to pay with;
only the answer to starting a payment adds it, once: ``client_secret`` (Stripe, for
Stripe.js) or ``instructions`` (the manual provider's).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orderly_core.payments.events import EventReceipt
from orderly_core.payments.manual import ManualPayment, PaymentRecorded
from orderly_core.payments.model import Payment, Refund
from orderly_core.payments.refunds import OrderRefund, Refunds
from orderly_core.payments.starting import PaymentStarted
from orderly_core.payments.views import payment_view, refund_view
from orderly_http import limits
from orderly_http.order_schemas import OrderResource
from orderly_http.schemas import RequestBody, WholeNumber

MANUAL = "manual"


class PaymentResource(BaseModel):
    """A payment of an order: money asked of the payment provider, or recorded by staff."""

    model_config = ConfigDict(title="Payment")

    id: str
    order_id: str
    provider: str = Field(description="`manual` or `stripe`", examples=["manual"])
    provider_reference: str | None = Field(
        description="The provider's id for it (a Stripe PaymentIntent), or the reference "
        "staff recorded; null until the provider gave one"
    )
    status: str = Field(
        description="pending, succeeded, failed or cancelled", examples=["succeeded"]
    )
    amount: int = Field(description="In minor units", examples=[2500])
    currency: str = Field(examples=["EUR"])
    failure_reason: str | None = Field(description="Why it failed, if it did")
    version: int = Field(description="Increases with every change")
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def document(payment: Payment) -> dict[str, Any]:
        return payment_view(payment)


class StartedPaymentResource(PaymentResource):
    """A payment just started, with what the customer's client needs to pay it. Neither
    member is ever shown again by a read: a retry of the same request gets them again."""

    model_config = ConfigDict(title="StartedPayment")

    client_secret: str | None = Field(
        description="Stripe: the PaymentIntent's client secret, for Stripe.js to confirm "
        "the payment in the customer's browser; null otherwise"
    )
    instructions: str | None = Field(
        description="Manual: how to pay (`MANUAL_PAYMENT_INSTRUCTIONS`); null otherwise"
    )

    @staticmethod
    def started(started: PaymentStarted) -> dict[str, Any]:
        manual = started.payment.provider == MANUAL
        action = started.client_action
        return payment_view(started.payment) | {
            "client_secret": None if manual else action,
            "instructions": action if manual else None,
        }


class PaymentListResource(BaseModel):
    """An order's payments, oldest first."""

    model_config = ConfigDict(title="PaymentList")

    items: list[PaymentResource]

    @staticmethod
    def document(payments: tuple[Payment, ...]) -> dict[str, Any]:
        return {"items": [payment_view(payment) for payment in payments]}


class RecordedPaymentResource(BaseModel):
    """A payment staff recorded, and its order afterwards (paid once covered)."""

    model_config = ConfigDict(title="RecordedPayment")

    payment: PaymentResource
    order: OrderResource

    @staticmethod
    def document(recorded: PaymentRecorded) -> dict[str, Any]:
        return {
            "payment": payment_view(recorded.payment),
            "order": OrderResource.document(recorded.order),
        }


class RefundResource(BaseModel):
    """Money given back from one payment of an order."""

    model_config = ConfigDict(title="Refund")

    id: str
    payment_id: str
    order_id: str
    status: str = Field(description="pending, succeeded or failed", examples=["succeeded"])
    amount: int = Field(description="In minor units", examples=[500])
    currency: str = Field(examples=["EUR"])
    reason: str
    return_id: str | None = Field(description="The return it gives money back for, if any")
    provider_reference: str | None = Field(description="The provider's id for it, if any")
    failure_reason: str | None = Field(description="Why it failed, if it did")
    version: int = Field(description="Increases with every change")
    created_at: datetime
    updated_at: datetime


class RefundListResource(BaseModel):
    """Refunds, oldest first (an order's), or those one request made (newest payment first)."""

    model_config = ConfigDict(title="RefundList")

    items: list[RefundResource]

    @staticmethod
    def document(refunds: tuple[Refund, ...]) -> dict[str, Any]:
        return {"items": [refund_view(refund) for refund in refunds]}

    @staticmethod
    def made(refunds: Refunds) -> dict[str, Any]:
        return RefundListResource.document(refunds.refunds)


class ManualPaymentBody(RequestBody):
    """Money that arrived for an order by hand (a bank transfer, cash on delivery)."""

    model_config = ConfigDict(title="ManualPayment")

    amount: WholeNumber = Field(
        description="Minor units, in the order's currency; at most what the order still owes",
        examples=[2500],
        json_schema_extra=limits.AMOUNT,
    )
    reference: str = Field(
        description="The transfer's reference, the receipt number... (1-255 characters)",
        examples=["SEPA 2031-04-02 #4471"],
        json_schema_extra=limits.PAYMENT_REFERENCE,
    )

    def to_domain(self, order_id: str) -> ManualPayment:
        return ManualPayment(order_id, self.amount, self.reference)


class RefundBody(RequestBody):
    """Money to give back from what an order's payments took."""

    model_config = ConfigDict(title="NewRefund")

    amount: WholeNumber = Field(
        description="Minor units; at most what was paid minus what was refunded (pending "
        "refunds count)",
        examples=[500],
        json_schema_extra=limits.AMOUNT,
    )
    reason: str = Field(
        description="Why (1-255 characters)",
        examples=["damaged in transit"],
        json_schema_extra=limits.REFUND_REASON,
    )

    def to_domain(self, order_id: str) -> OrderRefund:
        return OrderRefund(order_id, self.amount, self.reason)


class ProviderEventReceiptResource(BaseModel):
    """What Orderly made of an event the payment provider posted (for the provider's log of
    deliveries, and Orderly's)."""

    model_config = ConfigDict(title="ProviderEventReceipt")

    event_id: str = Field(description="The provider's id of the event", examples=["evt_1Q2w3E"])
    type: str = Field(
        description="The provider's name for it", examples=["payment_intent.succeeded"]
    )
    outcome: str = Field(
        description="succeeded, paid, orphaned, failed, mismatch, already_applied, ignored, "
        "unknown_payment, or duplicate (handled before: nothing changed)",
        examples=["paid"],
    )
    payment_id: str | None = Field(description="Orderly's payment it was about, if any")

    @staticmethod
    def document(receipt: EventReceipt) -> dict[str, Any]:
        return {
            "event_id": receipt.event_id,
            "type": receipt.type,
            "outcome": receipt.outcome.value,
            "payment_id": str(receipt.payment_id) if receipt.payment_id else None,
        }
