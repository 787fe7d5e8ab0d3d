"""A worker's telemetry: its ``/metrics`` port, its traces, the outbox's backlog and the
webhook deliveries.

Each worker serves its own metrics on ``WORKER_METRICS_PORT`` (0: none), from a thread of its
own. It also samples the outbox every :data:`SAMPLE_EVERY_S`: how many events wait to be
relayed, and how old the oldest of them is. Every worker samples the same table, so the
dashboards take the largest of the workers' values.

Each delivery attempt is a span continuing the trace of the event's request
(:func:`delivery_span`), passed on to the receiver in a ``traceparent`` header
(:class:`TracedSender`), and is counted once recorded, by outcome, with the time from the
event's commit to the attempt's end (:func:`observe_deliveries`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.mail.model import MailMessage, MailStatus
from orderly_core.webhooks.delivery import Claimed, Sent
from orderly_core.webhooks.model import Delivery, DeliveryState
from orderly_core.webhooks.ports import SendOutcome, WebhookSender
from orderly_telemetry.exposition import start_metrics_server
from orderly_telemetry.metrics import (
    DEAD_LETTERS,
    EMAILS_SENT,
    OUTBOX_OLDEST_PENDING_AGE,
    OUTBOX_PENDING,
    WEBHOOK_DELIVERIES,
    WEBHOOK_DELIVERY_LATENCY,
)
from orderly_telemetry.tracing import (
    configure_tracing,
    continued_span,
    inject_traceparent,
    tracing_enabled,
)

SAMPLE_EVERY_S = 15.0
SAMPLE_TIMEOUT_S = 5.0  # a sample that takes longer is skipped, never queued up
# A range scan of the outbox's index on state and position, over the pending events only
# (a handful when the relay keeps up); the timeout bounds it when a backlog has grown.
_BACKLOG = text(
    "select count(*), coalesce(extract(epoch from now() - min(created_at)), 0) "
    "from outbox where state = 'pending'"
)

log = structlog.get_logger("orderly_worker")


async def sample_outbox(engine: AsyncEngine) -> None:
    """Set the outbox's gauges from one look at the table."""
    async with asyncio.timeout(SAMPLE_TIMEOUT_S), engine.connect() as connection:
        pending, oldest_s = (await connection.execute(_BACKLOG)).one()
    OUTBOX_PENDING.set(pending)
    OUTBOX_OLDEST_PENDING_AGE.set(max(float(oldest_s), 0.0))


async def _sample_forever(engine: AsyncEngine, every_s: float) -> None:
    while True:  # the first sample waits too: a worker starting takes no extra connection
        await asyncio.sleep(every_s)
        try:
            await sample_outbox(engine)
        except Exception as error:  # a sample missed is not worth more than a line
            log.warning("outbox_sample_failed", error=type(error).__name__)


def start_telemetry(
    engine: AsyncEngine, *, metrics_port: int, tracing_endpoint: str
) -> Callable[[], Awaitable[None]]:
    """Turn tracing on if configured, serve the metrics if a port is given and start sampling
    the outbox; what stops it all."""
    configure_tracing("orderly-worker", endpoint=tracing_endpoint)
    stop_server: Callable[[], None] | None = None
    if metrics_port:
        port, stop_server = start_metrics_server(metrics_port)
        log.info("metrics_served", port=port)
    sampler = asyncio.create_task(_sample_forever(engine, SAMPLE_EVERY_S))

    async def stop() -> None:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        if stop_server is not None:
            await asyncio.to_thread(stop_server)

    return stop


_OUTCOMES = {DeliveryState.DELIVERED: "delivered", DeliveryState.DEAD: "dead"}
DEAD_DELIVERY = "webhook_delivery"  # the dead letters' job label for a delivery given up on
DEAD_MAIL = "email"  # ...and for an email given up on


@contextmanager
def delivery_span(claimed: Claimed) -> Iterator[None]:
    """The span of one delivery attempt, in the trace of the event's request (when tracing)."""
    attributes: dict[str, str | int] = {
        "orderly.event.type": claimed.event.type.value,
        "orderly.event.id": str(claimed.event.id),
        "orderly.delivery.id": str(claimed.delivery.id),
        "orderly.delivery.attempt": claimed.delivery.attempts + 1,
    }
    with continued_span("webhook.deliver", claimed.event.trace_context, attributes=attributes):
        yield


def observe_deliveries(batch: Sequence[Sent], recorded: Sequence[Delivery]) -> None:
    """Count recorded attempts by outcome (delivered, retry, dead), with their latency from
    the commit of their event; a delivery given up on is a dead letter too."""
    sent_by_id = {sent.claimed.delivery.id: sent for sent in batch}
    for delivery in recorded:
        outcome = _OUTCOMES.get(delivery.state, "retry")
        WEBHOOK_DELIVERIES.labels(outcome).inc()
        if outcome == "dead":
            DEAD_LETTERS.labels(DEAD_DELIVERY, "retries_exhausted").inc()
        sent = sent_by_id.get(delivery.id)
        if sent is not None:
            ended = sent.at + timedelta(milliseconds=sent.outcome.latency_ms)
            latency_s = (ended - sent.claimed.event.created_at).total_seconds()
            WEBHOOK_DELIVERY_LATENCY.labels(outcome).observe(max(latency_s, 0.0))


class TracedSender:
    """A sender that tells the receiver, in ``traceparent``, which trace its delivery is in."""

    def __init__(self, sender: WebhookSender) -> None:
        self._sender = sender

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendOutcome:
        traced = dict(headers)
        inject_traceparent(traced)
        return await self._sender.send(url, body, traced)


def traced(sender: WebhookSender) -> WebhookSender:
    """``sender``, telling receivers the trace of each delivery when tracing is on."""
    return TracedSender(sender) if tracing_enabled() else sender


_MAIL_OUTCOMES = {MailStatus.SENT: "sent", MailStatus.DEAD: "dead"}


def observe_mail(recorded: Sequence[MailMessage]) -> None:
    """Count recorded email attempts by template and outcome (sent, retry, dead); an email
    given up on is a dead letter too."""
    for message in recorded:
        outcome = _MAIL_OUTCOMES.get(message.status, "retry")
        EMAILS_SENT.labels(message.template.value, outcome).inc()
        if outcome == "dead":
            DEAD_LETTERS.labels(DEAD_MAIL, "retries_exhausted").inc()
