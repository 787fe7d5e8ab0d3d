"""The manual payment provider: bank transfer or cash on delivery.

No money moves through Orderly: a customer who starts a payment is shown the shop's
instructions (``MANUAL_PAYMENT_INSTRUCTIONS``), and staff record the money when it arrives
(``POST /api/v1/orders/{id}/pay``, ``orderly orders pay``). A refund is money staff gave back
by hand, so it succeeds at once. Nothing is cancelled at a provider, and no provider posts
events: every notification is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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

MANUAL = "manual"


class ManualProvider:
    def __init__(self, instructions: str) -> None:
        self._instructions = instructions

    @property
    def name(self) -> str:
        return MANUAL

    @property
    def settles_by_event(self) -> bool:
        return False

    async def start(self, request: PaymentRequest) -> StartedPayment | ProviderError:  # noqa: ARG002
        return StartedPayment(None, self._instructions)

    async def resume(self, reference: str) -> StartedPayment | ProviderError:  # noqa: ARG002
        return StartedPayment(None, self._instructions)

    async def cancel(self, reference: str) -> ProviderError | None:  # noqa: ARG002
        return None

    async def refund(self, request: RefundRequest) -> ProviderRefund | ProviderError:  # noqa: ARG002
        return ProviderRefund(None, ProviderRefundStatus.SUCCEEDED)

    def verify(
        self,
        notification: InboundNotification,  # noqa: ARG002
        now: datetime,  # noqa: ARG002
    ) -> ProviderEvent | NotificationRefused:
        return NotificationRefused("the manual provider sends no notifications")

    async def payments_since(
        self,
        since: datetime,  # noqa: ARG002
    ) -> Sequence[ProviderPaymentState] | ProviderError:
        return []
