"""The payment settings every Orderly process reads, and the provider they name.

:class:`PaymentSettings` is a mixin: each process's settings class (the API's, the worker's,
the CLI's) adds it beside the shared infrastructure settings, and the process opens its
provider once with :func:`open_provider` (or builds it with :func:`provider_from_settings`
and closes it with :func:`close_provider` at shutdown).

``PAYMENT_PROVIDER=stripe`` needs ``STRIPE_SECRET_KEY`` and ``STRIPE_WEBHOOK_SECRET``, in
every environment: a process configured without either refuses to start, naming it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderly_core.payments.ports import PaymentProvider
from orderly_payments.manual import ManualProvider

DEFAULT_INSTRUCTIONS = (
    "Pay by bank transfer, quoting your order id as the reference. Your order is confirmed "
    "once the money has arrived."
)
# What each Stripe secret looks like: a secret or restricted API key, and an endpoint's
# signing secret. A publishable key (pk_...) or a secret in the wrong variable is refused.
_SECRET_FORMS: Final = {
    "stripe_secret_key": (("sk_", "rk_"), "a secret or restricted API key (sk_... or rk_...)"),
    "stripe_webhook_secret": (("whsec_",), "an endpoint's signing secret (whsec_...)"),
}
_MAX_SECRET: Final = 500
STRIPE: Final = "stripe"
_PRINTABLE: Final = re.compile(r"[\x21-\x7e]+")  # no spaces, no control characters
# A base URL the SDK can be pointed at: scheme, host, optional port, optional path.
_API_BASE: Final = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")


class PaymentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    payment_provider: Literal["manual", "stripe"] = Field(
        default="manual",
        description="Who takes the shop's payments: `manual` (bank transfer or cash on "
        "delivery, recorded by staff) or `stripe` (cards, through Stripe)",
    )
    manual_payment_instructions: str = Field(
        default=DEFAULT_INSTRUCTIONS,
        min_length=1,
        max_length=2000,
        description="What a customer who starts a payment is told to do (manual provider)",
    )
    # The secrets are never shown: SecretStr renders as '**********'.
    stripe_secret_key: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="The Stripe account's secret (sk_...) or restricted (rk_...) API key; "
        "required when PAYMENT_PROVIDER=stripe",
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="The signing secret (whsec_...) of the endpoint registered in Stripe for "
        "/api/v1/payments/stripe/events; required when PAYMENT_PROVIDER=stripe",
    )
    stripe_api_base: str | None = Field(
        default=None,
        description="Where the Stripe SDK sends its requests instead of https://api.stripe.com "
        "(a local stand-in such as localstripe, for development and tests); unset: Stripe",
    )

    @field_validator("stripe_secret_key", "stripe_webhook_secret")
    @classmethod
    def _stripe_secret(cls, secret: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """Unset or empty: required with ``PAYMENT_PROVIDER=stripe``, ignored otherwise; set:
        one of Stripe's secrets of the right kind, whatever the provider."""
        name = info.field_name or ""
        text = secret.get_secret_value().strip() if secret is not None else ""
        if not text:
            if info.data.get("payment_provider") == STRIPE:
                raise ValueError("is required when PAYMENT_PROVIDER=stripe")
            return None
        prefixes, kind = _SECRET_FORMS[name]
        if len(text) > _MAX_SECRET or not _PRINTABLE.fullmatch(text):
            raise ValueError(f"must be {kind}: printable characters, no spaces")
        if not text.startswith(prefixes):
            raise ValueError(f"must be {kind}")  # never the value: it may be a secret
        return SecretStr(text)

    @field_validator("stripe_api_base")
    @classmethod
    def _api_base(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        url = url.strip().rstrip("/")
        if not _API_BASE.fullmatch(url):
            raise ValueError("must be an http:// or https:// URL such as http://127.0.0.1:8420")
        return url


def provider_from_settings(settings: PaymentSettings) -> PaymentProvider:
    """The payment provider the settings name (a Stripe provider holds HTTP connections:
    :func:`close_provider` closes them)."""
    if settings.payment_provider == STRIPE:
        # Imported here: Stripe's SDK takes a noticeable part of a second to import, which a
        # shop on the manual provider (and every CLI command it runs) need not wait for.
        from orderly_payments.stripe import StripeProvider

        secret_key, webhook_secret = settings.stripe_secret_key, settings.stripe_webhook_secret
        if secret_key is None or webhook_secret is None:  # pragma: no cover - the validators
            raise ValueError("PAYMENT_PROVIDER=stripe needs its keys")
        return StripeProvider(
            secret_key.get_secret_value(),
            webhook_secret.get_secret_value(),
            api_base=settings.stripe_api_base,
        )
    return ManualProvider(settings.manual_payment_instructions)


async def close_provider(provider: PaymentProvider) -> None:
    """Close what the provider holds open (Stripe's HTTP connections), at shutdown."""
    close = getattr(provider, "aclose", None)
    if close is not None:
        await close()


@asynccontextmanager
async def open_provider(settings: PaymentSettings) -> AsyncIterator[PaymentProvider]:
    """The provider the settings name, closed when the block ends."""
    provider = provider_from_settings(settings)
    try:
        yield provider
    finally:
        await close_provider(provider)
