"""The OpenAPI document: the product routes declare their problems, and the answers match it."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest

from orderly_core.testing import in_memory_dependencies
from orderly_core.unit_of_work import Dependencies
from orderly_http.app import create_app
from orderly_http.settings import HttpSettings
from tests.http.helpers import seed, serving

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PRODUCT_ROUTES = {
    "/api/v1/products": {"422", "500"},
    "/api/v1/products/{sku}": {"404", "422", "500"},
}


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _validate(instance: Any, schema_name: str, document: dict[str, Any]) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    jsonschema.validate(instance, schema, cls=jsonschema.Draft202012Validator)


async def test_product_routes_declare_their_problems_as_problem_json(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)

    for path, statuses in PRODUCT_ROUTES.items():
        responses = document["paths"][path]["get"]["responses"]
        for status in statuses:
            assert responses[status]["content"] == {
                "application/problem+json": {"schema": PROBLEM_REF}
            }, (path, status)
    assert "HTTPValidationError" not in str(document)
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code", "request_id"}
    ready = document["paths"]["/ready"]["get"]["responses"]["503"]
    assert ready["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}


async def test_the_document_describes_orderly_errors_and_request_ids(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)

    assert document["info"]["title"] == "Orderly"
    assert document["info"]["version"]
    for topic in ("application/problem+json", "X-Request-ID", "next_cursor", "minor units"):
        assert topic in document["info"]["description"]
    listing = document["paths"]["/api/v1/products"]["get"]
    assert "keyset pagination" in listing["description"]  # the use case's own rules
    assert {parameter["name"] for parameter in listing["parameters"]} == {
        "limit", "cursor", "active", "q",
    }  # fmt: skip
    [limit] = [p for p in listing["parameters"] if p["name"] == "limit"]
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 200)


async def test_answers_match_the_schemas_the_document_declares(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    document = await _document(client)
    await seed(pg_deps, "MUG-1", on_hand=3)

    _validate((await client.get("/api/v1/products/MUG-1")).json(), "ProductResource", document)
    _validate((await client.get("/api/v1/products")).json(), "ProductPageResource", document)
    _validate((await client.get("/api/v1/products/NOPE")).json(), "Problem", document)
    _validate((await client.get("/api/v1/products?limit=0")).json(), "Problem", document)
    _validate((await client.get("/ready")).json(), "Readiness", document)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_interactive_docs_are_served(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


async def test_docs_can_be_switched_off(http_settings: HttpSettings) -> None:
    settings = http_settings.model_copy(update={"docs_enabled": False})

    async with serving(create_app(settings)) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await client.get(path)).status_code == 404, path


async def test_tests_may_hand_the_app_their_own_dependencies(
    http_settings: HttpSettings,
) -> None:
    deps = in_memory_dependencies()
    await seed(deps, "ONLY-IN-MEMORY")

    async with serving(create_app(http_settings, dependencies=deps)) as client:
        response = await client.get("/api/v1/products")

    assert [item["sku"] for item in response.json()["items"]] == ["ONLY-IN-MEMORY"]
