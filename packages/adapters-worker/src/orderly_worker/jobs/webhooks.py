"""``deliver_webhook``: one attempt of one webhook delivery, as Orderly's system actor.

The payload names the delivery, the attempt it was queued for and the request that caused
the event, which every log line of the job carries; the rest is read from PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from returns.pipeline import is_successful

from orderly_core.jobs.payloads import PayloadError
from orderly_core.shared.context import Context
from orderly_core.webhooks.delivery import AttemptReport, attempt_delivery
from orderly_worker.boundary import failed, succeeded
from orderly_worker.runtime import WORKER_ACTOR, JobContext, JobResult, resources


def _fields(payload: Mapping[str, Any]) -> tuple[uuid.UUID, int, str]:
    try:
        delivery_id = uuid.UUID(str(payload["delivery_id"]))
        attempt = int(payload["attempt"])
        request_id = str(payload["request_id"])
    except (KeyError, ValueError, TypeError) as error:
        raise PayloadError(
            f"a deliver_webhook payload needs delivery_id, attempt and request_id: {error}"
        ) from None
    return delivery_id, attempt, request_id


def _report(report: AttemptReport) -> JobResult:
    delivery = report.delivery
    return succeeded(
        delivery_id=str(delivery.id),
        sent=report.sent,
        state=delivery.state.value,
        attempts=delivery.attempts,
        last_status=delivery.last_status,
        next_attempt_at=delivery.next_attempt_at,
    )


async def deliver_webhook_job(ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
    """Send one attempt of a webhook delivery and record it; a failed attempt is queued again
    for its next time by the retry schedule, the last one leaves a dead delivery."""
    delivery_id, attempt, request_id = _fields(payload)
    held = resources(ctx)
    context = Context(actor=WORKER_ACTOR, request_id=request_id)
    outcome = await attempt_delivery(
        held.deps, context, delivery_id, held.sender, held.queue, attempt=attempt
    )
    return _report(outcome.unwrap()) if is_successful(outcome) else failed(outcome.failure())
