"""The bare baseline that ``bench/run.py`` measures Orderly against.

A flat FastAPI handler per benchmarked route, with raw asyncpg running the SQL statements
Orderly runs for that route, in the same transactions and the same order, on Orderly's own
schema:

- ``GET /api/v1/products/{sku}`` and ``GET /api/v1/products?limit=N[&cursor=C]``: one read
  in a transaction;
- ``GET /api/v1/orders/{id}`` and ``GET /api/v1/orders?limit=N`` (a customer's own): the
  bearer token checked (HS256), then one transaction that reads the account by primary key
  and the order (or the page of orders) with its lines, in one statement;
- ``GET /api/v1/audit?limit=N`` (admins): the bearer token checked, the account read by
  primary key in a transaction of its own (Orderly's audit route checks it apart from its
  use case), then the page in another;
- ``POST /api/v1/orders``: the bearer token checked, then one transaction that reads the
  account, looks the idempotency key up, takes its advisory lock, looks again, takes the
  customer's placement lock (an advisory lock) and counts the customer's open unpaid orders
  (``MAX_OPEN_UNPAID_ORDERS``, 3 by default), takes the account's email (read with the
  account) when the request gives none, locks the products, reads the active shipping
  rates, inserts the order and its lines, updates each product and appends its stock
  movement (in SKU order), appends the audit entry, the outbox event and its ``NOTIFY`` in
  one statement, and stores the placement under the key (replacing an expired record). A
  retry with a used key reads the account and the stored placement, rolls back, and answers
  it again.

``tests/bench/test_baseline_statements.py`` compares the statements of both APIs, route by
route (all but the audit list), from PostgreSQL's log: a statement added to or dropped from
one must be added to or dropped from the other.

Its answers to the reads are Orderly's, byte for byte (``bench/run.py`` checks that before
each run). What it leaves out is what the comparison prices: the core's types and rules, the
ports and the unit of work, SQLAlchemy, the middleware (request ids, security headers, error
boundary, body limits), validation beyond the shapes, and problem documents (a refusal is a
bare status, and a refused placement is not kept under its key). Orderly's email-verified rule
is off by default (``UNVERIFIED_CUSTOMERS_MAY_ORDER``) and then runs no statement; the
baseline has none. It is not a product: never deploy it.

Run by ``bench/run.py`` as ``uvicorn baseline:create_app --factory --app-dir bench`` with
``DATABASE_URL``, ``JWT_SECRET``, ``DB_POOL_SIZE`` and ``MAX_OPEN_UNPAID_ORDERS`` in the
environment.
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
MAX_LINES, MAX_QUANTITY = 100, 1000  # an order's lines, and units of one line

PRODUCT_COLUMNS = (
    "sku, name, description, unit_price, currency, active, on_hand, reserved, version, "
    "created_at, updated_at, low_stock_threshold, max_per_order"
)
# Orderly's own text of its product reads (the placement's locks keep PRODUCT_COLUMNS).
SELECT_PRODUCTS = "SELECT " + ", ".join(
    f"products.{column}" for column in PRODUCT_COLUMNS.split(", ")
)
USER_BY_ID = (
    "SELECT users.id, users.email, users.display_name, users.password_hash, users.role, "
    "users.active, users.created_at, users.updated_at, users.tokens_valid_after, "
    "users.email_verified_at FROM users WHERE users.id = $1::UUID"
)
ORDER_COLUMNS = (
    "{t}.id, {t}.customer_id, {t}.status, {t}.total, {t}.currency, {t}.placed_at, "
    "{t}.updated_at, {t}.expires_at, {t}.version, {t}.cancel_reason, {t}.email, "
    "{t}.shipping_address, {t}.shipping_method, {t}.shipping, {t}.delivered_at"
)
LINE_COLUMNS = (
    "order_lines.line_no, order_lines.sku AS line_sku, order_lines.quantity AS line_quantity, "
    "order_lines.unit_price AS line_unit_price, order_lines.currency AS line_currency, "
    "order_lines.shipped AS line_shipped, order_lines.delivered AS line_delivered, "
    "order_lines.returned AS line_returned, order_lines.cancelled AS line_cancelled"
)
ORDER_BY_ID = (
    f"SELECT {ORDER_COLUMNS.format(t='orders')}, {LINE_COLUMNS} "  # noqa: S608
    "FROM orders LEFT OUTER JOIN order_lines ON order_lines.order_id = orders.id "
    "WHERE orders.id = $1::UUID ORDER BY order_lines.line_no"
)
ORDER_PAGE = (
    "WITH page AS (SELECT orders.id AS id, orders.customer_id AS customer_id, "  # noqa: S608
    "orders.status AS status, orders.total AS total, orders.currency AS currency, "
    "orders.placed_at AS placed_at, orders.updated_at AS updated_at, "
    "orders.expires_at AS expires_at, orders.version AS version, "
    "orders.cancel_reason AS cancel_reason, orders.email AS email, "
    "orders.shipping_address AS shipping_address, orders.shipping_method AS shipping_method, "
    "orders.shipping AS shipping, orders.delivered_at AS delivered_at FROM orders "
    "WHERE orders.customer_id = $1::VARCHAR ORDER BY orders.placed_at DESC, orders.id DESC "
    f"LIMIT $2) SELECT {ORDER_COLUMNS.format(t='page')}, {LINE_COLUMNS} "
    "FROM page LEFT OUTER JOIN order_lines ON order_lines.order_id = page.id "
    "ORDER BY page.placed_at DESC, page.id DESC, order_lines.line_no"
)
PRODUCT_BY_SKU = SELECT_PRODUCTS + " FROM products WHERE products.sku = $1::VARCHAR"
PRODUCT_PAGE = SELECT_PRODUCTS + " FROM products ORDER BY products.sku LIMIT $1"
PRODUCT_PAGE_AFTER = (
    SELECT_PRODUCTS
    + " FROM products WHERE products.sku > $2::VARCHAR ORDER BY products.sku LIMIT $1"
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
# Placements for one customer take turns (Orderly's limit of open unpaid orders).
LOCK_CUSTOMER = "SELECT pg_advisory_xact_lock(hashtextextended('order-placement:' || $1, 0))"
OPEN_UNPAID = (
    "SELECT count(*) FROM orders WHERE customer_id = $1 AND status = 'placed' AND expires_at > $2"
)
LOCK_PRODUCTS = (
    f"SELECT {PRODUCT_COLUMNS} FROM products WHERE sku = ANY($1::varchar[]) "  # noqa: S608
    "ORDER BY sku FOR UPDATE"
)
ACTIVE_RATES = (
    "SELECT code, name, countries, price, currency, free_above, active, version, created_at, "
    "updated_at FROM shipping_rates WHERE active IS true ORDER BY code"
)
INSERT_ORDER = (
    "INSERT INTO orders (id, customer_id, status, total, currency, placed_at, updated_at, "
    "expires_at, version, cancel_reason, email, shipping_address, shipping_method, shipping, "
    "delivered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
)
INSERT_LINE = (
    "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price, currency, shipped, "
    "delivered, returned, cancelled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)
UPDATE_PRODUCT = (
    "UPDATE products SET name = $1, description = $2, unit_price = $3, currency = $4, "
    "active = $5, on_hand = $6, reserved = $7, version = $8, updated_at = $9, "
    "low_stock_threshold = $10, max_per_order = $11 WHERE sku = $12"
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
# The event and its NOTIFY in one statement, as Orderly sends them.
INSERT_EVENT = (
    "WITH added AS (INSERT INTO outbox (id, type, subject, sequence, data, request_id, "
    "created_at, trace_context) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING position) "
    "SELECT pg_notify('orderly_outbox', '') FROM added"
)
STORE_KEY = (
    "INSERT INTO idempotency_keys (actor, operation, key, fingerprint, succeeded, kind, "
    "document, request_id, created_at, expires_at) "
    "VALUES ($1, $2, $3, $4, true, $5, $6, $7, $8, $9) "
    "ON CONFLICT (actor, operation, key) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "succeeded = excluded.succeeded, kind = excluded.kind, document = excluded.document, "
    "request_id = excluded.request_id, created_at = excluded.created_at, "
    "expires_at = excluded.expires_at WHERE idempotency_keys.expires_at <= excluded.created_at"
)
# The order view's fields the audit entry leaves out (every change moves them).
NOT_AUDITED = ("created_at", "updated_at")


type Executor = asyncpg.Connection | PoolConnectionProxy


class Line(BaseModel):
    sku: str
    quantity: int


class Address(BaseModel):
    name: str
    line1: str
    line2: str = ""
    postal_code: str = ""
    city: str
    region: str = ""
    country: str
    phone: str | None = None


class NewOrder(BaseModel):
    lines: list[Line]
    email: str | None = None
    shipping_address: Address | None = None
    shipping_method: str | None = None


def _json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # asyncpg's UUIDs are not uuid.UUID to orjson: written as text, as uuid.UUID would be.
    body = orjson.dumps(document, default=str)
    return Response(body, status, headers, media_type="application/json")


def _json_utc(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(document, option=orjson.OPT_UTC_Z)
    return Response(body, status, headers, media_type="application/json")


def _orders(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    """Orders as Orderly renders them, from rows of an order and one of its lines each."""
    found: list[dict[str, Any]] = []
    for row in rows:
        if not found or found[-1]["id"] != str(row["id"]):
            address = row["shipping_address"]
            found.append({
                "id": str(row["id"]),
                "status": row["status"],
                "customer_id": row["customer_id"],
                "lines": [],
                "subtotal": 0,
                "shipping": row["shipping"],
                "total": row["shipping"],
                "currency": row["line_currency"],
                "email": row["email"],
                "shipping_address": None if address is None else {
                    "name": address["name"],
                    "line1": address["line1"],
                    "line2": address.get("line2", ""),
                    "postal_code": address.get("postal_code", ""),
                    "city": address["city"],
                    "region": address.get("region", ""),
                    "country": address["country"],
                    "phone": address.get("phone"),
                },
                "shipping_method": row["shipping_method"],
                "expires_at": row["expires_at"],
                "cancel_reason": row["cancel_reason"],
                "delivered_at": row["delivered_at"],
                "version": row["version"],
                "created_at": row["placed_at"],
                "updated_at": row["updated_at"],
                "_at": row["placed_at"],
            })  # fmt: skip
        order = found[-1]
        order["lines"].append({
            "sku": row["line_sku"],
            "quantity": row["line_quantity"],
            "unit_price": row["line_unit_price"],
            "currency": row["line_currency"],
            "shipped": row["line_shipped"],
            "delivered": row["line_delivered"],
            "returned": row["line_returned"],
            "cancelled": row["line_cancelled"],
        })  # fmt: skip
        subtotal = row["line_unit_price"] * row["line_quantity"]
        order["subtotal"] += subtotal
        order["total"] += subtotal
    return found


def _cursor(order: dict[str, Any]) -> str:
    position = f"{order['_at'].isoformat()}|{order['id']}"
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def _product(row: asyncpg.Record) -> dict[str, Any]:
    """A product as Orderly renders it."""
    return {
        "sku": row["sku"],
        "name": row["name"],
        "description": row["description"],
        "unit_price": row["unit_price"],
        "currency": row["currency"],
        "active": row["active"],
        "on_hand": row["on_hand"],
        "reserved": row["reserved"],
        "available": row["on_hand"] - row["reserved"],
        "low_stock_threshold": row["low_stock_threshold"],
        "max_per_order": row["max_per_order"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _position_cursor(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def _signed_in(user: asyncpg.Record, claims: dict[str, Any]) -> bool:
    """Whether the token's account is still there, active, in the token's role, and the
    token not issued before the account's tokens were revoked."""
    if not user["active"] or user["role"] != claims["role"]:
        return False
    valid_after = user["tokens_valid_after"]
    return valid_after is None or claims["iat"] >= valid_after.timestamp()


