"""The OpenAPI document: Orderly's description, and the problem schema every route declares."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from orderly_http.schemas import Problem

API_DESCRIPTION = """\
Orders and inventory for small online shops: the product catalogue with its stock levels.

**Errors.** Every error is an RFC 9457 problem document (`application/problem+json`) with
`type`, `title`, `status`, `detail`, a stable machine-readable `code` (`product_not_found`,
`invalid_input`...) and the `request_id`, plus members particular to the problem: an
`invalid_input` problem lists each invalid field in `errors` as `{"field", "message"}`.
Branch on `code`, not on `detail`, which is meant for people.

**Request ids.** Send `X-Request-ID` (1-128 characters of `A-Z a-z 0-9 . _ : -`) to name a
request; otherwise the API makes one up. Every response carries it back in `X-Request-ID`, and
problems repeat it as `request_id`: quote it when reporting a problem.

**Pagination.** Lists are pages in a stable order: `{"items": [...], "next_cursor": "..."}`.
Pass `next_cursor` as `cursor` to get the next page; it is null on the last one.

**Money.** Prices are integers in the currency's minor units (`1250` EUR is 12.50 EUR) with an
ISO 4217 `currency`; timestamps are RFC 3339 in UTC.

**Holds on stock.** An unpaid order holds its stock until it is paid or expires, so holds are
limited: a customer has at most `MAX_OPEN_UNPAID_ORDERS` unpaid orders at once (3 unless the
shop sets it; one more is `409 too_many_open_orders`), an order line at most 1,000 units, and
an order at most a product's own `max_per_order` units of it (`409 max_per_order_exceeded`).
"""


# ``<resource>.<verb>``: generated clients name their methods after it (``orders_place``).
OPERATION_ID = re.compile(r"[a-z][a-z_]*\.[a-z][a-z_]*")


def require_operation_ids(app: FastAPI) -> None:
    """Refuse to build an API whose documented routes lack a stable ``operation_id`` of the
    form ``<resource>.<verb>``, or share one: FastAPI would otherwise make one up from the
    function's name and path, and every generated client would change with them."""
    seen: dict[str, str] = {}
    for route in iter_route_contexts(app.routes):  # routers included in routers too
        original = route.original_route
        if not isinstance(original, APIRoute) or not original.include_in_schema:
            continue
        where = f"{'/'.join(sorted(route.methods or ()))} {route.path}"
        operation_id = original.operation_id
        if operation_id is None or OPERATION_ID.fullmatch(operation_id) is None:
            raise RuntimeError(
                f"{where}: give the route operation_id='<resource>.<verb>' "
                f"(such as 'orders.place'), not {operation_id!r}"
            )
        if operation_id in seen:
            raise RuntimeError(f"{where}: operation_id {operation_id!r} is {seen[operation_id]}'s")
        seen[operation_id] = where


def problem_schemas() -> dict[str, Any]:
    """``Problem`` and the models it refers to, as OpenAPI component schemas."""
    schema = Problem.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    nested: dict[str, Any] = schema.pop("$defs", {})
    return {**nested, "Problem": schema}


def whole_bounds(node: Any) -> None:
    """Give every integer's ``minimum`` and ``maximum`` back as integers, in place: FastAPI's
    model of the document reads them as floats (``1000.0``), which generated clients and
    test-data generators then take for non-integers."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for bound in ("minimum", "maximum"):
                value = node.get(bound)
                if isinstance(value, float) and value.is_integer():
                    node[bound] = int(value)
        for child in node.values():
            whole_bounds(child)
    elif isinstance(node, list):
        for child in node:
            whole_bounds(child)


def name_form_bodies(document: dict[str, Any]) -> None:
    """Name the schemas of form and file bodies after their operation, in place: FastAPI
    names them ``Body_<operation id>``, which the schema generator cuts at the dot (``submit``,
    ``sign_in``). ``auth.sign_in``'s becomes ``AuthSignInForm``."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    renamed: dict[str, str] = {}
    for key, schema in list(schemas.items()):
        title = schema.get("title", "")
        if isinstance(title, str) and title.startswith("Body_"):
            name = "".join(word.capitalize() for word in re.split(r"[._]", title[5:])) + "Form"
            schema["title"] = name
            schemas[name] = schemas.pop(key)
            renamed[f"#/components/schemas/{key}"] = f"#/components/schemas/{name}"
    if renamed:
        _rename_refs(document, renamed)


def _rename_refs(node: Any, renamed: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in renamed:
            node["$ref"] = renamed[ref]
        for child in node.values():
            _rename_refs(child, renamed)
    elif isinstance(node, list):
        for child in node:
            _rename_refs(child, renamed)


def openapi_builder(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's document, with the ``Problem`` schema the routes' problem responses name,
    integer bounds written as integers and form bodies named after their operation."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(problem_schemas())
            whole_bounds(document)
            name_form_bodies(document)
            app.openapi_schema = document
        return app.openapi_schema

    return build
