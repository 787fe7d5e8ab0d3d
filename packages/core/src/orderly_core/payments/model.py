"""Payments and refunds, as frozen values.

A :class:`Payment` is money asked of a provider for one order; the order is paid when its
succeeded payments cover its total, in its currency. A :class:`Refund` gives back part or all
of one succeeded payment; what an order may still refund is what its payments took minus what
its refunds gave back or are giving back (pending ones count).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from orderly_core.shared.money import Money


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"  # asked of the provider, not settled
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RefundStatus(enum.StrEnum):
    PENDING = "pending"  # recorded, not yet confirmed by the provider
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Payment:
    id: uuid.UUID
    order_id: uuid.UUID
    provider: str  # "manual", "stripe"
    provider_reference: str | None  # the provider's id (a PaymentIntent), or a manual reference
    amount: Money
    status: PaymentStatus
    created_by: str  # the actor who started or recorded it
    created_at: datetime
    updated_at: datetime
    version: int
    failure_reason: str | None = None
    cancel_due: bool = False  # pending while its order ended: still to cancel at the provider
    attempts: int = 0  # provider calls tried for a follow-up (cancelling)
    retry_at: datetime | None = None  # when the next follow-up attempt is due


@dataclass(frozen=True, slots=True)
class Refund:
    id: uuid.UUID
    payment_id: uuid.UUID
    order_id: uuid.UUID
    amount: Money
    reason: str
    status: RefundStatus
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int
    provider_reference: str | None = None
    failure_reason: str | None = None
    attempts: int = 0  # provider calls tried
    retry_at: datetime | None = None  # when a pending refund is next tried at the provider
    return_id: uuid.UUID | None = None  # the return it gives money back for, if any