class Baseline:
    """The pool and the signing key; one method per route."""

    def __init__(self, pool: asyncpg.Pool, secret: str, max_open_unpaid: int = 3) -> None:
        self.pool, self.secret, self.max_open_unpaid = pool, secret, max_open_unpaid

    def claims(self, request: Request) -> dict[str, Any] | None:
        """The bearer token's claims, or None (the caller gets 401)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            claims: dict[str, Any] = jwt.decode(token, self.secret, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            return None
        return claims

    @staticmethod
    async def customer(connection: Executor, claims: dict[str, Any]) -> str | None:
        """The signed-in customer's id, read first in the request's transaction, or None
        (the caller gets 401)."""
        user = await connection.fetchrow(USER_BY_ID, uuid.UUID(claims["sub"]))
        return str(user["id"]) if user is not None and _signed_in(user, claims) else None

    async def account(self, request: Request) -> asyncpg.Record | None:
        """The signed-in account, read in a transaction of its own, or None (the caller gets
        401): for the routes whose account is checked apart from their use case."""
        claims = self.claims(request)
        if claims is None:
            return None
        async with self.pool.acquire() as connection, connection.transaction():
            user = await connection.fetchrow(USER_BY_ID, uuid.UUID(claims["sub"]))
        return user if user is not None and _signed_in(user, claims) else None

    async def get_order(self, order_id: str, request: Request) -> Response:
        claims = self.claims(request)
        if claims is None:
            return Response(status_code=401)
        async with self.pool.acquire() as connection, connection.transaction():
            customer_id = await self.customer(connection, claims)
            if customer_id is None:
                return Response(status_code=401)
            rows = await connection.fetch(ORDER_BY_ID, uuid.UUID(order_id))
        found = _orders(rows)
        if not found or found[0]["customer_id"] != customer_id:
            return Response(status_code=404)
        order = found[0]
        del order["_at"]
        return _json_utc(order, headers={"ETag": f'"{order["version"]}"'})

    async def list_orders(self, limit: int, request: Request) -> Response:
        claims = self.claims(request)
        if claims is None:
            return Response(status_code=401)
        async with self.pool.acquire() as connection, connection.transaction():
            customer_id = await self.customer(connection, claims)
            if customer_id is None:
                return Response(status_code=401)
            rows = await connection.fetch(ORDER_PAGE, customer_id, limit + 1)
        found = _orders(rows)
        items = found[:limit]
        cursor = _cursor(items[-1]) if len(found) > limit else None
        for order in items:
            del order["_at"]
        return _json_utc({"items": items, "next_cursor": cursor})

    async def get_product(self, sku: str) -> Response:
        async with self.pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(PRODUCT_BY_SKU, sku.strip().upper())
        if row is None:
            return Response(status_code=404)
        return _json_utc(_product(row), headers={"ETag": f'"{row["version"]}"'})

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
        more = len(rows) > limit
        cursor = base64.urlsafe_b64encode(items[-1]["sku"].encode()).decode() if more else None
        return _json_utc({"items": items, "next_cursor": cursor and cursor.rstrip("=")})

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
            cursor = _position_cursor(f"{items[-1]['at'].isoformat()}|{items[-1]['id']}")
        return _json({"items": items, "next_cursor": cursor})

    async def place_order(self, new: NewOrder, request: Request) -> Response:
        claims = self.claims(request)
        if claims is None:
            return Response(status_code=401)
        key = request.headers.get("idempotency-key")
        if not key:
            return Response(status_code=400)
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        lines = [(line.sku.strip().upper(), line.quantity) for line in new.lines]
        if not 1 <= len(lines) <= MAX_LINES or len({sku for sku, _ in lines}) < len(lines):
            return Response(status_code=422)
        if any(not 1 <= quantity <= MAX_QUANTITY for _, quantity in lines):
            return Response(status_code=422)
        now = datetime.now(UTC)
        try:
            async with self.pool.acquire() as connection, connection.transaction():
                placed = await self.checked(connection, claims, key, new, lines, now)
                view = await placed.write(connection, request_id)
        except Unplaced as unplaced:  # rolled back, as Orderly rolls back a replay
            return unplaced.response
        return _json_utc(view, 201, placed.headers())

    async def checked(  # noqa: PLR0917 - the facts of one request
        self,
        connection: Executor,
        claims: dict[str, Any],
        key: str,
        new: NewOrder,
        lines: list[tuple[str, int]],
        now: datetime,
    ) -> Placed:
        """The placement once the account, the key, the customer's open orders, the products
        and the shipping are checked, in Orderly's order; raises :class:`Unplaced` (the stored
        answer of a replay, or a refusal)."""
        account = await connection.fetchrow(USER_BY_ID, uuid.UUID(claims["sub"]))
        if account is None or not _signed_in(account, claims):
            raise Unplaced(Response(status_code=401))
        customer_id = str(account["id"])
        actor = f"user:{customer_id}"
        address = None if new.shipping_address is None else new.shipping_address.model_dump()
        request = [customer_id, lines, new.email, address, new.shipping_method]
        fingerprint = hashlib.sha256(orjson.dumps(request)).hexdigest()
        found = await connection.fetchrow(FIND_KEY, actor, OPERATION, key, now)
        if found is None:
            scope = f"{actor}\x1f{OPERATION}\x1f{key}"
            if not await connection.fetchval(LOCK_KEY, scope):
                raise Unplaced(Response(status_code=409, headers={"Retry-After": "1"}))
            found = await connection.fetchrow(FIND_KEY, actor, OPERATION, key, now)
        if found is not None:
            raise Unplaced(_replayed(found, fingerprint))
        await connection.fetchval(LOCK_CUSTOMER, customer_id)
        if await connection.fetchval(OPEN_UNPAID, customer_id, now) >= self.max_open_unpaid:
            raise Unplaced(Response(status_code=409))
        email = account["email"] if new.email is None else new.email.strip()
        rows = await connection.fetch(LOCK_PRODUCTS, sorted(sku for sku, _ in lines))
        products = {row["sku"]: row for row in rows}
        _check_lines(lines, products)
        currency = products[lines[0][0]]["currency"]
        subtotal = sum(products[sku]["unit_price"] * quantity for sku, quantity in lines)
        rates = await connection.fetch(ACTIVE_RATES)
        shipping = _shipping(rates, new, subtotal, currency)
        checkout = (email, address)
        return Placed(
            actor, customer_id, key, fingerprint, now, lines, products, checkout, shipping
        )


class Unplaced(Exception):  # noqa: N818 - an outcome, not an error
    """A placement that ends without an order: the answer to send, the transaction rolled
    back."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _replayed(found: asyncpg.Record, fingerprint: str) -> Response:
    """The answer to a retry: the stored placement, answered again (422 for another request
    under the same key; a stored refusal is not kept by the baseline)."""
    if found["fingerprint"] != fingerprint or not found["succeeded"]:
        return Response(status_code=422)
    view = _order_answer(found["document"]["order"])
    headers = {**_placed_headers(view), "Idempotent-Replayed": "true"}
    return _json_utc(view, 201, headers)


