"""X-Request-ID: accepted when well-formed, made up otherwise, on every response and log line."""

from __future__ import annotations

import re

import httpx
import pytest
import structlog
from fastapi import FastAPI

from orderly_core.shared.context import IDEMPOTENCY_KEY_RULE, Context
from orderly_http.context import RequestContext
from tests.http.helpers import assert_problem

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("offered", ["abc-123", "client.svc:req_9", "x" * 128, "0", "A.B-C_D:E"])
async def test_a_well_formed_request_id_is_echoed(client: httpx.AsyncClient, offered: str) -> None:
    response = await client.get("/api/v1/products/NOPE-1", headers={"X-Request-ID": offered})

    assert response.headers["x-request-id"] == offered
    assert response.json()["request_id"] == offered


@pytest.mark.parametrize(
    "offered",
    [b"", b"x" * 129, b"has space", b"back\\slash", b'quote"d', "é".encode(), b"a/b", b"{}"],
)
async def test_a_malformed_request_id_is_replaced(
    client: httpx.AsyncClient, offered: bytes
) -> None:
    response = await client.get("/health", headers={b"X-Request-ID": offered})

    assert response.status_code == 200
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_each_request_without_an_id_gets_its_own(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/health")).headers["x-request-id"] for _ in range(3)}

    assert len(ids) == 3
    assert all(GENERATED.fullmatch(request_id) for request_id in ids)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/health", 200),
        ("GET", "/ready", 200),
        ("GET", "/api/v1/products", 200),
        ("GET", "/api/v1/products?limit=900", 422),
        ("GET", "/api/v1/products/NOPE-1", 404),
        ("GET", "/api/v1/products/bad%20sku", 422),
        ("GET", "/no/such/route", 404),
        ("POST", "/api/v1/products/NOPE-1", 405),
        ("GET", "/openapi.json", 200),
        ("GET", "/docs", 200),
    ],
)
async def test_every_response_carries_the_request_id(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path, headers={"X-Request-ID": "every-1"})

    assert response.status_code == status
    assert response.headers.get_list("x-request-id") == ["every-1"]


async def test_the_request_id_and_actor_reach_the_use_case_and_every_log_line(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    seen: list[Context] = []

    async def probe(ctx: RequestContext) -> dict[str, str]:
        seen.append(ctx)
        structlog.get_logger("test").info("inside_the_route")
        return {}

    app.add_api_route("/api/v1/probe", probe)
    structlog.contextvars.bind_contextvars(left_over="from an earlier request")

    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        await client.get(
            "/api/v1/probe", headers={"X-Request-ID": "trace-7", "Idempotency-Key": "key-1"}
        )

    [ctx] = seen
    assert ctx.request_id == "trace-7"
    assert ctx.idempotency_key == "key-1"
    assert ctx.actor.kind.value == "anonymous"
    assert ctx.mode.value == "execute"
    [inside] = [entry for entry in logs if entry["event"] == "inside_the_route"]
    assert inside["request_id"] == "trace-7"
    assert inside["actor"] == "anonymous"
    [access] = [entry for entry in logs if entry["event"] == "request"]
    assert access["request_id"] == "trace-7"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/api/v1/probe", 200)
    assert isinstance(access["duration_ms"], float)
    assert all("left_over" not in entry for entry in logs)


async def test_a_request_without_an_idempotency_key_has_none(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    seen: list[Context] = []

    async def probe(ctx: RequestContext) -> dict[str, str]:
        seen.append(ctx)
        return {}

    app.add_api_route("/api/v1/probe", probe)
    await client.get("/api/v1/probe")

    assert seen[0].idempotency_key is None
    assert GENERATED.fullmatch(seen[0].request_id)


@pytest.mark.parametrize("key", [b"", b" padded ", b"x" * 256, "é".encode()])
async def test_a_malformed_idempotency_key_is_an_invalid_input_problem(
    client: httpx.AsyncClient, key: bytes
) -> None:
    response = await client.get("/api/v1/products", headers={b"Idempotency-Key": key})

    body = assert_problem(response, 422, "invalid_input")
    assert body["errors"] == [{"field": "Idempotency-Key", "message": IDEMPOTENCY_KEY_RULE}]


async def test_a_path_with_control_characters_is_logged_percent_encoded(
    client: httpx.AsyncClient,
) -> None:
    with structlog.testing.capture_logs() as logs:
        response = await client.get("/api/v1/orders/%00x%0Aforged%20line")

    assert response.status_code in (401, 404)
    [line] = [e for e in logs if e["event"] == "request"]
    assert line["path"] == "/api/v1/orders/%00x%0Aforged%20line"
