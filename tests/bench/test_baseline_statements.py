"""The baseline of ``bench/run.py`` runs the statements Orderly runs, in the same transactions
and the same order, for the routes the harness measures side by side (all but the audit list,
which needs an admin): a statement Orderly adds or drops (or the baseline does) fails here,
not silently in the measured ratio.

Both APIs run as the harness runs them (uvicorn, production settings) on a PostgreSQL of this
test's own that logs every statement; each request's statements are read from the log,
reduced to their shape (no casts, aliases, table prefixes, parameters or literals) and
compared.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from bench import orders
from orderly_cli import embedded
from orderly_cli.processes import API_FACTORY, answers_health, api_argv
from orderly_db.settings import InfraSettings

BENCH = Path(orders.__file__).resolve().parent
ORDERLY_APP, BASELINE_APP = "orderly-api", "bench-baseline"
_ENTRY = re.compile(r"^([^|\n]*)\|\d+\|", re.MULTILINE)
_STATEMENT = re.compile(r"LOG:  (?:statement|execute [^:]+): (.*)", re.DOTALL)


def shape(sql: str) -> str:
    """A statement with what tells the same statement apart in two texts taken away: casts,
    column aliases, table prefixes, parameters and literals, spacing and case."""
    text = " ".join(sql.split()).rstrip(";")
    text = re.sub(r"'(?:[^']|'')*'", "?", text)  # string literals
    text = re.sub(r"::(?:TIMESTAMP WITH TIME ZONE|\w+)(?:\[\])?", "", text, flags=re.I)  # casts
    text = re.sub(r"\$\d+|\b\d+\b|\b(?:true|false|null)\b", "?", text, flags=re.I)
    text = re.sub(r"\s+AS\s+\w+(?!\s*\()", "", text, flags=re.I)  # column aliases
    text = re.sub(r"\b[a-z_]+\.(?=[a-z_*])", "", text)  # table prefixes
    text = re.sub(r"\s*([=(),<>|*])\s*", r"\1", text)
    return text.upper()


def statements(log: str, app: str) -> list[str]:
    """The shapes of the statements ``app`` sent, in order, from log entries written with
    ``log_line_prefix = '%a|%p|'``."""
    starts = list(_ENTRY.finditer(log))
    found = []
    for start, end in zip(starts, [*starts[1:], None], strict=True):
        entry = log[start.start() : None if end is None else end.start()]
        matched = _STATEMENT.search(entry)
        if start.group(1) == app and matched is not None:
            found.append(shape(matched.group(1)))
    return found


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


def test_shape_keeps_what_matters_and_drops_the_spelling() -> None:
    orderly = (
        "SELECT count(*) AS count_1 \n\tFROM orders \n\tWHERE orders.customer_id = $1::VARCHAR "
        "AND orders.status = $2::VARCHAR AND orders.expires_at > $3::TIMESTAMP WITH TIME ZONE"
    )
    baseline = (
        "SELECT count(*) FROM orders "
        "WHERE customer_id = $1 AND status = 'placed' AND expires_at > $2"
    )
    assert shape(orderly) == shape(baseline)
    locks = "SELECT sku FROM products WHERE sku = ANY ($1::VARCHAR[]) ORDER BY sku FOR UPDATE"
    assert shape(locks) == shape("SELECT products.sku FROM products WHERE sku = ANY($1) "
                                 "ORDER BY products.sku FOR UPDATE")  # fmt: skip
    assert shape(locks) != shape(locks.removesuffix(" FOR UPDATE"))
    assert shape("SELECT email FROM users WHERE id = $1") != shape(
        "SELECT email, role FROM users WHERE id = $1"
    )


async def test_the_baseline_runs_orderlys_statements(
    servers_dir: Path, redis_url: str, stack: contextlib.ExitStack
) -> None:
    data_dir = servers_dir / "pg-statements"
    postgres = embedded.start_postgres(data_dir)
    stack.callback(postgres.stop)
    embedded.create_database(postgres, "orderly_statements")
    url = postgres.url("orderly_statements")
    settings = orders.infra_settings(orders.Servers(url, redis_url, None, None))
    seeded = await orders.prepare_database(settings, 3, 1)
    await _log_every_statement(settings)

    env = {
        **orders.api_environment(settings),
        "JWT_SECRET": secrets.token_urlsafe(48),
        "DB_POOL_SIZE": "1",
        "MAX_OPEN_UNPAID_ORDERS": "100",
    }
    workdir = servers_dir / "statements"
    workdir.mkdir()
    orderly = orders.start_api(settings, workdir, stack, workers=1, env=env)
    orders.wait_until_ready(orderly)
    baseline_port = orders._free_port()
    argv = api_argv(orders.HOST, baseline_port, production=True, workers=1, log_level="warning")
    argv[argv.index(API_FACTORY)] = "baseline:create_app"
    argv[argv.index("baseline:create_app") : argv.index("baseline:create_app")] = [
        "--app-dir",
        str(BENCH),
    ]
    baseline_env = {**env, "DATABASE_URL": f"{url}&application_name={BASELINE_APP}"}
    baseline = orders.spawn(argv, baseline_env, workdir / "baseline.log", stack)
    _wait_for_baseline(baseline, baseline_port, workdir / "baseline.log")

    log = data_dir / "server.log"
    async with (
        orders.open_client("raw", orderly.port, 1) as orderly_client,
        orders.open_client("raw", baseline_port, 1) as baseline_client,
    ):
        (token,) = await orders.sign_in_all(orderly_client, seeded.emails, 1)
        clients = {ORDERLY_APP: orderly_client, BASELINE_APP: baseline_client}
        for app, client in clients.items():  # the first requests prepare and introspect
            await _requests(client, log, app, token=token, skus=seeded.skus, key=f"warm-{app}")
        seen = {
            app: await _requests(client, log, app, token=token, skus=seeded.skus, key=app)
            for app, client in clients.items()
        }
    for route, shapes in seen[ORDERLY_APP].items():
        assert shapes, f"{route}: no statement of Orderly's found in the log"
        assert seen[BASELINE_APP][route] == shapes, _difference(
            route, shapes, seen[BASELINE_APP][route]
        )


def _wait_for_baseline(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + orders.READY_TIMEOUT_S
    while not answers_health(f"http://{orders.HOST}:{port}/api/v1/products?limit=1"):
        assert process.poll() is None, f"the baseline exited\n{orders.tail(log)}"
        assert time.monotonic() < deadline, f"the baseline did not answer\n{orders.tail(log)}"
        time.sleep(0.1)


async def _log_every_statement(settings: InfraSettings) -> None:
    connection = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        await connection.execute("ALTER SYSTEM SET log_statement = 'all'")
        await connection.execute("ALTER SYSTEM SET log_line_prefix = '%a|%p|'")
        await connection.execute("SELECT pg_reload_conf()")
    finally:
        await connection.close()


async def _requests(
    client: orders.Client, log: Path, app: str, *, token: str, skus: list[str], key: str
) -> dict[str, list[str]]:
    """Each benchmarked route's statements, as ``app`` runs them for one request."""
    order = {"lines": [{"sku": skus[1], "quantity": 1}]}
    placement = ("POST", "/api/v1/orders", json.dumps(order).encode())
    first = await client.send(*placement[:2], _headers(token, key), placement[2])
    assert first.status == 201, first.body
    order_id = json.loads(first.body)["id"]
    page = json.loads((await client.send("GET", "/api/v1/products?limit=2", {}, b"")).body)
    # As the harness sends them: the order routes signed in, the catalogue reads anonymous.
    routes = {
        "order_place": (*placement, _headers(token, key + "-place")),
        "order_replay": (*placement, _headers(token, key + "-place")),
        "order_get": ("GET", f"/api/v1/orders/{order_id}", b"", _headers(token)),
        "order_list": ("GET", "/api/v1/orders?limit=50", b"", _headers(token)),
        "product_get": ("GET", f"/api/v1/products/{skus[0]}", b"", {}),
        "product_list": ("GET", "/api/v1/products?limit=50", b"", {}),
        "product_list_deep": (
            "GET", f"/api/v1/products?limit=50&cursor={page['next_cursor']}", b"", {},
        ),
    }  # fmt: skip
    found: dict[str, list[str]] = {}
    for route, (method, path, body, headers) in routes.items():
        offset = _size(log)
        reply = await client.send(method, path, headers, body)
        assert reply.status in {200, 201}, (route, reply.status, reply.body)
        found[route] = statements(_written_since(log, offset), app)
    return found


def _size(log: Path) -> int:
    return log.stat().st_size


def _written_since(log: Path, offset: int) -> str:
    with log.open(errors="replace") as written:
        written.seek(offset)
        return written.read()


def _headers(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": token, "Content-Type": "application/json"}
    return headers if key is None else {**headers, "Idempotency-Key": key}


def _difference(route: str, orderly: list[str], baseline: list[str]) -> str:
    lines = [f"{route}: the baseline's statements differ from Orderly's"]
    for number in range(max(len(orderly), len(baseline))):
        mine = orderly[number] if number < len(orderly) else "-"
        theirs = baseline[number] if number < len(baseline) else "-"
        mark = "  " if mine == theirs else "!="
        lines.append(f"{mark} Orderly:  {mine}\n   baseline: {theirs}")
    return "\n".join(lines)
