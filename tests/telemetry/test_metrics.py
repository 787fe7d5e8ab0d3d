"""The metrics' definitions: names, and what a committed event counts as."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, Counter
from prometheus_client.metrics import MetricWrapperBase

from orderly_core.platform.outbox import Event, EventType
from orderly_telemetry import metrics


def _event(event_type: EventType, **data: Any) -> Event:
    return Event(uuid.uuid4(), event_type, "order:1", 1, data, "req-1", datetime.now(UTC))


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


DOCS = Path(__file__).resolve().parents[2] / "docs" / "observability.md"


def test_every_metric_has_the_orderly_prefix_and_is_documented() -> None:
    defined = [value for value in vars(metrics).values() if isinstance(value, MetricWrapperBase)]
    documented = DOCS.read_text(encoding="utf-8")

    assert len(defined) == 16
    for metric in defined:
        name = metric._name
        assert name.startswith("orderly_"), name
        shown = f"{name}_total" if isinstance(metric, Counter) else name
        assert f"`{shown}`" in documented, f"{shown} is missing from docs/observability.md"


def test_a_cancellation_for_expiry_counts_as_expired_and_other_events_as_events_only() -> None:
    names = ("placed", "paid", "cancelled", "expired")
    before = {name: _count("orderly_orders_total", event=name) for name in names}
    low = _count("orderly_outbox_events_total", type="stock.low")

    metrics.events_committed(
        [
            _event(EventType.ORDER_PLACED),
            _event(EventType.ORDER_CANCELLED, cancel_reason="expired"),
            _event(EventType.ORDER_CANCELLED, cancel_reason="customer"),
            _event(EventType.ORDER_PAID),
            _event(EventType.STOCK_LOW),
        ]
    )

    after = {name: _count("orderly_orders_total", event=name) for name in names}
    assert {name: after[name] - before[name] for name in names} == dict.fromkeys(names, 1)
    assert _count("orderly_outbox_events_total", type="stock.low") == low + 1
