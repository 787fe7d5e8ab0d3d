"""Outages: orders placed over HTTP while Redis is down all succeed, their events reach the
receiver each once while Redis is still down (deliveries never touch the job queue), and the
worker waits the queue's outage out."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_cli.embedded import EmbeddedRedis, start_redis
from orderly_core.webhooks.model import DeliveryState
from orderly_db.unit_of_work import sql_dependencies
from orderly_http.app import create_app
from tests.core.helpers import make_product
from tests.core.webhooks.helpers import add_endpoint
from tests.db_fixtures import FAST_PASSWORDS
from tests.http.accounts import auth_settings, signed_in
from tests.http.helpers import serving
from tests.worker.helpers import worker_running
from tests.worker.receiver import receiving

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]

ORDERS = 5


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of this test's own, to stop and start again."""
    server = start_redis(tmp_path / "redis")
    yield server
    server.stop()


async def test_orders_placed_while_redis_is_down_are_all_told_while_it_is_down(
    worker_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    own_redis: EmbeddedRedis,
    database_url: str,
    clean_engine: AsyncEngine,
) -> None:
    for name, value in {
        "REDIS_URL": own_redis.url,
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
        "WORKER_RELAY_POLL_S": "0.2",
    }.items():
        monkeypatch.setenv(name, value)
    deps = sql_dependencies(clean_engine, passwords=FAST_PASSWORDS)
    await make_product(deps, on_hand=50)
    # One customer places every order of the test, and pays none.
    app = create_app(auth_settings(database_url, own_redis.url, max_open_unpaid_orders=100))

    with receiving() as receiver, contextlib.ExitStack() as stack:
        endpoint = await add_endpoint(deps, url=receiver.url)
        async with serving(app) as client, worker_running() as worker:
            _, customer = await signed_in(client, deps, "ann@example.com")
            logs = stack.enter_context(structlog.testing.capture_logs())  # after the app's set-up
            own_redis.stop()

            answers = [
                await client.post(
                    "/api/v1/orders",
                    json={"lines": [{"sku": "MUG-1", "quantity": 1}]},
                    headers=customer | {"Idempotency-Key": f"outage-{n}"},
                )
                for n in range(ORDERS)
            ]
            assert [a.status_code for a in answers] == [201] * ORDERS
            arrived = await receiver.wait_for(ORDERS)  # Redis is still down
            await asyncio.sleep(2)  # the worker meets the outage, and stays up
            assert worker.main_task is not None
            assert not worker.main_task.done()
            assert len(receiver.received) == ORDERS
            start_redis(own_redis.data_dir, port=own_redis.port)
            await asyncio.sleep(1.5)

    met = {str(e["event"]) for e in logs}
    assert {"queue_unavailable", "queue_available"} <= met
    assert "relay_unavailable" not in met  # the delivery engine never missed Redis
    placed = {a.json()["id"] for a in answers}
    told = {d.headers["webhook-id"]: json.loads(d.body) for d in arrived}
    assert len(told) == ORDERS
    assert {envelope["data"]["id"] for envelope in told.values()} == placed
    async with deps.unit_of_work() as uow:
        deliveries = await uow.deliveries.of_endpoint(endpoint.id, after=None, limit=50)
    assert len(deliveries) == ORDERS
    assert {d.state for d in deliveries} == {DeliveryState.DELIVERED}
    assert {d.attempts for d in deliveries} == {1}
    assert {str(d.event_id) for d in deliveries} == set(told)
