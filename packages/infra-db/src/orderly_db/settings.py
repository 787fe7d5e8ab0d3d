"""Settings every Orderly process shares, read from the environment, then ``.env``.

Each adapter extends :class:`InfraSettings` with its own fields; :func:`load_settings`
validates at start-up and names the bad or missing variable in one line. With
``ENVIRONMENT=production`` every development-only switch (:data:`DEVELOPMENT_ONLY`) must be
off: a process configured with one refuses to start, naming it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderly_core.mail.model import DEFAULT_EVENT_TEMPLATES, MailPolicy, MailTemplate
from orderly_core.platform.outbox import EventType
from orderly_core.webhooks.policy import WebhookPolicy

_DEFAULT_MAIL_EVENTS = ",".join(sorted(DEFAULT_EVENT_TEMPLATES))


class ConfigurationError(Exception):
    """The environment does not describe a usable configuration."""


# Switches that make development on one machine easy and a deployment unsafe: webhook
# receivers over plain http:// and on loopback, private or link-local addresses (the guard
# against requests to internal services is off).
DEVELOPMENT_ONLY = ("webhook_allow_http", "webhook_allow_private_addresses")


class LogSettings(BaseSettings):
    """What every process needs before anything else: how to log."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    log_format: Literal["console", "json"] = "console"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class InfraSettings(LogSettings):
    database_url: str = Field(
        description="SQLAlchemy URL of PostgreSQL, e.g. postgresql+asyncpg://user:pw@host/db"
    )
    redis_url: str = Field(description="Redis URL for the job queue, e.g. redis://host:6379/0")
    environment: Literal["development", "production"] = "development"
    otel_exporter_otlp_endpoint: str = Field(
        default="",
        max_length=2000,
        description="OTLP/HTTP collector to send traces to (tracing is off when empty)",
    )
    db_pool_size: int = Field(default=5, ge=1, le=100)
    # Overflow connections are closed as soon as they are returned, so under steady load they
    # are opened again and again (a new server process, statements prepared anew): a fixed
    # pool, whose callers wait their turn, serves more and with a shorter tail.
    db_max_overflow: int = Field(default=0, ge=0, le=100)
    db_pool_timeout_s: float = Field(default=10.0, gt=0)
    db_statement_timeout_ms: int = Field(default=15_000, ge=100)
    password_hash_time_cost: int = Field(default=3, ge=1, le=20)
    password_hash_memory_kib: int = Field(default=65536, ge=8192, le=4_194_304)
    password_hash_parallelism: int = Field(default=1, ge=1, le=16)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)
    order_ttl_minutes: int = Field(default=30, ge=1, le=10_080)
    # How many unpaid orders (each holding its stock until paid or expired) one customer may
    # hold at once.
    max_open_unpaid_orders: int = Field(default=3, ge=1, le=1000)
    idempotency_key_ttl_hours: int = Field(default=24, ge=1, le=720)
    # How many days after an order's delivery its units may be returned.
    return_window_days: int = Field(default=30, ge=0, le=3650)
    job_record_retention_days: int = Field(default=30, ge=1, le=3650)
    webhook_allow_http: bool = False
    webhook_allow_private_addresses: bool = False
    webhook_retry_schedule_s: str = Field(
        default="10,60,300,1800,7200,28800", pattern=r"^\d+(\.\d+)?(,\d+(\.\d+)?)*$"
    )
    webhook_disable_after_hours: float = Field(default=24, gt=0)
    webhook_secret_overlap_hours: float = Field(default=24, ge=0)

    # The events that send an email to the order's contact, each its own template (see
    # docs/email.md); empty: none.
    mail_events: str = Field(default=_DEFAULT_MAIL_EVENTS, max_length=1000)
    mail_retry_schedule_s: str = Field(
        default="10,60,300,1800,7200,28800", pattern=r"^\d+(\.\d+)?(,\d+(\.\d+)?)*$"
    )
    password_reset_ttl_minutes: int = Field(default=30, ge=5, le=1440)
    email_verification_ttl_hours: int = Field(default=48, ge=1, le=720)
    unverified_customers_may_order: bool = True

    @field_validator("mail_events")
    @classmethod
    def _mailed_events(cls, raw: str) -> str:
        for name in filter(None, (part.strip() for part in raw.split(","))):
            if name not in DEFAULT_EVENT_TEMPLATES:
                known = ", ".join(sorted(DEFAULT_EVENT_TEMPLATES))
                raise ValueError(f"'{name}' sends no email; the events that may: {known}")
        return raw

    def mail_policy(self) -> MailPolicy:
        wanted = {part.strip() for part in self.mail_events.split(",") if part.strip()}
        templates: dict[EventType, MailTemplate] = {
            event: template
            for event, template in DEFAULT_EVENT_TEMPLATES.items()
            if event.value in wanted
        }
        return MailPolicy(
            event_templates=templates,
            retry_schedule=tuple(
                timedelta(seconds=float(s)) for s in self.mail_retry_schedule_s.split(",")
            ),
            password_reset_ttl=timedelta(minutes=self.password_reset_ttl_minutes),
            verification_ttl=timedelta(hours=self.email_verification_ttl_hours),
            unverified_may_order=self.unverified_customers_may_order,
        )

    def webhook_policy(self) -> WebhookPolicy:
        return WebhookPolicy(
            allow_http=self.webhook_allow_http,
            allow_private_addresses=self.webhook_allow_private_addresses,
            retry_schedule=tuple(
                timedelta(seconds=float(s)) for s in self.webhook_retry_schedule_s.split(",")
            ),
            disable_after=timedelta(hours=self.webhook_disable_after_hours),
            secret_overlap=timedelta(hours=self.webhook_secret_overlap_hours),
        )

    @field_validator(*DEVELOPMENT_ONLY)
    @classmethod
    def _off_in_production(cls, switched_on: bool, info: ValidationInfo) -> bool:
        if switched_on and info.data.get("environment") == "production":
            raise ValueError(
                "is for development only: it must be false when ENVIRONMENT=production"
            )
        return switched_on

    @field_validator("database_url")
    @classmethod
    def _asyncpg_url(cls, url: str) -> str:
        if url.startswith(("postgres://", "postgresql://")):
            url = "postgresql+asyncpg://" + url.split("://", 1)[1]
        if not url.startswith("postgresql+asyncpg://"):
            raise ValueError("must be a PostgreSQL URL (postgresql+asyncpg://...)")
        return url

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, url: str) -> str:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a Redis URL (redis://host:port/db)")
        return url


def load_settings[S: BaseSettings](cls: type[S], **overrides: Any) -> S:
    """Build settings or raise :class:`ConfigurationError` naming each bad variable."""
    try:
        return cls(**overrides)
    except ValidationError as error:
        problems: list[str] = []
        for issue in error.errors():
            variable = "_".join(str(part) for part in issue["loc"]).upper() or "settings"
            problems.append(f"{variable}: {issue['msg']}")
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None
