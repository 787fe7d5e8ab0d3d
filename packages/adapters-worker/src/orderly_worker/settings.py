"""The worker process: its settings and its composition root.

``arq orderly_worker.settings.WorkerSettings`` runs the worker, and
``arq --check orderly_worker.settings.WorkerSettings`` is its health check. The queue reads
its options as class attributes, so ``WorkerSettings`` is built from the environment when it
is first looked up, not at import: importing this module reads nothing and opens nothing, and
a missing or invalid variable stops the process with one line naming it. The database engine
is created at start-up and disposed of at shutdown.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from datetime import timedelta
from typing import Any

import structlog
from arq.connections import RedisSettings
from pydantic import Field, field_validator

from orderly_core.jobs import payloads as jobs
from orderly_db.engine import create_engine
from orderly_db.job_queue import ArqJobQueue
from orderly_db.log import configure_logging
from orderly_db.settings import ConfigurationError, InfraSettings, load_settings
from orderly_db.unit_of_work import dependencies_from_settings
from orderly_mail.rendering import TemplateRenderer
from orderly_mail.settings import MailSettings
from orderly_mail.smtp import SmtpSender
from orderly_payments.settings import PaymentSettings, close_provider, provider_from_settings
from orderly_worker.boundary import guarded
from orderly_worker.engine import DeliveryEngine, EngineOptions
from orderly_worker.jobs.imports import import_products_job
from orderly_worker.jobs.scheduled import SCHEDULE
from orderly_worker.mail import MailChannel, MailOptions
from orderly_worker.retry import RetryPolicy
from orderly_worker.runtime import RESOURCES, JobContext, WorkerResources
from orderly_worker.sender import HttpSender, longest_attempt
from orderly_worker.telemetry import start_telemetry, traced

KEEP_RESULT_S = 86_400  # a job's result stays readable for a day
HEALTH_CHECK_INTERVAL_S = 10
# How long an idle worker waits between looks at the queue: the most a queued job (a webhook
# delivery, say) waits before it starts. Each look is one Redis command.
POLL_DELAY_S = 0.05
# The queue's own timeout only backs up the boundary's, which turns a late job into a retry.
QUEUE_TIMEOUT_MARGIN_S = 10
# A job cut short by a worker shutting down runs again and uses up a try: allow for a few.
INTERRUPTED_RUNS_ALLOWED = 3
# A claimed webhook delivery is held this much longer than its attempt may last, for recording
# it: a worker killed meanwhile leaves its deliveries to another once the lease ends.
LEASE_MARGIN_S = 5.0
SMTP_STEPS = 8  # the most steps of one SMTP conversation, each within SMTP_TIMEOUT_S

log = structlog.get_logger("orderly_worker")


class WorkerEnv(InfraSettings, PaymentSettings, MailSettings):
    """The worker's variables, on top of those every Orderly process reads."""

    worker_max_jobs: int = Field(default=10, ge=1, le=1000, description="Jobs run at once.")
    worker_metrics_port: int = Field(
        default=0, ge=0, le=65535, description="Port of the worker's /metrics; 0: none."
    )
    worker_job_timeout_s: float = Field(
        default=600.0, gt=0, description="A run taking longer is stopped and tried again."
    )
    worker_max_tries: int = Field(
        default=5, ge=1, le=50, description="Runs of a job facing unavailable servers."
    )
    worker_retry_base_s: float = Field(
        default=10.0, gt=0, description="Wait before the second try; it doubles each time."
    )
    worker_retry_max_s: float = Field(default=600.0, gt=0, description="Longest wait.")
    worker_shutdown_grace_s: int = Field(
        default=20, ge=0, description="On SIGTERM, how long running jobs may finish."
    )
    worker_relay: bool = Field(
        default=True, description="Relay outbox events and send webhook deliveries."
    )
    worker_relay_poll_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="The delivery engine's safety-net poll interval, and how late a retry may be.",
    )
    worker_delivery_concurrency: int = Field(
        default=256, ge=1, le=10_000, description="Webhook attempts under way at once, in all."
    )
    worker_delivery_per_endpoint: int = Field(
        default=32, ge=1, le=10_000, description="Webhook attempts under way to one endpoint."
    )
    worker_delivery_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="How long a receiver may take to answer before the attempt fails.",
    )
    worker_mail: bool = Field(
        default=True, description="Send the emails waiting in PostgreSQL (with the relay)."
    )
    worker_mail_concurrency: int = Field(
        default=8, ge=1, le=1000, description="Emails sent at once, over SMTP, per worker."
    )
    worker_reconcile_grace_s: float = Field(
        default=30.0, gt=0, description="A job record this stale, its job gone, is closed."
    )
    worker_reconcile_every_s: float = Field(
        default=10.0, gt=0, description="How often the worker looks for stale job records."
    )

    @field_validator("redis_url")
    @classmethod
    def _queue_can_use(cls, url: str) -> str:
        try:
            RedisSettings.from_dsn(url)
        except (ValueError, RuntimeError) as error:
            raise ValueError(f"is not a Redis URL the job queue can use ({error})") from None
        return url

    @property
    def redis_settings(self) -> RedisSettings:
        return RedisSettings.from_dsn(self.redis_url)

    @property
    def engine_options(self) -> EngineOptions:
        longest = longest_attempt(self.worker_delivery_timeout_s)
        return EngineOptions(
            poll_s=self.worker_relay_poll_s,
            reconcile_every_s=self.worker_reconcile_every_s,
            reconcile_grace=timedelta(seconds=self.worker_reconcile_grace_s),
            concurrency=self.worker_delivery_concurrency,
            per_endpoint=min(self.worker_delivery_per_endpoint, self.worker_delivery_concurrency),
            lease=timedelta(seconds=longest + LEASE_MARGIN_S),
        )

    @property
    def mail_options(self) -> MailOptions:
        # An SMTP conversation is at most a handful of steps (connect, EHLO, STARTTLS, AUTH,
        # MAIL, RCPT, DATA, QUIT), each within SMTP_TIMEOUT_S.
        longest = self.smtp_timeout_s * SMTP_STEPS
        return MailOptions(
            concurrency=self.worker_mail_concurrency,
            lease=timedelta(seconds=longest + LEASE_MARGIN_S),
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_tries=self.worker_max_tries,
            base_delay_s=self.worker_retry_base_s,
            max_delay_s=self.worker_retry_max_s,
        )


