"""The OpenAPI document clients are generated from: valid, every operation named
``<resource>.<verb>`` once, and a route without such a name refused when the app is built."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from openapi_spec_validator import validate

from orderly_http.openapi import OPERATION_ID, require_operation_ids


def test_the_document_is_valid_openapi(app: FastAPI) -> None:
    document = app.openapi()

    validate(document)  # raises with the first invalid part


def test_every_operation_is_named_resource_dot_verb_once(app: FastAPI) -> None:
    document = app.openapi()

    names = [
        operation["operationId"]
        for path in document["paths"].values()
        for operation in path.values()
    ]
    assert len(names) > 60
    assert [name for name in names if not OPERATION_ID.fullmatch(name)] == []
    assert len(set(names)) == len(names)
    paths: dict[str, Any] = document["paths"]
    assert paths["/api/v1/orders"]["post"]["operationId"] == "orders.place"
    assert paths["/api/v1/orders"]["get"]["operationId"] == "orders.list"
    assert paths["/api/v1/products"]["get"]["operationId"] == "products.list"
    assert paths["/api/v1/products/{sku}"]["get"]["operationId"] == "products.get"
    assert paths["/api/v1/auth/token"]["post"]["operationId"] == "auth.sign_in"


def test_form_bodies_are_named_after_their_operation(app: FastAPI) -> None:
    document = app.openapi()

    schemas = document["components"]["schemas"]
    assert [name for name in schemas if name.startswith("Body_") or "." in name] == []
    sign_in = document["paths"]["/api/v1/auth/token"]["post"]["requestBody"]
    form = sign_in["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form == {"$ref": "#/components/schemas/AuthSignInForm"}
    assert schemas["AuthSignInForm"]["title"] == "AuthSignInForm"
    titles = [schema.get("title", name) for name, schema in schemas.items()]
    assert len(set(titles)) == len(titles)  # generated clients name their classes after them


def _app_with(router: APIRouter) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    return app


def test_a_route_without_an_operation_id_is_refused_when_the_app_is_built() -> None:
    router = APIRouter(prefix="/api/v1/mail")

    @router.get("")
    async def list_mail() -> None: ...

    with pytest.raises(RuntimeError, match=r"GET /api/v1/mail: give the route operation_id"):
        require_operation_ids(_app_with(router))


@pytest.mark.parametrize(
    "operation_id",
    ["list_mail", "Mail.list", "mail.list.all", "mail.", "mail.list\x00", "máil.list"],
)
def test_an_operation_id_of_another_form_is_refused(operation_id: str) -> None:
    router = APIRouter()

    @router.get("/mail", operation_id=operation_id)
    async def list_mail() -> None: ...

    with pytest.raises(RuntimeError, match=r"<resource>\.<verb>"):
        require_operation_ids(_app_with(router))


def test_two_routes_with_one_operation_id_are_refused() -> None:
    router = APIRouter()

    @router.get("/mail", operation_id="mail.list")
    async def list_mail() -> None: ...

    @router.get("/letters", operation_id="mail.list")
    async def list_letters() -> None: ...

    with pytest.raises(RuntimeError, match=r"GET /letters: operation_id 'mail.list' is GET /mail"):
        require_operation_ids(_app_with(router))


def test_routes_left_out_of_the_document_need_no_name() -> None:
    router = APIRouter()

    @router.get("/internal", include_in_schema=False)
    async def internal() -> None: ...

    require_operation_ids(_app_with(router))
