"""The payment provider of a process that configured none: it starts, cancels and refunds
nothing (the provider is unavailable) and verifies no notification. Payments recorded by hand
still work. Each process (the API, the worker, the CLI) puts the shop's provider in its
dependencies from its settings (``PAYMENT_PROVIDER``)."""

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
    ProviderUnavailable,
    RefundRequest,
    StartedPayment,
)

_NONE = ProviderUnavailable("no payment provider is configured")


class UnconfiguredProvider:
    @property
    def name(self) -> str:
        return "unconfigured"

    @property
    def settles_by_event(self) -> bool:
        return False

    async def start(self, request: PaymentRequest) -> StartedPayment | ProviderError:  # noqa: ARG002
        return _NONE

    async def resume(self, reference: str) -> StartedPayment | ProviderError:  # noqa: ARG002
        return _NONE

    async def cancel(self, reference: str) -> ProviderError | None:  # noqa: ARG002
        return _NONE

    async def refund(self, request: RefundRequest) -> ProviderRefund | ProviderError:  # noqa: ARG002
        return _NONE

    def verify(
        self,
        notification: InboundNotification,  # noqa: ARG002
        now: datetime,  # noqa: ARG002
    ) -> ProviderEvent | NotificationRefused:
        return NotificationRefused("no payment provider is configured")

    async def payments_since(
        self,
        since: datetime,  # noqa: ARG002
    ) -> Sequence[ProviderPaymentState] | ProviderError:
        return _NONE
