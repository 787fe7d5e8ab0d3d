"""Email end to end: what happens in PostgreSQL reaches a real SMTP server (the mail catcher
of ``orderly dev``, on 127.0.0.1) through a real worker: each email of an order's life once,
a reset link that works once, SMTP down and back, and a worker killed mid-send."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.accounts.errors import TokenRejected
from orderly_core.accounts.mailed_links import PasswordReset, request_password_reset, reset_password
from orderly_core.accounts.registration import NewUser, create_user
from orderly_core.accounts.sessions import Credentials, log_in
from orderly_core.mail.model import MailMessage, MailQuery, MailStatus, MailTemplate
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.shipments.model import Tracking
from orderly_core.shipments.steps import ship_order
from orderly_core.unit_of_work import Dependencies
from orderly_db.tables import mail_attempts, mail_messages
from orderly_db.unit_of_work import sql_dependencies
from tests.core.helpers import STAFF, ctx, err, fresh, make_product, ok, pay_order
from tests.worker.helpers import worker_running
from tests.worker.mail_catcher import HoldingKeeper, catching, caught
from tests.worker.test_crashes import worker_process
from tests.worker.test_process import _bare_environment

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)
TRACKING = Tracking("DHL", "JD0001", "https://track.example/JD0001")
RESET_URL = "https://shop.example/reset"
QUICK = {
    "WORKER_RELAY_POLL_S": "0.2",
    "MAIL_RETRY_SCHEDULE_S": ",".join(["0.3"] * 8),
    "SMTP_TIMEOUT_S": "2",
    "PASSWORD_RESET_URL": RESET_URL,
    "MAIL_FROM": "Mugs <shop@mugs.example>",
    "SHOP_NAME": "Mugs",
}


@pytest.fixture
def closed_port() -> int:
    """A local TCP port with nothing listening on it (yet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def mail_env(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    for name, value in {**QUICK, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}.items():
        monkeypatch.setenv(name, value)


async def kept(deps: Dependencies) -> list[MailMessage]:
    async with deps.unit_of_work() as uow:
        return list(reversed(await uow.mail.find(after=None, limit=100, query=MailQuery())))


async def tried_twice(deps: Dependencies) -> MailMessage:
    """The one message, once two attempts of it have failed (a guard: 20 s)."""
    async with asyncio.timeout(20):
        while True:
            found = await kept(deps)
            if found and found[0].attempts >= 2:
                return found[0]
            await asyncio.sleep(0.05)


async def settled(deps: Dependencies, count: int) -> list[MailMessage]:
    """The messages, once ``count`` of them are no longer pending (a guard: 20 s)."""
    async with asyncio.timeout(20):
        while True:
            found = await kept(deps)
            if sum(m.status is not MailStatus.PENDING for m in found) >= count:
                return found
            await asyncio.sleep(0.05)


async def test_placing_paying_and_shipping_an_order_mail_three_emails_once(
    worker_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    clean_engine: AsyncEngine,
) -> None:
    deps = sql_dependencies(clean_engine)
    await make_product(deps, on_hand=10, unit_price=1250)
    counted_before = _emails_counted()
    async with catching(tmp_path / "mail") as catcher:
        mail_env(monkeypatch, catcher.port)
        async with worker_running():
            new = NewOrder((LineRequest("MUG-1", 2),), email="ann@example.com")
            order = fresh(await place_order(deps, Context(ANN, "req-place"), new)).order
            step = OrderStep(str(order.id))
            fresh(await pay_order(deps, ctx(STAFF), step))
            fresh(await ship_order(deps, ctx(STAFF), step, TRACKING))
            emails = await caught(catcher.folder, 3)
            recorded = await settled(deps, 3)
            await asyncio.sleep(0.6)  # nothing else arrives
        emails = await caught(catcher.folder, 3)

    assert len(emails) == 3
    by_subject = {mail.subject: mail for mail in emails}
    short = str(order.id)[:8]
    placed = by_subject[f"Your order {short} is placed"]
    paid = by_subject[f"Payment received for order {short}"]
    shipped = by_subject[f"Your order {short} has shipped"]
    assert {m.recipient for m in emails} == {"ann@example.com"}
    assert all(m.sender == "Mugs <shop@mugs.example>" for m in emails)
    assert "2 x MUG-1  €25.00" in placed.text
    assert "€25.00" in paid.text
    assert "JD0001" in shipped.text
    assert 'href="https://track.example/JD0001"' in shipped.html
    assert [(m.status, m.attempts) for m in recorded] == [(MailStatus.SENT, 1)] * 3
    assert {m.provider_message_id for m in recorded} == {m.message_id for m in emails}
    counted = _emails_counted()
    moved = {k: counted[k] - counted_before.get(k, 0.0) for k in counted}
    assert {k: n for k, n in moved.items() if n} == {
        "order_placed": 1.0,
        "order_paid": 1.0,
        "shipment_created": 1.0,
    }


async def test_a_backlog_of_emails_leaves_without_waiting_for_the_safety_net(
    worker_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    clean_engine: AsyncEngine,
) -> None:
    # Many more emails than the worker sends at once (8), and a safety-net poll too slow to
    # matter: as sends end, the room they leave is claimed at once.
    deps = replace(sql_dependencies(clean_engine), max_open_unpaid_orders=40)
    await make_product(deps, on_hand=100, unit_price=1250)
    for n in range(40):
        new = NewOrder((LineRequest("MUG-1", 1),), email="ann@example.com")
        fresh(await place_order(deps, Context(ANN, f"req-{n}"), new))
    async with catching(tmp_path / "mail") as catcher:
        mail_env(monkeypatch, catcher.port)
        monkeypatch.setenv("WORKER_RELAY_POLL_S", "60")
        async with worker_running():
            emails = await caught(catcher.folder, 40, wait_s=15)

    assert len(emails) == 40


def _emails_counted() -> dict[str, float]:
    """The worker's count of emails sent, by template (the process's metrics)."""
    found: dict[str, float] = {}
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == "orderly_emails_sent_total" and sample.labels["outcome"] == "sent":
                found[sample.labels["kind"]] = sample.value
    return found


async def test_a_reset_link_from_the_email_works_once_and_leaves_no_token_behind(
    worker_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    clean_engine: AsyncEngine,
) -> None:
    deps = sql_dependencies(clean_engine)
    fresh(
        await create_user(
            deps, ctx(), NewUser("ann@example.com", "correct horse battery", "Ann", Role.CUSTOMER)
        )
    )
    async with catching(tmp_path / "mail") as catcher:
        mail_env(monkeypatch, catcher.port)
        async with worker_running():
            ok(await request_password_reset(deps, ctx(Actor.anonymous()), "ann@example.com"))
            [email] = await caught(catcher.folder, 1)
            await settled(deps, 1)

    [link] = re.findall(rf"{re.escape(RESET_URL)}\?token=([A-Za-z0-9_-]+)", email.text)
    assert f"{RESET_URL}?token={link}" in email.html
    new_password = "a brand new passphrase"
    ok(await reset_password(deps, ctx(Actor.anonymous()), PasswordReset(link, new_password)))
    again = await reset_password(deps, ctx(Actor.anonymous()), PasswordReset(link, "x" * 20))
    assert err(again) == TokenRejected()
    ok(await log_in(deps, ctx(), Credentials("ann@example.com", new_password)))
    async with clean_engine.connect() as connection:  # a dump of the mail tables
        dump = [
            str(row)
            for table in (mail_messages, mail_attempts)
            for row in (await connection.execute(select(table))).all()
        ]
        tokens = (await connection.execute(text("select token_hash from account_tokens"))).all()
    assert dump
    assert not any(link in row for row in dump)
    assert all(link not in row.token_hash for row in tokens)


async def test_with_smtp_down_emails_wait_and_go_out_when_it_is_back(
    worker_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    clean_engine: AsyncEngine,
    closed_port: int,
) -> None:
    deps = sql_dependencies(clean_engine)
    fresh(
        await create_user(
            deps, ctx(), NewUser("ann@example.com", "correct horse battery", "Ann", Role.CUSTOMER)
        )
    )
    mail_env(monkeypatch, closed_port)
    async with worker_running():
        ok(await request_password_reset(deps, ctx(Actor.anonymous()), "ann@example.com"))
        waiting = await tried_twice(deps)
        async with catching(tmp_path / "mail", port=closed_port) as catcher:
            [email] = await caught(catcher.folder, 1)
            [sent] = await settled(deps, 1)

    assert waiting.status is MailStatus.PENDING
    assert waiting.last_error is not None
    assert sent.status is MailStatus.SENT
    assert sent.attempts >= 3
    assert sent.secret is None
    assert email.recipient == "ann@example.com"
    async with deps.unit_of_work() as uow:
        attempts = await uow.mail.attempts(sent.id)
    assert [a.error is None for a in attempts] == [False] * (len(attempts) - 1) + [True]


async def test_an_email_cut_short_by_sigkill_arrives_and_is_recorded_once(
    tmp_path: Path,
    database_url: str,
    worker_redis_url: str,
    clean_engine: AsyncEngine,
) -> None:
    deps = sql_dependencies(clean_engine)
    fresh(
        await create_user(
            deps, ctx(), NewUser("ann@example.com", "correct horse battery", "Ann", Role.CUSTOMER)
        )
    )
    release = asyncio.Event()
    log = tmp_path / "workers.log"
    folder = tmp_path / "mail"
    async with catching(folder, keeper=HoldingKeeper(folder, release)) as catcher:
        env = _bare_environment(
            DATABASE_URL=database_url,
            REDIS_URL=worker_redis_url,
            LOG_FORMAT="json",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(catcher.port),
            **(QUICK | {"SMTP_TIMEOUT_S": "1"}),  # a lease of 8 x 1 + 5 s
        )
        ok(await request_password_reset(deps, ctx(Actor.anonymous()), "ann@example.com"))
        with worker_process(env, log) as first:
            await caught(folder, 1)  # the server has it; the worker waits for its answer
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        release.set()
        with worker_process(env, log) as second:
            arrived = await caught(folder, 2)
            [sent] = await settled(deps, 1)
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0, log.read_text()

    assert len({mail.message_id for mail in arrived}) == 1  # one email, twice at the server
    assert (sent.status, sent.attempts) == (MailStatus.SENT, 1)
    async with deps.unit_of_work() as uow:
        assert [(a.number, a.error) for a in await uow.mail.attempts(sent.id)] == [(1, None)]
    assert sent.template is MailTemplate.PASSWORD_RESET
