"""The payment settings every Orderly process reads, and the provider they name.

:class:`PaymentSettings` is a mixin: each process's settings class (the API's, the worker's,
the CLI's) adds it beside the shared infrastructure settings, and the process builds its
provider once with :func:`provider_from_settings`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderly_core.payments.ports import PaymentProvider
from orderly_payments.manual import ManualProvider

DEFAULT_INSTRUCTIONS = (
    "Pay by bank transfer, quoting your order id as the reference. Your order is confirmed "
    "once the money has arrived."
)


class PaymentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    payment_provider: Literal["manual"] = Field(
        default="manual",
        description="Who takes the shop's payments: `manual` (bank transfer or cash on "
        "delivery, recorded by staff)",
    )
    manual_payment_instructions: str = Field(
        default=DEFAULT_INSTRUCTIONS,
        min_length=1,
        max_length=2000,
        description="What a customer who starts a payment is told to do (manual provider)",
    )


def provider_from_settings(settings: PaymentSettings) -> PaymentProvider:
    """The payment provider the settings name."""
    return ManualProvider(settings.manual_payment_instructions)
