"""Every error is a problem document, and no stack trace ever reaches a client."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import pkgutil
from collections.abc import MutableMapping
from typing import Any, ClassVar

import httpx
import pytest
import structlog
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send
from structlog.typing import Processor

import orderly_core
from orderly_core.catalogue.errors import ProductNotFound
from orderly_core.orders.errors import CustomerNotFound
from orderly_core.platform.idempotency import Replayed
from orderly_core.shared.errors import FieldError, InvalidInput, VersionConflict
from orderly_http.app import create_app
from orderly_http.problems import PROBLEM_KINDS, domain_problem
from orderly_http.settings import HttpSettings
from tests.http.helpers import assert_problem, serving

SECRET = "the database password is hunter2"
LOG_PROCESSORS: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.format_exc_info,
]

CONTEXTS = {"shared", "platform", "catalogue", "orders", "accounts", "webhooks", "jobs"}


def _domain_errors() -> list[type]:
    """Every class of the core that is a dataclass with a ``code``: the errors its use cases
    return, found by importing each of its modules."""
    found: set[type] = set()
    for module_info in pkgutil.walk_packages(orderly_core.__path__, "orderly_core."):
        module = importlib.import_module(module_info.name)
        for _, member in inspect.getmembers(module, inspect.isclass):
            if (
                member.__module__.startswith("orderly_core.")
                and dataclasses.is_dataclass(member)
                and isinstance(getattr(member, "code", None), str)
            ):
                found.add(member)
    return sorted(found, key=lambda error: (error.__module__, error.__name__))


DOMAIN_ERRORS = _domain_errors()


def test_the_scan_finds_the_errors_of_every_context_and_every_row_of_the_table() -> None:
    assert len(DOMAIN_ERRORS) >= 25
    assert {error.__module__.split(".")[1] for error in DOMAIN_ERRORS} >= CONTEXTS
    assert set(PROBLEM_KINDS) <= set(DOMAIN_ERRORS)


@pytest.mark.parametrize("error", DOMAIN_ERRORS, ids=lambda error: error.__name__)
def test_every_domain_error_has_a_problem_type(error: type) -> None:
    assert error in PROBLEM_KINDS, f"{error.__module__}.{error.__name__} has no row"


def test_a_stale_version_is_a_failed_precondition_only_when_the_client_sent_if_match() -> None:
    conflict = VersionConflict("product", "MUG-1", expected=1, current=2)

    assert domain_problem(conflict, "r").status_code == 409
    assert domain_problem(conflict, "r", conditional=True).status_code == 412
    assert domain_problem(ProductNotFound("MUG-1"), "r", conditional=True).status_code == 404


def test_a_problem_carries_the_errors_own_members_without_losing_standard_ones() -> None:
    conflict = VersionConflict("product", "MUG-1", 1, 2)

    body = json.loads(bytes(domain_problem(conflict, "req-1").body))

    assert body == {
        "type": "/problems/version_conflict",
        "title": "Version conflict",
        "status": 409,
        "detail": "Product 'MUG-1' is at version 2, not 1: reload it and apply the change again.",
        "code": "version_conflict",
        "request_id": "req-1",
        "sku": "MUG-1",
        "target_type": "product",
        "target_id": "MUG-1",
        "expected": 1,
        "current": 2,
    }


def test_an_unknown_customer_is_invalid_input_naming_the_field_and_the_name_given() -> None:
    body = json.loads(bytes(domain_problem(CustomerNotFound("ann@example.com"), "req-1").body))

    assert body == {
        "type": "/problems/customer_not_found",
        "title": "Customer not found",
        "status": 422,
        "detail": "'ann@example.com' is neither the id nor the email of an active customer "
        "account.",
        "code": "customer_not_found",
        "request_id": "req-1",
        "customer": "ann@example.com",
        "field": "customer_id",
    }


def test_field_names_are_renamed_to_the_requests_own() -> None:
    error = InvalidInput((FieldError("search", "too long"), FieldError("limit", "too big")))

    body = json.loads(bytes(domain_problem(error, "r", field_names={"search": "q"}).body))

    assert body["errors"] == [
        {"field": "q", "message": "too long"},
        {"field": "limit", "message": "too big"},
    ]


def test_an_error_without_a_problem_type_is_a_bug_not_a_client_error() -> None:
    class Unmapped:
        code: ClassVar[str] = "unmapped"

        @property
        def detail(self) -> str:
            return "?"

    with pytest.raises(LookupError):
        domain_problem(Unmapped(), "r")


async def test_an_unknown_route_is_a_not_found_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")

    body = assert_problem(response, 404, "not_found")
    assert body["type"] == "about:blank"


async def test_a_wrong_method_is_a_method_not_allowed_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/products")

    body = assert_problem(response, 405, "method_not_allowed")
    assert body["type"] == "about:blank"
    assert response.headers["allow"] == "GET"


def _assert_no_internals(response: httpx.Response) -> None:
    for leak in ("Traceback", "RuntimeError", "hunter2", 'File "', ".py"):
        assert leak not in response.text


def _error_entries(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry.get("event") == "unhandled_exception"]


async def test_an_unhandled_exception_is_a_500_problem_and_a_logged_traceback(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def explode() -> None:
        raise RuntimeError(SECRET)

    app.add_api_route("/api/v1/explode", explode)

    with structlog.testing.capture_logs(processors=LOG_PROCESSORS) as logs:
        response = await client.get("/api/v1/explode", headers={"X-Request-ID": "boom-1"})

    body = assert_problem(response, 500, "internal_error")
    assert body["request_id"] == "boom-1"
    assert set(body) == {"type", "title", "status", "detail", "code", "request_id"}
    _assert_no_internals(response)
    [entry] = _error_entries(logs)
    assert entry["request_id"] == "boom-1"
    assert entry["path"] == "/api/v1/explode"
    assert "Traceback" in entry["exception"]
    assert f"RuntimeError: {SECRET}" in entry["exception"]
    access = [entry for entry in logs if entry.get("event") == "request"]
    assert [(a["status"], a["request_id"]) for a in access] == [(500, "boom-1")]


class _ExplodingMiddleware:
    """Fails outside the request-id middleware, where only Starlette's
    ServerErrorMiddleware is left to answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raise RuntimeError(SECRET)
        await self.app(scope, receive, send)


async def test_an_exception_outside_every_orderly_layer_is_still_a_500_problem(
    http_settings: HttpSettings,
) -> None:
    app = create_app(http_settings)
    app.add_middleware(_ExplodingMiddleware)

    # ServerErrorMiddleware re-raises after answering, for the server to see: let it.
    async with serving(app, raise_app_exceptions=False) as client:
        with structlog.testing.capture_logs(processors=LOG_PROCESSORS) as logs:
            response = await client.get("/health")

    assert_problem(response, 500, "internal_error")
    _assert_no_internals(response)
    [entry] = _error_entries(logs)
    assert f"RuntimeError: {SECRET}" in entry["exception"]


def test_a_replayed_refusal_is_the_first_answer_naming_the_first_request() -> None:
    conflict = VersionConflict("product", "MUG-1", expected=1, current=2)
    first = domain_problem(conflict, "req-first")

    replayed = domain_problem(Replayed(conflict, "req-first"), "req-retry")

    assert (replayed.status_code, bytes(replayed.body)) == (409, bytes(first.body))
    assert replayed.headers["Idempotent-Replayed"] == "true"
