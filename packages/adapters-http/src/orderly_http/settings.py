"""The API process's settings: the shared infrastructure settings plus what only HTTP needs.

Read from the environment, then ``.env``; :func:`http_settings` validates them at start-up and
names any bad or missing variable.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from orderly_db.settings import InfraSettings, load_settings
from orderly_http.addresses import Network
from orderly_payments.settings import PaymentSettings

MIB = 1024 * 1024
JWT_SECRET_MIN = 32
# What a browser sends in ``Origin``: a scheme, a host and maybe a port; never a path.
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class HttpSettings(InfraSettings, PaymentSettings):
    docs_enabled: bool = Field(
        default=True, description="Serve the OpenAPI document at /openapi.json, /docs and /redoc"
    )
    metrics_enabled: bool = Field(
        default=True, description="Serve Prometheus metrics at /metrics (unauthenticated)"
    )
    ready_timeout_s: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="How long GET /ready waits for each of PostgreSQL and Redis to answer",
    )
    redis_timeout_s: float = Field(
        default=2.0, gt=0, le=30, description="Connect and read timeout of the Redis client"
    )
    # The empty default is parsed like the variable itself: no origin, so no CORS at all.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default="",
        validate_default=True,
        description="Browser origins allowed to call the API (CORS), comma-separated or a "
        "JSON list; empty: none",
    )
    hsts_enabled: bool = Field(
        default=False,
        description="Send Strict-Transport-Security: only when clients reach the API over TLS",
    )
    hsts_max_age_s: int = Field(
        default=31_536_000, ge=0, description="How long browsers keep to HTTPS (seconds)"
    )
    max_body_bytes: int = Field(
        default=MIB, ge=1, description="Largest request body accepted; larger ones get 413"
    )
    max_import_bytes: int = Field(
        default=20 * MIB, ge=1, description="Largest body accepted by a product import upload"
    )

    signup_max_per_address: int = Field(
        default=10,
        ge=1,
        description="Sign-ups (each costs an Argon2id hash) per client address within "
        "SIGNUP_WINDOW_S before 429",
    )
    signup_window_s: int = Field(
        default=3600, ge=1, le=86_400, description="Length of a sign-up limit window (s)"
    )
    password_reset_max_per_email: int = Field(
        default=3,
        ge=1,
        description="Password reset requests for one email within PASSWORD_RESET_WINDOW_S "
        "before 429 (each mails a link)",
    )
    password_reset_max_per_address: int = Field(
        default=10,
        ge=1,
        description="Password reset requests from one client address within "
        "PASSWORD_RESET_WINDOW_S before 429",
    )
    password_reset_window_s: int = Field(
        default=3600, ge=1, le=86_400, description="Length of a password reset limit window (s)"
    )
    verification_max_per_account: int = Field(
        default=5,
        ge=1,
        description="Verification links one account may ask for within PASSWORD_RESET_WINDOW_S "
        "before 429",
    )
    password_change_max_failures: int = Field(
        default=5,
        ge=1,
        description="Wrong current passwords per account within LOGIN_WINDOW_S before its "
        "password changes get 429",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origin_list(cls, raw: Any) -> Any:
        """``a,b`` or ``["a", "b"]``; every entry an exact origin (``*`` is no allow-list)."""
        if isinstance(raw, str):
            text = raw.strip()
            raw = json.loads(text) if text.startswith("[") else text.split(",")
        if not isinstance(raw, list | tuple):
            return raw
        origins = tuple(str(origin).strip().rstrip("/") for origin in raw if str(origin).strip())
        for origin in origins:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin such as https://shop.example.com or "
                    "http://localhost:3000 (scheme, host and optional port only)"
                )
        return origins

    # Authentication. The key is never shown: SecretStr renders as '**********'.
    jwt_secret: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="Key signing access tokens (HS256), at least 32 characters; required in "
        "production. In development a random key per process is used when unset.",
    )
    access_token_ttl_s: int = Field(
        default=900, ge=60, le=86_400, description="Lifetime of an access token (seconds)"
    )
    login_max_failures_per_account: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins to one account from one client address within a window "
        "before that address gets 429 for that account",
    )
    login_max_failures_per_address: int = Field(
        default=20, ge=1, description="Failed sign-ins per client address within a window"
    )
    login_slowdown_after_failures: int = Field(
        default=10,
        ge=1,
        description="Failed sign-ins to one account, from any address, within a window after "
        "which every sign-in to it waits a step-up delay (never a refusal)",
    )
    login_max_delay_s: float = Field(
        default=5.0, ge=0, le=30, description="Longest step-up delay of a sign-in (seconds)"
    )
    trusted_proxies: Annotated[tuple[Network, ...], NoDecode] = Field(
        default="",
        validate_default=True,
        description="Reverse proxies whose X-Forwarded-For the rate limits believe: IP "
        "addresses or networks (CIDR), comma-separated or a JSON list; empty: none",
    )
    login_window_s: int = Field(
        default=300, ge=1, le=86_400, description="Length of a sign-in rate-limit window (s)"
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, raw: Any) -> Any:
        """``10.0.0.5,10.1.0.0/16`` or a JSON list; every entry an address or a network."""
        if isinstance(raw, str):
            text = raw.strip()
            raw = json.loads(text) if text.startswith("[") else text.split(",")
        if not isinstance(raw, list | tuple):
            return raw
        proxies: list[Network] = []
        for entry in (str(item).strip() for item in raw):
            if not entry:
                continue
            try:
                proxies.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network such as 10.0.0.5 or 10.0.0.0/8"
                ) from None
        return tuple(proxies)

    @field_validator("jwt_secret")
    @classmethod
    def _strong_secret_in_production(
        cls, secret: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if secret is not None and not secret.get_secret_value():
            secret = None  # JWT_SECRET= (empty) means unset
        if secret is not None and len(secret.get_secret_value()) < JWT_SECRET_MIN:
            raise ValueError(f"must be at least {JWT_SECRET_MIN} characters")
        if secret is None and info.data.get("environment") == "production":
            raise ValueError(f"is required in production (at least {JWT_SECRET_MIN} characters)")
        return secret


def http_settings() -> HttpSettings:
    """Settings from the environment (then ``.env``); raises ``ConfigurationError``."""
    return load_settings(HttpSettings)
