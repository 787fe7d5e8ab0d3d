"""A worker killed with SIGKILL in the middle of a delivery: once its lease on the delivery
ends, another worker completes it. The receiver may see the event twice (it drops the
duplicate by its ``webhook-id``); Orderly records it delivered once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.unit_of_work import UnitOfWork
from orderly_core.webhooks.model import Delivery, DeliveryState
from orderly_db.unit_of_work import sql_dependencies
from tests.core.helpers import fresh, make_product
from tests.core.webhooks.helpers import add_endpoint
from tests.worker.receiver import receiving
from tests.worker.test_process import _bare_environment

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@contextmanager
def worker_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m orderly_worker`` (what ``orderly worker`` runs), killed if still running."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "orderly_worker"], env=env, stdout=output, stderr=output
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def test_a_delivery_cut_short_by_sigkill_is_completed_by_another_worker(
    tmp_path: Path,
    database_url: str,
    worker_redis_url: str,
    redis: Redis,
    clean_engine: AsyncEngine,
) -> None:
    env = _bare_environment(
        DATABASE_URL=database_url,
        REDIS_URL=worker_redis_url,
        LOG_FORMAT="json",
        WEBHOOK_ALLOW_HTTP="true",
        WEBHOOK_ALLOW_PRIVATE_ADDRESSES="true",
        WORKER_RELAY_POLL_S="0.2",
        # An attempt may last 1 + 2 x 1 s: the lease of a claimed delivery ends 8 s after it.
        WORKER_DELIVERY_TIMEOUT_S="1",
    )
    deps = sql_dependencies(clean_engine)
    await make_product(deps, on_hand=5)
    release = threading.Event()
    log = tmp_path / "workers.log"

    with receiving(hold_first=release) as receiver:
        endpoint = await add_endpoint(deps, url=receiver.url)
        customer = Actor.user(str(uuid.uuid4()), Role.CUSTOMER)
        new_order = NewOrder((LineRequest("MUG-1", 1),))
        fresh(await place_order(deps, Context(customer, "req-killed"), new_order))

        with worker_process(env, log) as first:
            await receiver.wait_for(1)  # the first worker is in the middle of the delivery
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        release.set()

        with worker_process(env, log) as second:
            arrived = await receiver.wait_for(2)
            delivered = await _delivered(deps.unit_of_work, endpoint.id)
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0, log.read_text()

    assert {d.headers["webhook-id"] for d in arrived} == {arrived[0].headers["webhook-id"]}
    assert (delivered.state, delivered.attempts) == (DeliveryState.DELIVERED, 1)
    async with deps.unit_of_work() as uow:
        attempts = await uow.deliveries.attempts(delivered.id)
    assert [(a.number, a.status) for a in attempts] == [(1, 200)]


async def _delivered(unit_of_work: Callable[[], UnitOfWork], endpoint_id: uuid.UUID) -> Delivery:
    """The endpoint's one delivery, once it is delivered (a guard against a hang: 20 s)."""
    async with asyncio.timeout(20):
        while True:
            async with unit_of_work() as uow:
                found = await uow.deliveries.of_endpoint(endpoint_id, after=None, limit=5)
            if found and found[0].state is DeliveryState.DELIVERED:
                return found[0]
            await asyncio.sleep(0.1)
