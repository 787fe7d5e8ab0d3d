"""The busiest answers are rendered from plain documents by orjson: the same bytes as their
declared resource models would give."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel

from orderly_core.catalogue.model import Product, Stock
from orderly_core.orders.address import Address
from orderly_core.orders.model import Order, OrderLine, OrderStatus
from orderly_core.platform.audit import AuditEntry
from orderly_core.shared.money import Money
from orderly_core.shared.paging import Page
from orderly_http.audit_schemas import AuditPageResource
from orderly_http.order_schemas import OrderPageResource, OrderResource
from orderly_http.schemas import (
    ProductPageResource,
    ProductResource,
    document_response,
    json_response,
)

WITH_MICROSECONDS = datetime(2026, 11, 30, 9, 15, 42, 123456, tzinfo=UTC)
ON_THE_SECOND = datetime(2026, 11, 30, 9, 15, 42, tzinfo=UTC)
ELSEWHERE = datetime(2026, 11, 30, 11, 15, 42, 5, tzinfo=timezone(timedelta(hours=2)))


def product(sku: str, at: datetime) -> Product:
    return Product(
        sku=sku,
        name='Mug "Blue" \u2013 330 ml',  # quotes and a non-ASCII dash
        description="Line one\nline two",
        price=Money(1250, "EUR"),
        active=sku != "OLD-1",
        stock=Stock(on_hand=7, reserved=2),
        version=3,
        created_at=at,
        updated_at=ELSEWHERE,
        low_stock_threshold=5,
    )


def order(reason: str | None) -> Order:
    return Order(
        id=uuid.UUID("8e03978e-40d5-43e8-bc93-6894a57f9324"),
        customer_id="5f0c1d2e-customer",
        status=OrderStatus.CANCELLED if reason else OrderStatus.PLACED,
        lines=(
            OrderLine("MUG-1", 2, Money(1250, "EUR")),
            OrderLine("CUP-2", 1, Money(0, "EUR")),
        ),
        placed_at=WITH_MICROSECONDS,
        updated_at=ON_THE_SECOND,
        expires_at=ELSEWHERE,
        version=2,
        cancel_reason=reason,
        # One order with checkout details, one without: both render alike both ways.
        email="ann@example.com" if reason else None,
        shipping_address=Address("Ann", "Hauptstr. 1", "Berlin", "DE", phone="+49 30 1")
        if reason
        else None,
        shipping_method="std-eur" if reason else None,
        shipping_price=490 if reason else 0,
    )


def entry(changes: dict[str, Any], at: datetime) -> AuditEntry:
    return AuditEntry(
        id=uuid.UUID("0b5c9a8e-6a4f-4c1d-9e2b-3f7a1d2c4e5f"),
        at=at,
        actor_kind="user",
        actor_id="5f0c1d2e-admin",
        actor_role="admin",
        operation="product.update",
        target_type="product",
        target_id="MUG-1",
        request_id="req-1",
        idempotency_key=None,
        mode="execute",
        changes=changes,
    )


# As PostgreSQL gives JSONB back: keys by length, so "after" before "before".
UPDATE = {
    "name": {"after": 'Mug "Blue" \u2013', "before": "Mug"},
    "unit_price": {"after": 1350, "before": 1250},
}
CREATION = {
    "sku": {"after": "MUG-1", "before": None},
    "tags": {"after": ["a", {"b": 1.5}], "before": None},
}
# A key the page does not show is left out both ways.
EXTRA = {"lines": {"after": [], "before": [{"sku": "MUG-1"}], "note": "not shown"}}


CASES: list[tuple[type[BaseModel], Any]] = [
    (ProductResource, product("MUG-1", WITH_MICROSECONDS)),
    (ProductResource, product("OLD-1", ON_THE_SECOND)),
    (
        ProductPageResource,
        Page((product("A-1", ON_THE_SECOND), product("B-2", ELSEWHERE)), "B-2"),
    ),
    (ProductPageResource, Page((), None)),
    (OrderResource, order(None)),
    (OrderResource, order("expired")),
    (OrderPageResource, Page((order(None), order("changed my mind")), "cursor==")),
    (
        AuditPageResource,
        Page(
            (
                entry(UPDATE, WITH_MICROSECONDS),
                entry(CREATION, ON_THE_SECOND),
                entry(EXTRA, ELSEWHERE),
                entry({}, ON_THE_SECOND),
            ),
            "cursor==",
        ),
    ),
    (AuditPageResource, Page((), None)),
    # An integer beyond 64 bits, which orjson does not write: rendered all the same.
    (
        AuditPageResource,
        Page((entry({"on_hand": {"after": 2**70, "before": 1}}, ON_THE_SECOND),), None),
    ),
]


@pytest.mark.parametrize(("resource", "value"), CASES)
def test_a_document_renders_byte_for_byte_as_its_resource_model(
    resource: Any, value: object
) -> None:
    from_model = json_response(resource.from_domain(value)).body
    from_document = document_response(resource.document(value)).body

    assert from_document == from_model
    resource.model_validate_json(from_document)  # and it is what the API declares
