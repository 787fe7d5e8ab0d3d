"""``examples/storefront.py``, the newcomer's whole flow in one command, against a running API:
it signs up, places an order, has it paid with the manual provider (through `orderly orders
pay`, as the operator) and follows it until it is paid."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI

from orderly_core.unit_of_work import Dependencies
from tests.http.helpers import listening, seed

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "storefront.py"

pytestmark = [pytest.mark.postgres]


async def _run(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _environment(database_url: str, redis_url: str) -> dict[str, str]:
    """Where `orderly orders pay` finds the shop's database: as the operator's shell has it."""
    drop = {"ORDERLY_API_URL", "ORDERLY_STAFF_TOKEN"}
    env = {name: value for name, value in os.environ.items() if name not in drop}
    return env | {"DATABASE_URL": database_url, "REDIS_URL": redis_url}


async def test_the_storefront_places_pays_and_follows_an_order(
    app: FastAPI, pg_deps: Dependencies, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    await seed(pg_deps, "MUG-01", name="Blue mug", unit_price=1250, on_hand=5)
    env = _environment(database_url, redis_url)

    async with listening(app) as client:
        code, out, err = await _run("--api", str(client.base_url), env=env, cwd=tmp_path)
        orders = (await client.get("/api/v1/orders")).status_code  # needs a token: 401

    assert code == 0, out + err
    assert "1. Signed up and signed in as shopper-" in out
    assert "buying one Blue mug (MUG-01)" in out
    assert "3. Placed order " in out
    assert "12.50 EUR, status placed" in out
    assert "4. Staff record the payment: orderly orders pay " in out
    assert "is paid" in out
    assert "5. The order is paid" in out
    assert orders == 401
    assert "ship" in out.splitlines()[-1]


async def test_the_storefront_says_when_there_is_nothing_to_buy(
    app: FastAPI, pg_deps: Dependencies, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with listening(app) as client:
        code, out, _ = await _run(
            "--api", str(client.base_url), env=_environment(database_url, redis_url), cwd=tmp_path
        )

    assert code == 1
    assert "uv run orderly products import examples/products.csv" in out


async def test_the_storefront_without_an_api_says_how_to_start_one(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if name != "ORDERLY_API_URL"}

    code, _, err = await _run(env=env, cwd=tmp_path)

    assert code == 2
    assert "uv run orderly dev" in err
