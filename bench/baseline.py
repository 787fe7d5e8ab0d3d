"""The bare baseline that ``bench/run.py`` measures Orderly against.

A flat FastAPI handler per benchmarked route, with raw asyncpg running the SQL statements
Orderly runs for that route, in the same transactions, on Orderly's own schema:

- ``GET /api/v1/products/{sku}`` and ``GET /api/v1/products?limit=N[&cursor=C]``: one read
  in a transaction;
- ``GET /api/v1/orders?limit=N`` (the caller's own orders, newest first) and
  ``GET /api/v1/audit?limit=N`` (admins): the token checked as for an order, then the page
  (and, for orders, the page's lines) in one transaction;
- ``POST /api/v1/orders``: the bearer token checked (HS256, the account read by primary
  key in a transaction of its own), then one transaction that looks the idempotency key up,
  takes its advisory lock, looks again, locks the products, inserts the order and its lines,
  updates each product and appends its stock movement, appends the audit entry and the
  outbox event (with ``NOTIFY``) and stores the answer under the key. A retry with a used key
  reads the stored answer and sends it again.

What it leaves out is what the comparison prices: the core's types and rules, the ports and
the unit of work, SQLAlchemy, the middleware (request ids, security headers, error
boundary, body limits), validation beyond the shapes, and problem documents (a refusal is a
bare status). It is not a product: never deploy it.

Run by ``bench/run.py`` as ``uvicorn baseline:create_app --factory --app-dir bench`` with
``DATABASE_URL``, ``JWT_SECRET`` and ``DB_POOL_SIZE`` in the environment.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import jwt
import orjson
from asyncpg.pool import PoolConnectionProxy
from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.responses import Response

ORDER_TTL = timedelta(minutes=30)
KEY_TTL = timedelta(hours=24)
OPERATION = "order.place"

PRODUCT_COLUMNS = (
    "sku, name, description, unit_price, currency, active, on_hand, reserved, version, "
    "created_at, updated_at, low_stock_threshold"
)
USER_BY_ID = (
    "SELECT id, email, display_name, password_hash, role, active, created_at, updated_at "
    "FROM users WHERE id = $1"
)
PRODUCT_BY_SKU = "SELECT " + PRODUCT_COLUMNS + " FROM products WHERE sku = $1"  # noqa: S608
PRODUCT_PAGE = "SELECT " + PRODUCT_COLUMNS + " FROM products ORDER BY sku LIMIT $1"  # noqa: S608
PRODUCT_PAGE_AFTER = (
    "SELECT " + PRODUCT_COLUMNS + " FROM products WHERE sku > $2 ORDER BY sku LIMIT $1"  # noqa: S608
)
ORDER_COLUMNS = (
    "id, customer_id, status, total, currency, placed_at, updated_at, expires_at, version, "
    "cancel_reason, email, shipping_address, shipping_method, shipping, delivered_at"
)
ORDER_PAGE = (
    f"SELECT {ORDER_COLUMNS} FROM orders WHERE customer_id = $1 "  # noqa: S608
    "ORDER BY placed_at DESC, id DESC LIMIT $2"
)
LINE_COLUMNS = (
    "order_id, line_no, sku, quantity, unit_price, currency, shipped, delivered, returned, "
    "cancelled"
)
AUDIT_PAGE = (
    "SELECT id, at, actor_kind, actor_id, actor_role, operation, target_type, target_id, "
    "request_id, idempotency_key, mode, changes FROM audit_entries "
    "ORDER BY at DESC, id DESC LIMIT $1"
)
FIND_KEY = (
    "SELECT fingerprint, succeeded, kind, document, request_id, created_at, expires_at "
    "FROM idempotency_keys WHERE actor = $1 AND operation = $2 AND key = $3 AND expires_at > $4"
)
LOCK_KEY = "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))"
LOCK_PRODUCTS = (
    f"SELECT {PRODUCT_COLUMNS} FROM products WHERE sku = ANY($1::varchar[]) "  # noqa: S608
    "ORDER BY sku FOR UPDATE"
)
INSERT_ORDER = (
    "INSERT INTO orders (id, customer_id, status, total, currency, placed_at, updated_at, "
    "expires_at, version, cancel_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)
INSERT_LINE = (
    "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price, currency) "
    "VALUES ($1, $2, $3, $4, $5, $6)"
)
UPDATE_PRODUCT = (
    "UPDATE products SET name = $1, description = $2, unit_price = $3, currency = $4, "
    "active = $5, on_hand = $6, reserved = $7, version = $8, updated_at = $9, "
    "low_stock_threshold = $10 WHERE sku = $11"
)
INSERT_MOVEMENT = (
    "INSERT INTO stock_movements (id, sku, at, kind, on_hand_delta, reserved_delta, note, "
    "reference, actor_id, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)
INSERT_AUDIT = (
    "INSERT INTO audit_entries (id, at, actor_kind, actor_id, actor_role, operation, "
    "target_type, target_id, request_id, idempotency_key, mode, changes) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
)
INSERT_EVENT = (
    "INSERT INTO outbox (id, type, subject, sequence, data, request_id, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING position"
)
NOTIFY = "SELECT pg_notify('orderly_outbox', '')"
STORE_KEY = (
    "INSERT INTO idempotency_keys (actor, operation, key, fingerprint, succeeded, kind, "
    "document, request_id, created_at, expires_at) "
    "VALUES ($1, $2, $3, $4, true, $5, $6, $7, $8, $9)"
)


type Executor = asyncpg.Connection | PoolConnectionProxy


class Line(BaseModel):
    sku: str
    quantity: int


class NewOrder(BaseModel):
    lines: list[Line]


def _json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # asyncpg's UUIDs are not uuid.UUID to orjson: written as text, as uuid.UUID would be.
    body = orjson.dumps(document, default=str)
    return Response(body, status, headers, media_type="application/json")


def _product(row: asyncpg.Record) -> dict[str, Any]:
    product = dict(row)
    product["available"] = row["on_hand"] - row["reserved"]
    return product


def _line(row: asyncpg.Record) -> dict[str, Any]:
    line = dict(row)
    del line["order_id"], line["line_no"]
    return line


def _order(row: asyncpg.Record, lines: list[dict[str, Any]]) -> dict[str, Any]:
    order = dict(row)
    order["lines"] = lines
    return order


def _cursor(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


class Baseline:
    """The pool and the signing key; one method per route."""

    def __init__(self, pool: asyncpg.Pool, secret: str) -> None:
        self.pool, self.secret = pool, secret

    async def account(self, request: Request) -> asyncpg.Record | None:
        """The signed-in account, or None (the caller gets 401)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            return None
        async with self.pool.acquire() as connection, connection.transaction():
            user = await connection.fetchrow(USER_BY_ID, uuid.UUID(claims["sub"]))
        return user if user is not None and user["active"] else None

    async def customer(self, request: Request) -> str | None:
        """The signed-in customer's id, or None (the caller gets 401)."""
        user = await self.account(request)
        return None if user is None else str(user["id"])

    async def get_product(self, sku: str) -> Response:
        async with self.pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(PRODUCT_BY_SKU, sku.strip().upper())
        if row is None:
            return Response(status_code=404)
        return _json(_product(row), headers={"ETag": f'"{row["version"]}"'})

    async def list_products(self, limit: int, cursor: str | None) -> Response:
        after = None
        if cursor is not None:
            after = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        async with self.pool.acquire() as connection, connection.transaction():
            if after is None:
                rows = await connection.fetch(PRODUCT_PAGE, limit + 1)
            else:
                rows = await connection.fetch(PRODUCT_PAGE_AFTER, limit + 1, after)
        items = [_product(row) for row in rows[:limit]]
        cursor = items[-1]["sku"] if len(rows) > limit else None
        return _json({"items": items, "next_cursor": cursor})

    async def list_orders(self, limit: int, request: Request) -> Response:
        """The caller's orders, newest first, with their lines (read as Orderly reads them:
        the lines of the page's orders by an ``IN`` list of their ids)."""
        customer_id = await self.customer(request)
        if customer_id is None:
            return Response(status_code=401)
        async with self.pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(ORDER_PAGE, customer_id, limit + 1)
            shown = rows[:limit]
            lines: dict[uuid.UUID, list[dict[str, Any]]] = {row["id"]: [] for row in shown}
            if shown:
                marks = ", ".join(f"${n}" for n in range(1, len(shown) + 1))
                found = await connection.fetch(
                    f"SELECT {LINE_COLUMNS} FROM order_lines WHERE order_id IN ({marks}) "  # noqa: S608
                    "ORDER BY order_id, line_no",
                    *(row["id"] for row in shown),
                )
                for line in found:
                    lines[line["order_id"]].append(_line(line))
        items = [_order(row, lines[row["id"]]) for row in shown]
        cursor = None
        if len(rows) > limit:
            last = shown[-1]
            cursor = _cursor(f"{last['placed_at'].isoformat()}|{last['id']}")
        return _json({"items": items, "next_cursor": cursor})

    async def list_audit(self, limit: int, request: Request) -> Response:
        """The newest audit entries, for an admin."""
        user = await self.account(request)
        if user is None:
            return Response(status_code=401)
        if user["role"] != "admin":
            return Response(status_code=403)
        async with self.pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(AUDIT_PAGE, limit + 1)
        items = [dict(row) for row in rows[:limit]]
        cursor = None
        if len(rows) > limit:
            cursor = _cursor(f"{items[-1]['at'].isoformat()}|{items[-1]['id']}")
        return _json({"items": items, "next_cursor": cursor})

    async def place_order(self, new: NewOrder, request: Request) -> Response:  # noqa: PLR0911
        customer_id = await self.customer(request)
        if customer_id is None:
            return Response(status_code=401)
        key = request.headers.get("idempotency-key")
        if not key:
            return Response(status_code=400)
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        lines = sorted((line.sku.strip().upper(), line.quantity) for line in new.lines)
        fingerprint = hashlib.sha256(orjson.dumps([customer_id, lines])).hexdigest()
        now = datetime.now(UTC)
        async with self.pool.acquire() as connection, connection.transaction():
            found = await connection.fetchrow(FIND_KEY, customer_id, OPERATION, key, now)
            if found is None:
                scope = f"{customer_id}\x1f{OPERATION}\x1f{key}"
                if not await connection.fetchval(LOCK_KEY, scope):
                    return Response(status_code=409, headers={"Retry-After": "1"})
                found = await connection.fetchrow(FIND_KEY, customer_id, OPERATION, key, now)
            if found is not None:
                if found["fingerprint"] != fingerprint:
                    return Response(status_code=422)
                return _json(found["document"], 201, {"Idempotent-Replayed": "true"})
            rows = await connection.fetch(LOCK_PRODUCTS, [sku for sku, _ in lines])
            products = {row["sku"]: row for row in rows}
            if any(
                sku not in products or products[sku]["on_hand"] - products[sku]["reserved"] < q
                for sku, q in lines
            ):
                return Response(status_code=409)
            placed = Placed(customer_id, key, request_id, fingerprint, now, lines, products)
            view = await placed.write(connection)
        return _json(view, 201, {"Location": f"/api/v1/orders/{view['id']}", "ETag": '"1"'})


