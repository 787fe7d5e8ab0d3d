"""One trace from an HTTP placement to the receiver of its webhook, and the deliveries'
metrics: the API and a worker run in this process, tracing into the SDK's in-memory exporter,
the receiver is a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from arq import ArqRedis
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY
from returns.pipeline import is_successful
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.shared.context import Actor, Context, Role
from orderly_db.unit_of_work import sql_dependencies
from orderly_http.app import create_app
from tests.core.helpers import make_product
from tests.core.webhooks.helpers import add_endpoint
from tests.http.accounts import auth_settings, forget_login_failures, signed_in
from tests.http.helpers import serving
from tests.tracing_fixtures import spans
from tests.worker.helpers import worker_running
from tests.worker.receiver import receiving

__all__ = ["spans"]

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]


def _trace_of(traceparent: str) -> int:
    return int(traceparent.split("-")[1], 16)


def _header(headers: dict[str, str], name: str) -> str:
    [value] = [v for k, v in headers.items() if k.lower() == name]
    return value


async def _delivered_spans(spans: InMemorySpanExporter) -> list[ReadableSpan]:
    for _ in range(100):  # the delivery's span ends just after the receiver answered
        found = [s for s in spans.get_finished_spans() if s.name == "webhook.deliver"]
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("no delivery span ended")


async def test_a_placement_and_its_webhook_are_one_trace(
    webhook_env: dict[str, str],
    queue: ArqRedis,
    clean_engine: AsyncEngine,
    redis_url: str,
    spans: InMemorySpanExporter,
) -> None:
    forget_login_failures(redis_url)
    app = create_app(auth_settings(webhook_env["DATABASE_URL"], redis_url))
    deps = sql_dependencies(clean_engine)
    await make_product(deps, on_hand=10)
    with receiving() as receiver:
        await add_endpoint(deps, url=receiver.url)
        async with serving(app) as client, worker_running():
            _, ann = await signed_in(client, deps, "ann@example.com")
            placed = await client.post(
                "/api/v1/orders",
                json={"lines": [{"sku": "MUG-1", "quantity": 1}]},
                headers=ann | {"Idempotency-Key": uuid.uuid4().hex},
            )
            [delivery] = await receiver.wait_for(1)
            [delivering] = await _delivered_spans(spans)

    assert placed.status_code == 201, placed.text
    [request] = [
        s
        for s in spans.get_finished_spans()
        if s.kind is SpanKind.SERVER and s.name == "POST /api/v1/orders"
    ]
    assert request.context is not None
    trace_id = request.context.trace_id
    async with clean_engine.connect() as connection:
        stored = (await connection.execute(text("select trace_context from outbox"))).scalar_one()
    assert _trace_of(stored) == trace_id  # the outbox row carries the request's trace
    assert delivering.context is not None
    assert delivering.context.trace_id == trace_id  # the worker's attempt continues it
    sent = _header(delivery.headers, "traceparent")
    assert _trace_of(sent) == trace_id  # and the receiver is told
    assert sent.split("-")[2] == f"{delivering.context.span_id:016x}"  # as its parent
    database = [
        s for s in spans.get_finished_spans() if (s.attributes or {}).get("db.system")
    ]  # the statements run for the request, traced by the asyncpg instrumentation
    assert any(s.context is not None and s.context.trace_id == trace_id for s in database)


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_deliveries_are_counted_by_outcome_with_their_latency(
    webhook_env: dict[str, str], queue: ArqRedis, clean_engine: AsyncEngine
) -> None:
    outcomes = ("delivered", "retry", "dead")
    before = [_count("orderly_webhook_deliveries_total", outcome=o) for o in outcomes]
    timed = _count("orderly_webhook_delivery_latency_seconds_count", outcome="retry")
    deps = sql_dependencies(clean_engine)
    await make_product(deps, on_hand=10)
    with receiving(statuses=[500]) as receiver:
        await add_endpoint(deps, url=receiver.url)
        async with worker_running():
            new = NewOrder((LineRequest("MUG-1", 1),))
            placed = await place_order(deps, Context(ANN, "req-metrics-1"), new)
            assert is_successful(placed)
            await receiver.wait_for(2)
            for _ in range(100):  # the second attempt is recorded just after it arrived
                if _count("orderly_webhook_deliveries_total", outcome="delivered") > before[0]:
                    break
                await asyncio.sleep(0.05)

    after = [_count("orderly_webhook_deliveries_total", outcome=o) for o in outcomes]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 0]
    assert _count("orderly_webhook_delivery_latency_seconds_count", outcome="retry") == timed + 1