def configure_process_logging(env: WorkerEnv) -> None:
    configure_logging(env.log_format, env.log_level)
    queue_logger = logging.getLogger("arq")
    if queue_logger.handlers:  # the `arq` command gave it a handler: do not print lines twice
        queue_logger.propagate = False


def build_worker_settings(env: WorkerEnv, *, setup_logging: bool = True) -> type:
    """The worker's settings class for ``env``: its jobs, queue options and lifecycle hooks.

    ``setup_logging=False`` leaves the process's logging alone (for a worker run inside tests).
    """
    policy = env.retry_policy

    async def on_startup(ctx: JobContext) -> None:
        if setup_logging:
            configure_process_logging(env)
        engine = create_engine(env, application_name="orderly-worker")
        stop_telemetry = start_telemetry(
            engine,
            metrics_port=env.worker_metrics_port,
            tracing_endpoint=env.otel_exporter_otlp_endpoint,
        )
        provider = provider_from_settings(env)
        deps = replace(dependencies_from_settings(engine, env), payment_provider=provider)
        sender = HttpSender(
            deps.webhooks,
            timeout_s=env.worker_delivery_timeout_s,
            connections=env.worker_delivery_concurrency,
        )
        queue = ArqJobQueue(ctx["redis"])
        options = env.engine_options
        smtp = SmtpSender(env)
        mail = (
            MailChannel(deps, TemplateRenderer(env), smtp, env.mail_options)
            if env.worker_mail
            else None
        )
        delivering = (
            DeliveryEngine(deps, engine, traced(sender), options, queue, mail=mail)
            if env.worker_relay
            else None
        )

        async def close() -> None:
            if delivering is not None:
                await delivering.stop(grace_s=min(env.worker_shutdown_grace_s, 10))
            await sender.close()
            await smtp.close()
            await close_provider(provider)
            await stop_telemetry()
            await engine.dispose()

        ctx[RESOURCES] = WorkerResources(
            deps=deps,
            retry=policy,
            job_timeout_s=env.worker_job_timeout_s,
            close=close,
            sender=sender,
            queue=queue,
            engine=engine,
        )
        if delivering is not None:
            delivering.start()
        log.info("worker_started", max_jobs=env.worker_max_jobs, max_tries=policy.max_tries)

    async def on_shutdown(ctx: JobContext) -> None:
        held = ctx.pop(RESOURCES, None)
        if isinstance(held, WorkerResources):
            await held.close()
        log.info("worker_stopped")

    # The queue reads the options from the class's own namespace.
    options: dict[str, Any] = {
        "__doc__": "Options of Orderly's background worker (read by arq).",
        "functions": [
            guarded(jobs.IMPORT_PRODUCTS, import_products_job),
        ],
        "cron_jobs": SCHEDULE,
        "redis_settings": env.redis_settings,
        "job_serializer": jobs.serialize,
        "job_deserializer": jobs.deserialize,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "max_jobs": env.worker_max_jobs,
        "job_timeout": env.worker_job_timeout_s + QUEUE_TIMEOUT_MARGIN_S,
        "max_tries": policy.max_tries + INTERRUPTED_RUNS_ALLOWED,
        "keep_result": KEEP_RESULT_S,
        "poll_delay": POLL_DELAY_S,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "job_completion_wait": env.worker_shutdown_grace_s,
    }
    return type("WorkerSettings", (), options)


def load_worker_env(**overrides: Any) -> WorkerEnv:
    """The worker's settings from the environment (then ``.env``), or ``ConfigurationError``."""
    return load_settings(WorkerEnv, **overrides)


def worker_env_or_exit() -> WorkerEnv:
    """The worker's settings; a missing or invalid variable ends the process with one line
    naming it (exit code 2)."""
    try:
        return load_worker_env()
    except ConfigurationError as error:
        sys.stderr.write(f"orderly worker: {error}\n")
        raise SystemExit(2) from None


def __getattr__(name: str) -> type:
    """``WorkerSettings``, built on first lookup: the ``arq`` command imports it by name."""
    if name != "WorkerSettings":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return build_worker_settings(worker_env_or_exit())