class Placed:
    """An order that passed its checks, and the writes that place it."""

    def __init__(  # noqa: PLR0917 - the facts of one order
        self,
        customer_id: str,
        key: str,
        request_id: str,
        fingerprint: str,
        now: datetime,
        lines: list[tuple[str, int]],
        products: dict[str, asyncpg.Record],
    ) -> None:
        self.customer_id, self.key, self.request_id = customer_id, key, request_id
        self.fingerprint, self.now, self.lines, self.products = fingerprint, now, lines, products
        self.order_id = uuid.uuid4()
        self.currency = products[lines[0][0]]["currency"]

    def view(self) -> dict[str, Any]:
        total = sum(self.products[sku]["unit_price"] * q for sku, q in self.lines)
        return {
            "id": str(self.order_id),
            "status": "placed",
            "customer_id": self.customer_id,
            "lines": [
                {
                    "sku": sku,
                    "quantity": q,
                    "unit_price": self.products[sku]["unit_price"],
                    "currency": self.currency,
                }
                for sku, q in self.lines
            ],
            "total": total,
            "currency": self.currency,
            "expires_at": self.now + ORDER_TTL,
            "cancel_reason": None,
            "version": 1,
            "created_at": self.now,
            "updated_at": self.now,
        }

    async def write(self, connection: Executor) -> dict[str, Any]:
        view, now, order_id, customer_id = self.view(), self.now, self.order_id, self.customer_id
        await connection.execute(
            INSERT_ORDER,
            order_id,
            customer_id,
            "placed",
            view["total"],
            self.currency,
            now,
            now,
            view["expires_at"],
            1,
            None,
        )
        for number, (sku, quantity) in enumerate(self.lines, start=1):
            price = self.products[sku]["unit_price"]
            await connection.execute(
                INSERT_LINE, order_id, number, sku, quantity, price, self.currency
            )
        for sku, quantity in self.lines:
            row = self.products[sku]
            await connection.execute(
                UPDATE_PRODUCT,
                row["name"],
                row["description"],
                row["unit_price"],
                row["currency"],
                row["active"],
                row["on_hand"],
                row["reserved"] + quantity,
                row["version"] + 1,
                now,
                row["low_stock_threshold"],
                sku,
            )
            await connection.execute(
                INSERT_MOVEMENT,
                uuid.uuid4(),
                sku,
                now,
                "reservation",
                0,
                quantity,
                "order reservation",
                str(order_id),
                customer_id,
                self.request_id,
            )
        await connection.execute(
            INSERT_AUDIT,
            uuid.uuid4(),
            now,
            "user",
            customer_id,
            "customer",
            "order.place",
            "order",
            str(order_id),
            self.request_id,
            self.key,
            "execute",
            {"after": view},
        )
        await connection.fetchval(
            INSERT_EVENT,
            uuid.uuid4(),
            "order.placed",
            f"order:{order_id}",
            1,
            view,
            self.request_id,
            now,
        )
        await connection.execute(NOTIFY)
        await connection.execute(
            STORE_KEY,
            customer_id,
            OPERATION,
            self.key,
            self.fingerprint,
            "placement",
            view,
            self.request_id,
            now,
            now + KEY_TTL,
        )
        return view


