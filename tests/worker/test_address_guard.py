"""The address guard at delivery time: a host whose name resolves to a non-public address gets
no request, and the attempt's recorded error (what `orderly webhooks show-delivery` and the
API show administrators) says why without naming the address the name resolved to."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from arq import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.catalogue.use_cases import NewProduct, create_product
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.platform.outbox import EventType
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.model import Attempt, Endpoint
from orderly_core.webhooks.policy import WebhookPolicy
from orderly_core.webhooks.signing import new_secret
from orderly_db.unit_of_work import sql_dependencies
from orderly_worker.sender import NON_PUBLIC, HttpSender, without_addresses
from tests.core.helpers import fresh
from tests.worker.helpers import worker_running
from tests.worker.receiver import receiving

pytestmark = [
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)
LOOPBACK = ("127.0.0.1", "::1", "0:0:0:0:0:0:0:1")


async def test_the_sender_refuses_a_name_resolving_to_loopback_without_naming_the_address() -> None:
    sender = HttpSender(WebhookPolicy(allow_http=True))
    try:
        with receiving() as receiver:
            url = receiver.url.replace("127.0.0.1", "localhost")
            outcome = await sender.send(url, b"{}", {})
            assert receiver.received == []
    finally:
        await sender.close()

    assert (outcome.status, outcome.error) == (None, NON_PUBLIC)


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_refused_delivery_is_recorded_without_the_address_the_host_resolved_to(
    worker_env: dict[str, str],
    queue: ArqRedis,
    clean_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The endpoint was registered while its name was public (stored directly here, as a
    changed DNS answer would leave it); its name now resolves to loopback."""
    monkeypatch.setenv("WEBHOOK_ALLOW_HTTP", "true")
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE_S", "60")
    monkeypatch.setenv("WORKER_RELAY_POLL_S", "0.5")
    deps = sql_dependencies(clean_engine)
    operator = Context(Actor.operator("alice"), "req-seed")
    new = NewProduct(sku="MUG-1", name="Mug", unit_price=1250, currency="EUR", on_hand=10)
    fresh(await create_product(deps, operator, new))
    with receiving() as receiver:
        now = datetime.now(UTC)
        endpoint = Endpoint(
            id=uuid.uuid4(),
            url=receiver.url.replace("127.0.0.1", "localhost"),
            event_types=(EventType.ORDER_PLACED,),
            secret=new_secret(),
            active=True,
            version=1,
            created_at=now,
            updated_at=now,
        )
        async with deps.unit_of_work() as uow:
            await uow.endpoints.add(endpoint)
            await uow.commit()
        async with worker_running():
            order = NewOrder((LineRequest("MUG-1", 1),))
            fresh(await place_order(deps, Context(ANN, "req-guard-1"), order))
            attempts = await first_attempts(deps, endpoint.id)
        assert receiver.received == []

    [attempt] = attempts
    assert (attempt.status, attempt.error) == (None, NON_PUBLIC)
    async with deps.unit_of_work() as uow:
        [delivery] = await uow.deliveries.of_endpoint(endpoint.id, after=None, limit=10)
    assert delivery.last_error == NON_PUBLIC
    assert not any(address in (attempt.error or "") for address in LOOPBACK)


async def first_attempts(deps: Dependencies, endpoint_id: uuid.UUID) -> list[Attempt]:
    """The attempts of the endpoint's only delivery, once there is one."""
    for _ in range(100):
        async with deps.unit_of_work() as uow:
            deliveries = await uow.deliveries.of_endpoint(endpoint_id, after=None, limit=10)
            attempts = await uow.deliveries.attempts(deliveries[0].id) if deliveries else []
        if attempts:
            return attempts
        await asyncio.sleep(0.1)
    raise AssertionError("no attempt was recorded")


@pytest.mark.parametrize(
    ("text", "host", "shown"),
    [
        (
            "ConnectError: [Errno 111] Connect call failed ('10.1.2.3', 443)",
            "hooks.example.com",
            "ConnectError: [Errno 111] Connect call failed ('<address>', 443)",
        ),
        (
            "ConnectError: to [fd00::1%eth0]:443 via ::ffff:10.0.0.1.",
            "hooks.example.com",
            "ConnectError: to [<address>]:443 via <address>.",
        ),
        (
            "ReadError: at 12:30:45 over TLS 1.3",
            "hooks.example.com",
            "ReadError: at 12:30:45 over TLS 1.3",
        ),
        (
            "ConnectError: certificate is not valid for 93.184.215.14.",
            "93.184.215.14",
            "ConnectError: certificate is not valid for 93.184.215.14.",
        ),
    ],
)
def test_a_transport_error_names_no_address_but_the_urls_own_host(
    text: str, host: str, shown: str
) -> None:
    assert without_addresses(text, host) == shown