def _check_lines(lines: list[tuple[str, int]], products: dict[str, asyncpg.Record]) -> None:
    """Orderly's rules on the locked products: each there and active, one currency, within
    its ``max_per_order`` and its available stock (raises :class:`Unplaced`)."""
    if any(sku not in products or not products[sku]["active"] for sku, _ in lines):
        raise Unplaced(Response(status_code=422))
    if len({products[sku]["currency"] for sku, _ in lines}) > 1:
        raise Unplaced(Response(status_code=422))
    for sku, quantity in lines:
        product = products[sku]
        limit = product["max_per_order"]
        if (limit is not None and quantity > limit) or (
            product["on_hand"] - product["reserved"] < quantity
        ):
            raise Unplaced(Response(status_code=409))


def _shipping(
    rates: list[asyncpg.Record], new: NewOrder, subtotal: int, currency: str
) -> tuple[str | None, int, list[dict[str, Any]]]:
    """The shipping method, its price and the methods offered, among the shop's active
    ``rates`` (none: no method, nothing to pay); raises :class:`Unplaced`."""
    method = None if new.shipping_method is None else new.shipping_method.strip().lower()
    if not rates:
        if method is not None:
            raise Unplaced(Response(status_code=422))
        return None, 0, []
    address = new.shipping_address
    if address is None or method is None:
        raise Unplaced(Response(status_code=422))
    country = address.country.strip().upper()
    options = [
        {
            "code": rate["code"],
            "name": rate["name"],
            "price": {
                "amount": 0
                if rate["free_above"] is not None and subtotal >= rate["free_above"]
                else rate["price"],
                "currency": rate["currency"],
            },
        }
        for rate in rates
        if rate["currency"] == currency and (not rate["countries"] or country in rate["countries"])
    ]
    chosen = next((option for option in options if option["code"] == method), None)
    if chosen is None:
        raise Unplaced(Response(status_code=422))
    return method, chosen["price"]["amount"], options


