"""How payments and refunds are shown (API, CLI, events, audit), and what an order's payments
add up to.

A view never holds a client secret, a card detail or a provider key: what the provider hands
a customer's client to pay with is answered once, by the request that asked for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from typing import Any

from orderly_core.payments.model import Payment, PaymentStatus, Refund, RefundStatus

# Refunds that hold money back from what an order may still refund.
_HOLDING = (RefundStatus.PENDING, RefundStatus.SUCCEEDED)


def payment_view(payment: Payment) -> dict[str, Any]:
    """The public representation of a payment."""
    return {
        "id": str(payment.id),
        "order_id": str(payment.order_id),
        "provider": payment.provider,
        "provider_reference": payment.provider_reference,
        "status": payment.status.value,
        "amount": payment.amount.amount,
        "currency": payment.amount.currency,
        "failure_reason": payment.failure_reason,
        "version": payment.version,
        "created_at": payment.created_at.astimezone(UTC),
        "updated_at": payment.updated_at.astimezone(UTC),
    }


def refund_view(refund: Refund) -> dict[str, Any]:
    """The public representation of a refund."""
    return {
        "id": str(refund.id),
        "payment_id": str(refund.payment_id),
        "order_id": str(refund.order_id),
        "status": refund.status.value,
        "amount": refund.amount.amount,
        "currency": refund.amount.currency,
        "reason": refund.reason,
        "return_id": None if refund.return_id is None else str(refund.return_id),
        "provider_reference": refund.provider_reference,
        "failure_reason": refund.failure_reason,
        "version": refund.version,
        "created_at": refund.created_at.astimezone(UTC),
        "updated_at": refund.updated_at.astimezone(UTC),
    }


def succeeded_amount(payments: Iterable[Payment]) -> int:
    """What an order's payments took, in minor units."""
    return sum(p.amount.amount for p in payments if p.status is PaymentStatus.SUCCEEDED)


def refunded_amount(refunds: Iterable[Refund], payment: Payment | None = None) -> int:
    """What refunds gave back or are giving back (pending ones count), of one payment or of
    all."""
    return sum(
        r.amount.amount
        for r in refunds
        if r.status in _HOLDING and (payment is None or r.payment_id == payment.id)
    )
