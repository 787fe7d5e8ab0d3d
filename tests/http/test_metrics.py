"""``GET /metrics``: scraped after real requests, the counters moved by exactly what was done.

The metrics belong to the process, which runs other tests too: each test reads them before
and after and checks the difference.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from orderly_http.app import create_app
from orderly_http.settings import HttpSettings
from tests.http.accounts import signed_in
from tests.http.helpers import assert_problem, seed, serving

pytestmark = pytest.mark.postgres

ORDERS = "/api/v1/orders"
type Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: Samples, name: str, labels: Mapping[str, str] | None = None) -> float:
    return samples.get((name, frozenset((labels or {}).items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, labels) - value(before, name, labels)


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def lines(*pairs: tuple[str, int]) -> dict[str, object]:
    return {"lines": [{"sku": sku, "quantity": quantity} for sku, quantity in pairs]}


async def test_a_placement_a_replay_and_a_refusal_move_their_counters(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=3)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    before = await scrape(client)

    once = key()
    placed = await client.post(ORDERS, json=lines(("MUG-1", 2)), headers=ann | once)
    replayed = await client.post(ORDERS, json=lines(("MUG-1", 2)), headers=ann | once)
    refused = await client.post(ORDERS, json=lines(("MUG-1", 5)), headers=ann | key())
    read = await client.get(placed.headers["location"], headers=ann)
    after = await scrape(client)

    assert placed.status_code == replayed.status_code == 201, placed.text
    assert replayed.headers["idempotent-replayed"] == "true"
    assert_problem(refused, 409, "out_of_stock")
    assert read.status_code == 200
    assert moved(before, after, "orderly_orders_total", event="placed") == 1
    assert moved(before, after, "orderly_outbox_events_total", type="order.placed") == 1
    assert moved(before, after, "orderly_idempotent_replays_total") == 1
    assert moved(before, after, "orderly_stock_reservations_refused_total") == 1
    requests = "orderly_http_requests_total"
    assert moved(before, after, requests, route=ORDERS, method="POST", status="201") == 2
    assert moved(before, after, requests, route=ORDERS, method="POST", status="409") == 1
    # The order's own URL is counted under its route's template, never under its id.
    template = f"{ORDERS}/{{order_id}}"
    assert moved(before, after, requests, route=template, method="GET", status="200") == 1
    assert not any(str(placed.json()["id"]) in dict(labels).get("route", "") for _, labels in after)
    durations = "orderly_http_request_duration_seconds_count"
    assert moved(before, after, durations, route=ORDERS, method="POST") == 3
    # Every unit of work gave its connection back.
    assert value(after, "orderly_db_pool_connections_in_use") == 0
    assert value(after, "orderly_db_pool_waiting") == 0


async def test_a_dry_run_counts_no_order_and_no_refusal(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=1)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    before = await scrape(client)
    dry = f"{ORDERS}?mode=dry_run"

    priced = await client.post(dry, json=lines(("MUG-1", 1)), headers=ann | key())
    short = await client.post(dry, json=lines(("MUG-1", 2)), headers=ann | key())
    after = await scrape(client)

    assert priced.status_code == 200, priced.text
    assert short.status_code == 409
    assert moved(before, after, "orderly_orders_total", event="placed") == 0
    assert moved(before, after, "orderly_stock_reservations_refused_total") == 0


async def test_paths_and_methods_nobody_routes_share_one_label(client: httpx.AsyncClient) -> None:
    before = await scrape(client)

    for path in (f"/no/such/{uuid.uuid4()}", f"/api/v1/{uuid.uuid4()}"):
        assert (await client.get(path)).status_code == 404
    odd = await client.request("BREW", "/health")
    after = await scrape(client)

    assert odd.status_code == 405
    requests = "orderly_http_requests_total"
    assert moved(before, after, requests, route="unmatched", method="GET", status="404") == 2
    assert moved(before, after, requests, route="/health", method="OTHER", status="405") == 1
    routes = {dict(labels).get("route") for _, labels in after}
    assert not any(str(route).startswith(("/no/", "/api/v1/0")) for route in routes)
    assert "BREW" not in {dict(labels).get("method") for _, labels in after}


async def test_metrics_stay_out_of_the_openapi_document_and_can_be_turned_off(
    client: httpx.AsyncClient, http_settings: HttpSettings
) -> None:
    document = (await client.get("/openapi.json")).json()
    off: FastAPI = create_app(http_settings.model_copy(update={"metrics_enabled": False}))

    async with serving(off) as without:
        missing = await without.get("/metrics")

    assert "/metrics" not in document["paths"]
    assert missing.status_code == 404
    assert "orderly_http_requests_total" in (await client.get("/metrics")).text


async def test_an_order_paid_and_one_cancelled_are_counted(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=5)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    before = await scrape(client)

    paid = await client.post(ORDERS, json=lines(("MUG-1", 1)), headers=ann | key())
    payment = {"amount": 1000, "reference": "cash"}
    settled = await client.post(
        f"{paid.headers['location']}/pay",
        json=payment,
        headers=staff | key(),
    )
    dropped = await client.post(ORDERS, json=lines(("MUG-1", 1)), headers=ann | key())
    cancelled = await client.post(
        f"{dropped.headers['location']}/cancel",
        headers=ann | key(),
    )
    after = await scrape(client)

    assert settled.status_code == 201, settled.text
    assert cancelled.status_code == 200, cancelled.text
    assert moved(before, after, "orderly_orders_total", event="placed") == 2
    assert moved(before, after, "orderly_orders_total", event="paid") == 1
    assert moved(before, after, "orderly_orders_total", event="cancelled") == 1
    assert moved(before, after, "orderly_orders_total", event="expired") == 0