def _instant(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _order_answer(order: dict[str, Any]) -> dict[str, Any]:
    """The order as Orderly answers a placement, from the order as its idempotency record
    keeps it (the first answer and every replay alike)."""
    lines = [
        {
            "sku": line["sku"],
            "quantity": line["quantity"],
            "unit_price": line["unit_price"]["amount"],
            "currency": line["unit_price"]["currency"],
            "shipped": line["shipped"],
            "delivered": line["delivered"],
            "returned": line["returned"],
            "cancelled": line["cancelled"],
        }
        for line in order["lines"]
    ]
    subtotal = sum(line["unit_price"] * line["quantity"] for line in lines)
    delivered_at = order["delivered_at"]
    return {
        "id": order["id"],
        "status": order["status"],
        "customer_id": order["customer_id"],
        "lines": lines,
        "subtotal": subtotal,
        "shipping": order["shipping_price"],
        "total": subtotal + order["shipping_price"],
        "currency": lines[0]["currency"],
        "email": order["email"],
        "shipping_address": order["shipping_address"],
        "shipping_method": order["shipping_method"],
        "expires_at": _instant(order["expires_at"]),
        "cancel_reason": order["cancel_reason"],
        "delivered_at": None if delivered_at is None else _instant(delivered_at),
        "version": order["version"],
        "created_at": _instant(order["placed_at"]),
        "updated_at": _instant(order["updated_at"]),
    }


def _placed_headers(view: dict[str, Any]) -> dict[str, str]:
    return {"Location": f"/api/v1/orders/{view['id']}", "ETag": f'"{view["version"]}"'}


class Placed:
    """An order that passed its checks, and the writes that place it."""

    def __init__(  # noqa: PLR0917 - the facts of one order
        self,
        actor: str,
        customer_id: str,
        key: str,
        fingerprint: str,
        now: datetime,
        lines: list[tuple[str, int]],
        products: dict[str, asyncpg.Record],
        checkout: tuple[str | None, dict[str, Any] | None],
        shipping: tuple[str | None, int, list[dict[str, Any]]],
    ) -> None:
        self.actor, self.customer_id, self.key = actor, customer_id, key
        self.fingerprint, self.now, self.lines, self.products = fingerprint, now, lines, products
        self.email, self.address = checkout
        self.method, self.shipping_price, self.options = shipping
        self.order_id = uuid.uuid4()
        self.currency = products[lines[0][0]]["currency"]

    def stored(self) -> dict[str, Any]:
        """The placement as Orderly's idempotency record keeps it: the order, the stock each
        line found and the shipping methods offered."""
        now = self.now
        order = {
            "id": str(self.order_id),
            "customer_id": self.customer_id,
            "status": "placed",
            "lines": [
                {
                    "sku": sku,
                    "quantity": quantity,
                    "unit_price": {
                        "amount": self.products[sku]["unit_price"],
                        "currency": self.currency,
                    },
                    "shipped": 0,
                    "delivered": 0,
                    "returned": 0,
                    "cancelled": 0,
                }
                for sku, quantity in self.lines
            ],
            "placed_at": now,
            "updated_at": now,
            "expires_at": now + ORDER_TTL,
            "version": 1,
            "cancel_reason": None,
            "email": self.email,
            "shipping_address": self.address,
            "shipping_method": self.method,
            "shipping_price": self.shipping_price,
            "delivered_at": None,
        }
        availability = [
            {
                "sku": sku,
                "requested": quantity,
                "available": self.products[sku]["on_hand"] - self.products[sku]["reserved"],
            }
            for sku, quantity in self.lines
        ]
        return {"order": order, "availability": availability, "shipping_methods": self.options}

    def headers(self) -> dict[str, str]:
        return _placed_headers({"id": self.order_id, "version": 1})

    async def write(self, connection: Executor, request_id: str) -> dict[str, Any]:
        """The order, its lines, each product's reservation and ledger movement (in SKU
        order), the audit entry, the event and the stored answer; the answer."""
        stored = self.stored()
        view = _order_answer(stored["order"])
        now, order_id, customer_id = self.now, self.order_id, self.customer_id
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
            self.email,
            self.address,
            self.method,
            self.shipping_price,
            None,
        )
        for number, (sku, quantity) in enumerate(self.lines, start=1):
            price = self.products[sku]["unit_price"]
            await connection.execute(
                INSERT_LINE, order_id, number, sku, quantity, price, self.currency, 0, 0, 0, 0
            )
        for sku, quantity in sorted(self.lines):
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
                row["max_per_order"],
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
                request_id,
            )
        changes = {
            name: {"before": None, "after": value}
            for name, value in view.items()
            if name not in NOT_AUDITED
        }
        await connection.execute(
            INSERT_AUDIT,
            uuid.uuid4(),
            now,
            "user",
            customer_id,
            "customer",
            OPERATION,
            "order",
            str(order_id),
            request_id,
            self.key,
            "execute",
            changes,
        )
        await connection.fetchval(
            INSERT_EVENT,
            uuid.uuid4(),
            "order.placed",
            f"order:{order_id}",
            1,
            view,
            request_id,
            now,
            None,
        )
        await connection.execute(
            STORE_KEY,
            self.actor,
            OPERATION,
            self.key,
            self.fingerprint,
            "Placement",
            stored,
            request_id,
            now,
            now + KEY_TTL,
        )
        return view


def create_app() -> FastAPI:
    database_url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    secret = os.environ["JWT_SECRET"]
    pool_size = int(os.environ.get("DB_POOL_SIZE", "5"))
    max_open_unpaid = int(os.environ.get("MAX_OPEN_UNPAID_ORDERS", "3"))
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
        holder["app"] = Baseline(pool, secret, max_open_unpaid)
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

    @app.get("/api/v1/orders/{order_id}")
    async def get_order(order_id: str, request: Request) -> Response:
        return await holder["app"].get_order(order_id, request)

    return app
