"""No log line carries a statement's parameters, a password hash, a token or a secret.

Statements that fail with secret-bearing rows are run for real, on the engine Orderly makes
(SQLAlchemy's path) and on the driver connection (the compiled statements' path): PostgreSQL
refuses a NUL byte in text, or a row breaking a check constraint, whose error detail quotes the
whole row. Each failure is logged as the adapters' boundaries log one (through structlog and
through the standard library, as uvicorn does), in the production (JSON) and the development
(console) formats, and every line written to stderr is searched.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from sqlalchemy import bindparam, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_db.engine import transaction
from orderly_db.log import MASK, LogFormat, configure_logging
from orderly_db.statements import DriverConnection, Statement, json_text
from orderly_db.tables import users, webhook_endpoints
from tests.db_fixtures import FAST_PASSWORDS

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwXr2TQ1QXh7s="
ACCESS_TOKEN = (  # a JSON Web Token's shape: header, claims, signature
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbm4iLCJleHAiOjE5MDAwMDAwMDB9"
    ".c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1pbi10aGUtdGVzdA"
)
_INSERT_USER = Statement.compiled(
    insert(users).values({c.name: bindparam(c.name) for c in users.c})
)
_INSERT_ENDPOINT = Statement.compiled(
    insert(webhook_endpoints).values({c.name: bindparam(c.name) for c in webhook_endpoints.c})
)


@pytest.fixture(params=["json", "console"])
def log_format(request: pytest.FixtureRequest) -> Iterator[LogFormat]:
    """Logging configured as the processes configure it, in each format."""
    chosen: LogFormat = request.param
    configure_logging(chosen, "DEBUG")
    yield chosen
    configure_logging("json", "INFO")


def _user_row(password_hash: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    row = {
        "id": uuid.uuid4(),
        "email": "ann@example.com",
        "display_name": "Ann",
        "password_hash": password_hash,
        "role": "customer",
        "active": True,
        "created_at": now,
        "updated_at": now,
        "tokens_valid_after": None,
        "email_verified_at": None,
    }
    return row | changes


def _endpoint_row(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    row = {
        "id": uuid.uuid4(),
        "url": "https://hooks.example.com/orderly",
        "event_types": json_text(["order.placed"]),
        "secret": WEBHOOK_SECRET,
        "previous_secret": None,
        "previous_secret_until": None,
        "active": True,
        "failing_since": None,
        "disabled_reason": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    return row | changes


async def _on_the_engine(engine: AsyncEngine, row: dict[str, Any]) -> DBAPIError:
    with pytest.raises(DBAPIError) as failed:
        async with transaction(engine) as connection:
            await connection.execute(insert(users).values(row))
    return failed.value


async def _on_the_driver(
    engine: AsyncEngine, work: Callable[[DriverConnection], Awaitable[object]]
) -> DBAPIError:
    async with engine.connect() as connection:
        pooled = await connection.get_raw_connection()
        driver: DriverConnection = pooled.driver_connection  # type: ignore[assignment]
        with pytest.raises(DBAPIError) as failed:
            await work(driver)
    return failed.value


def _log_everywhere(error: BaseException) -> None:
    """Log ``error`` as Orderly's boundaries do, and as a library through logging would."""
    structlog.get_logger().error("unhandled_exception", exc_info=error)
    logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=error)


async def test_failing_statements_log_no_hash_no_secret_and_no_parameter(
    clean_engine: AsyncEngine, log_format: LogFormat, capsys: pytest.CaptureFixture[str]
) -> None:
    password_hash = await FAST_PASSWORDS.hash("correct horse battery")
    capsys.readouterr()

    failures = [
        # SQLAlchemy's path: a NUL in a text column, then a row that breaks a check constraint.
        await _on_the_engine(clean_engine, _user_row(password_hash, display_name="A\x00")),
        await _on_the_engine(clean_engine, _user_row(password_hash, email="Ann@Example.com")),
        # The driver's path, the same two ways.
        await _on_the_driver(
            clean_engine,
            lambda driver: _INSERT_ENDPOINT.execute(driver, _endpoint_row(url="https://a\x00")),
        ),
        await _on_the_driver(
            clean_engine,
            lambda driver: _INSERT_USER.execute(driver, _user_row(password_hash, role="nobody")),
        ),
    ]
    for error in failures:
        _log_everywhere(error)
    _log_everywhere(RuntimeError(f"could not verify the token {ACCESS_TOKEN}"))
    structlog.get_logger().info("request", header=f"Bearer {ACCESS_TOKEN}")

    rendered = capsys.readouterr().err
    lines = rendered.splitlines()
    assert sum("unhandled_exception" in line for line in lines) == len(failures) + 1
    assert "email_lower_case" in rendered  # what failed is still told: the constraint...
    assert "0x00" in rendered  # ... and the refused byte
    for secret in (
        password_hash,
        password_hash.rsplit("$", 1)[-1],
        "$argon2id$",
        WEBHOOK_SECRET,
        WEBHOOK_SECRET.removeprefix("whsec_"),
        ACCESS_TOKEN,
        ACCESS_TOKEN.split(".")[2],
        "ann@example.com",
        "Ann@Example.com",
        "[parameters:",
    ):
        assert not [line for line in lines if secret in line], f"{secret!r} is in the log"


STRIPE_SECRET_KEY = "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc"
CLIENT_SECRET = "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH"


def test_stripe_keys_and_client_secrets_are_masked_in_every_log_line(
    log_format: LogFormat, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    structlog.get_logger().warning(
        "payment_provider_failed", error=f"Invalid API Key provided: {STRIPE_SECRET_KEY}"
    )
    logging.getLogger("stripe").warning("created %s", CLIENT_SECRET)
    _log_everywhere(RuntimeError(f"confirm failed for {CLIENT_SECRET} with {STRIPE_SECRET_KEY}"))

    lines = capsys.readouterr().err.splitlines()
    assert sum("payment_provider_failed" in line for line in lines) == 1
    assert [line for line in lines if "created" in line and MASK in line]  # logged, masked
    for secret in (STRIPE_SECRET_KEY, CLIENT_SECRET, "_secret_YrKJUKribcBjcG8HVhfZluoGH"):
        assert not [line for line in lines if secret in line], f"{secret!r} is in the log"