def create_app() -> FastAPI:
    database_url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    secret = os.environ["JWT_SECRET"]
    pool_size = int(os.environ.get("DB_POOL_SIZE", "5"))
    holder: dict[str, Baseline] = {}

    async def jsonb(connection: asyncpg.Connection) -> None:
        await connection.set_type_codec(
            "jsonb",
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )

    async def keep_session(_connection: asyncpg.Connection) -> None:
        """No reset statements when a connection goes back to the pool (asyncpg's default
        runs four): Orderly's pool runs none, its transactions having ended already."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(
            database_url, min_size=pool_size, max_size=pool_size, init=jsonb, reset=keep_session
        )
        holder["app"] = Baseline(pool, secret)
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/api/v1/products/{sku}")
    async def get_product(sku: str) -> Response:
        return await holder["app"].get_product(sku)

    @app.get("/api/v1/products")
    async def list_products(limit: int = 50, cursor: str | None = None) -> Response:
        return await holder["app"].list_products(limit, cursor)

    @app.get("/api/v1/orders")
    async def list_orders(request: Request, limit: int = 50) -> Response:
        return await holder["app"].list_orders(limit, request)

    @app.get("/api/v1/audit")
    async def list_audit(request: Request, limit: int = 50) -> Response:
        return await holder["app"].list_audit(limit, request)

    @app.post("/api/v1/orders")
    async def place_order(new: NewOrder, request: Request) -> Response:
        return await holder["app"].place_order(new, request)

    return app
