"""The public view of an order: its times are UTC whatever the zone they were made in and
whatever the machine's own zone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from orderly_core.orders.model import Order, OrderLine, OrderStatus, order_view
from orderly_core.shared.money import Money

BERLIN_SUMMER = timezone(timedelta(hours=2))


@pytest.fixture
def machine_in_tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("machine_in_tokyo")
def test_an_orders_times_are_shown_in_utc() -> None:
    placed = datetime(2030, 6, 1, 14, 0, tzinfo=BERLIN_SUMMER)
    order = Order(
        id=uuid.UUID(int=5),
        customer_id="c-1",
        status=OrderStatus.PAID,
        lines=(OrderLine("MUG-1", 2, Money(1250, "EUR")),),
        placed_at=placed,
        updated_at=placed + timedelta(minutes=3),
        expires_at=placed + timedelta(minutes=30),
        version=2,
    )

    view = order_view(order)

    assert {key: view[key] for key in ("created_at", "updated_at", "expires_at")} == {
        "created_at": datetime(2030, 6, 1, 12, 0, tzinfo=UTC),
        "updated_at": datetime(2030, 6, 1, 12, 3, tzinfo=UTC),
        "expires_at": datetime(2030, 6, 1, 12, 30, tzinfo=UTC),
    }
    assert {view[key].utcoffset() for key in ("created_at", "updated_at", "expires_at")} == {
        timedelta(0)
    }
