"""A client generated from ``/openapi.json`` by ``openapi-python-client`` signs up, signs in and
places an order against a running API, with methods named after the operation ids.

The generator pins dependencies of its own (an older Typer), so it runs isolated through
``uv tool run``; ``.ci/run`` installs it beforehand so that this test does not wait for it.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI

from orderly_core.unit_of_work import Dependencies
from tests.http.helpers import listening, seed

GENERATOR = "openapi-python-client==0.29.1"
PACKAGE = "orderly_generated_client"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def generated(app: FastAPI, tmp_path: Path) -> Iterator[Path]:
    """The client generated from this app's document, importable as ``PACKAGE``."""
    uv = shutil.which("uv")
    assert uv is not None, "uv runs the client generator"
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(app.openapi()))
    env = os.environ | {
        # The generator formats its output with ruff: the project's own.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "UV_PYTHON_DOWNLOADS": "never",
    }
    command = [uv, "tool", "run", "--from", GENERATOR, "openapi-python-client", "generate"]
    options = ["--path", str(document), "--output-path", str(tmp_path / PACKAGE), "--meta", "none"]
    run = subprocess.run(
        [*command, *options],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # Every schema and operation became code: the generator warns about any it left out.
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path / PACKAGE
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_generated_methods_read_like_the_operation_ids(app: FastAPI, generated: Path) -> None:
    methods = {path.stem for path in (generated / "api").glob("*/*.py")} - {"__init__"}

    operations = app.openapi()["paths"].values()
    ids = {operation["operationId"] for path in operations for operation in path.values()}
    assert methods == {operation_id.replace(".", "_") for operation_id in ids}
    assert {"orders_place", "orders_list", "products_list", "auth_sign_in"} <= methods


async def test_a_generated_client_places_an_order(
    app: FastAPI, generated: Path, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", unit_price=1250, on_hand=5)
    models = _module("models")
    client_module = _module("client")
    register, sign_in = _module("api.users.users_register"), _module("api.auth.auth_sign_in")
    list_products, place = _module("api.products.products_list"), _module("api.orders.orders_place")
    email = f"gen-{uuid.uuid4().hex[:8]}@example.com"

    async with listening(app) as http:
        base_url = str(http.base_url)
        anonymous = client_module.Client(base_url=base_url)
        signed_up = await register.asyncio_detailed(
            client=anonymous,
            body=models.RegistrationBody(
                email=email, password="correct horse battery", display_name="Gen"
            ),
        )
        assert signed_up.status_code == 201, signed_up.content
        tokens: Any = await sign_in.asyncio(
            client=anonymous,
            body=models.AuthSignInForm(username=email, password="correct horse battery"),
        )
        assert isinstance(tokens, models.Tokens), tokens
        customer = client_module.AuthenticatedClient(base_url=base_url, token=tokens.access_token)
        page: Any = await list_products.asyncio(client=customer)
        [product] = page.items
        placed = await place.asyncio_detailed(
            client=customer,
            body=models.NewOrder(lines=[models.NewOrderLine(sku=product.sku, quantity=2)]),
            idempotency_key=f"gen-{uuid.uuid4()}",
        )

    assert placed.status_code == 201, placed.content
    order: Any = placed.parsed
    assert isinstance(order, models.Order)
    assert order.status == models.OrderStatus.PLACED.value
    assert [(line.sku, line.quantity) for line in order.lines] == [("MUG-1", 2)]
    assert order.total == 2500
