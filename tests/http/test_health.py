"""Liveness without I/O; readiness naming whichever of PostgreSQL and Redis is down."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.engine import make_url
from structlog.testing import capture_logs

from orderly_http.app import create_app
from tests.http.helpers import assert_problem, serving, settings_for


async def test_health_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_health_does_no_io_so_it_stays_ok_with_every_server_down(
    closed_port: int,
) -> None:
    unreachable = settings_for(
        "postgresql+asyncpg://nobody@127.0.0.1:1/none", f"redis://127.0.0.1:{closed_port}/0"
    )
    async with serving(create_app(unreachable)) as client:
        health = await client.get("/health")
        ready = await client.get("/ready")

    assert health.status_code == 200
    body = assert_problem(ready, 503, "not_ready")
    assert body["checks"] == {"postgres": "down", "redis": "down"}


async def test_a_request_needing_an_unreachable_database_is_503_with_retry_after(
    closed_port: int,
) -> None:
    unreachable = settings_for(
        f"postgresql+asyncpg://nobody@127.0.0.1:{closed_port}/none",
        f"redis://127.0.0.1:{closed_port}/0",
    )
    async with serving(create_app(unreachable), raise_app_exceptions=False) as client:
        with capture_logs() as logs:
            products = await client.get("/api/v1/products")

    assert_problem(products, 503, "service_unavailable")
    assert products.headers["retry-after"] == "2"
    assert [line["event"] for line in logs if line["log_level"] == "warning"] == [
        "service_unavailable"
    ]
    assert not [line for line in logs if line["log_level"] == "error"]


async def test_ready_when_postgres_and_redis_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"postgres": "ok", "redis": "ok"}}


@pytest.mark.usefixtures("clean_engine")
async def test_not_ready_names_redis_when_redis_is_down(
    database_url: str, closed_port: int
) -> None:
    settings = settings_for(database_url, f"redis://127.0.0.1:{closed_port}/0")

    async with serving(create_app(settings)) as client:
        response = await client.get("/ready")

    body = assert_problem(response, 503, "not_ready")
    assert body["type"] == "/problems/not_ready"
    assert body["checks"] == {"postgres": "ok", "redis": "down"}
    assert "redis" in body["detail"]
    assert "postgres" not in body["detail"]


@pytest.mark.usefixtures("clean_engine")
async def test_not_ready_names_postgres_when_the_database_does_not_exist(
    database_url: str, redis_url: str
) -> None:
    missing = make_url(database_url).set(database="orderly_no_such_database")
    settings = settings_for(missing.render_as_string(hide_password=False), redis_url)

    async with serving(create_app(settings)) as client:
        response = await client.get("/ready")
        products = await client.get("/api/v1/products")

    body = assert_problem(response, 503, "not_ready")
    assert body["checks"] == {"postgres": "down", "redis": "ok"}
    assert "postgres" in body["detail"]
    assert "redis" not in body["detail"]
    # A use case meeting the missing database is unavailable, answered without the details.
    assert_problem(products, 503, "service_unavailable")
    assert "orderly_no_such_database" not in products.text
