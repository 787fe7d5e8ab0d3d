"""`orderly returns list|show|approve|reject|receive` through Typer's runner, on real
PostgreSQL, with the manual provider (the default): the customer's request is made through
the core, as the API makes it; the operator decides and receives."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from orderly_core.returns.model import Return
from orderly_core.returns.requests import ReturnLineRequest, ReturnRequest, request_return
from orderly_core.shared.context import Actor, Context, Role
from orderly_db.engine import create_engine
from orderly_db.settings import InfraSettings
from orderly_db.unit_of_work import sql_dependencies
from tests.cli.conftest import Cli
from tests.cli.helpers import in_thread, ok_json
from tests.cli.test_orders import add_account, create, pay, place

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def shop(cli: Cli, infra_settings: InfraSettings) -> Cli:
    create(cli, "MUG-01", "12.50", 40)
    add_account(infra_settings, "cust-1")
    return cli


def delivered(shop: Cli) -> Any:
    order = place(shop, "MUG-01:3")
    paid = pay(shop, order)
    assert paid.exit_code == 0, paid.output
    for step in ("ship", "deliver"):
        moved = shop("orders", step, order["id"])
        assert moved.exit_code == 0, moved.output
    return order


def requested(settings: InfraSettings, order: Any, quantity: int) -> str:
    """A return of ``quantity`` mugs, asked for by the order's customer: its id."""
    customer = Actor.user(order["customer_id"], Role.CUSTOMER)
    lines = (ReturnLineRequest("MUG-01", quantity, "too small"),)

    async def run() -> str:
        engine = create_engine(settings, application_name="orderly-tests-returns-cli")
        try:
            deps = sql_dependencies(engine)
            ctx = Context(actor=customer, request_id="req-cli-return")
            made = await request_return(deps, ctx, ReturnRequest(order["id"], lines))
            ret = made.unwrap()
            assert isinstance(ret, Return)
            return str(ret.id)
        finally:
            await engine.dispose()

    return in_thread(run)


def test_an_operator_approves_and_receives_a_return(
    shop: Cli, infra_settings: InfraSettings
) -> None:
    order = delivered(shop)
    return_id = requested(infra_settings, order, 2)

    listed = ok_json(shop("returns", "list", "--status", "requested", "--json"))
    of_order = ok_json(shop("returns", "list", "--order", order["id"], "--json"))
    approved = ok_json(shop("returns", "approve", return_id, "--note", "ok", "--json"))
    bad_line = shop("returns", "receive", return_id, "--line", "MUG-01:1:burn")
    dry = ok_json(
        shop("returns", "receive", return_id, "--line", "MUG-01:2:restock", "--dry-run", "--json")
    )
    received = ok_json(
        shop(
            "returns",
            "receive",
            return_id,
            "--line",
            "MUG-01:1:restock",
            "--line",
            "mug-01:1:write_off",
            "--idempotency-key",
            "rcv-1",
            "--json",
        )
    )
    again = ok_json(
        shop("returns", "receive", return_id, "--line", "MUG-01:1:restock", "--json"), 1
    )
    shown = shop("returns", "show", return_id)
    history = ok_json(shop("stock", "history", "MUG-01", "--json"))

    assert [r["id"] for r in listed["items"]] == [return_id]
    assert [r["id"] for r in of_order["items"]] == [return_id]
    assert (approved["applied"], approved["return"]["status"]) == (True, "approved")
    assert bad_line.exit_code == 2
    assert dry["applied"] is False
    assert [r["amount"] for r in dry["return"]["refunds"]] == [2500]
    assert received["return"]["status"] == "received"
    assert [(r["amount"], r["status"]) for r in received["return"]["refunds"]] == [
        (2500, "succeeded")
    ]
    assert again["error"]["code"] == "illegal_return_transition"
    assert shown.exit_code == 0, shown.output
    assert "received" in shown.stdout
    kinds = {m["kind"]: m for m in history["items"]}
    assert (kinds["restock"]["on_hand_delta"], kinds["restock"]["reference"]) == (1, return_id)
    assert kinds["write_off"]["on_hand_delta"] == 0
    product = ok_json(shop("products", "show", "MUG-01", "--json"))
    assert product["on_hand"] == 40 - 3 + 1


def test_a_rejected_return_and_an_unknown_one(shop: Cli, infra_settings: InfraSettings) -> None:
    order = delivered(shop)
    return_id = requested(infra_settings, order, 1)

    rejected = ok_json(shop("returns", "reject", return_id, "--note", "worn", "--json"))
    unknown = ok_json(shop("returns", "show", str(uuid.uuid4()), "--json"), 1)

    assert (rejected["return"]["status"], rejected["return"]["note"]) == ("rejected", "worn")
    assert unknown["error"]["code"] == "return_not_found"
