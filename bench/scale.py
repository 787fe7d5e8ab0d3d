"""A catalogue, customers and order history at scale, written by bulk ``COPY``.

``bench/run.py --scale`` measures Orderly on a database the size of a real shop's:
``--products`` products (1,000,000 by default), a tenth as many customers and as many
delivered orders as products, with everything those orders left behind. :func:`seed`
writes it with asyncpg's ``copy_records_to_table`` (PostgreSQL's binary ``COPY``), in chunks,
so a million orders take minutes rather than the hours the use cases would.

The data is valid for Orderly, as the use cases would have left it (``tests/bench`` checks it
through the core):

- each product has its opening stock movement; its ``on_hand`` is that stock less what its
  delivered order lines took and ``reserved`` is 0, so the ledger and the levels agree
  (``orderly stock verify`` finds no drift);
- each order is ``delivered``, placed within the last year (``expires_at`` 30 minutes later,
  as a placement sets it), with one or two lines whose units were all shipped and delivered,
  a ``reservation`` and a ``shipment`` movement per line and the ``order.place`` audit entry;
- each customer (and one admin) has the same password's Argon2 hash, hashed once.

Ids are UUIDs of version 4's form whose low bits count up within a table (rows go into their
primary-key index in order); nothing in Orderly reads meaning into an id. The orders are
spread over the customers round robin, so each has ``orders / customers`` of them.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from orderly_db.tables import audit_entries, order_lines, orders, products, stock_movements, users

CHUNK = 50_000
"""Rows per ``COPY``: enough to amortise the round trip, little enough to keep memory flat."""
STOCK = 1_000_000
"""Each product's opening stock: no measured order runs out of it."""
HOT_STOCK = 1_000_000_000
UNIT_PRICE = 1250
CURRENCY = "EUR"
HISTORY = timedelta(days=365)
ORDER_TTL = timedelta(minutes=30)
DELIVERY_TIME = timedelta(days=3)
SHIPPING_TIME = timedelta(days=1)
SEED_REQUEST = "bench-seed"


@dataclass(frozen=True, slots=True)
class Size:
    products: int
    customers: int
    orders: int

    @classmethod
    def for_products(cls, products: int) -> Size:
        """The shape ``--scale`` uses: a customer per ten products, an order per product."""
        return cls(products, max(1, products // 10), products)


@dataclass(slots=True)
class Seeded:
    """What the benchmark needs to know of the data it seeded."""

    skus: list[str]
    hot: list[str]
    customers: list[tuple[str, str]]  # (id, email)
    admin: tuple[str, str]
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def deep_cursor(skus: Sequence[str], from_end: int) -> str:
    """The catalogue's ``next_cursor`` (unpadded base64url of the last SKU shown) for a page
    that starts ``from_end`` products before the end of ``skus`` in SKU order."""
    ordered = sorted(skus)
    after = ordered[max(0, len(ordered) - from_end - 1)]
    return base64.urlsafe_b64encode(after.encode()).decode().rstrip("=")


def driver_url(database_url: str) -> str:
    """asyncpg's form of a SQLAlchemy ``postgresql+asyncpg://`` URL."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class _Ids:
    """UUIDs of version 4's form whose low bits count up: a random high half per table
    (version nibble 4) and the variant bits, then the counter."""

    def __init__(self) -> None:
        high = secrets.randbits(64)
        self._high = ((high & ~(0xF << 12)) | (4 << 12)) << 64
        self._next = 0

    def __call__(self) -> uuid.UUID:
        self._next += 1
        return uuid.UUID(int=self._high | (0b10 << 62) | self._next)


def _columns(table: Any) -> list[str]:
    return [column.name for column in table.c]


async def _copy(
    connection: asyncpg.Connection,
    table: Any,
    rows: Iterator[tuple[Any, ...]],
    counts: dict[str, int],
) -> None:
    """``COPY`` ``rows`` into ``table`` (every column, in the metadata's order), in chunks."""
    columns = _columns(table)
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            await connection.copy_records_to_table(table.name, records=chunk, columns=columns)
            counts[table.name] = counts.get(table.name, 0) + len(chunk)
            chunk = []
    if chunk:
        await connection.copy_records_to_table(table.name, records=chunk, columns=columns)
        counts[table.name] = counts.get(table.name, 0) + len(chunk)


@dataclass(frozen=True, slots=True)
class _Line:
    sku_index: int
    quantity: int


def _lines_of(order: int, products: int) -> list[_Line]:
    """One or two lines, of products spread over the catalogue, one to three units each."""
    count = 1 + order % 2
    return [
        _Line((order * 7919 + number * 104_729) % products, 1 + (order + number) % 3)
        for number in range(count)
    ]


async def seed(
    connection: asyncpg.Connection,
    size: Size,
    *,
    run: str,
    password_hash: str,
    hot: Sequence[str] = (),
    now: datetime | None = None,
    progress: Callable[[str], None] = lambda _message: None,
) -> Seeded:
    """Write ``size`` into an empty, migrated database through ``connection``, in one
    transaction, then ``ANALYZE``. ``hot`` names extra products with a much larger stock and
    no orders (the benchmark's hot SKUs)."""
    now = now or datetime.now(UTC)
    skus = [f"S{run}-{index:07d}" for index in range(size.products)]
    customers = [
        (str(uuid.uuid4()), f"scale-{run.lower()}-{index:06d}@example.com")
        for index in range(size.customers)
    ]
    admin = (str(uuid.uuid4()), f"scale-{run.lower()}-admin@example.com")
    seeded = Seeded(skus, list(hot), customers, admin)
    opened = now - HISTORY - timedelta(days=30)
    shipped, lines = [0] * size.products, [0] * size.products
    for order in range(size.orders):
        for line in _lines_of(order, size.products):
            shipped[line.sku_index] += line.quantity
            lines[line.sku_index] += 1

    def timed(name: str, started: float) -> None:
        seeded.seconds[name] = round(time.monotonic() - started, 1)
        progress(f"  {name} in {seeded.seconds[name]} s")

    async with connection.transaction():
        started = time.monotonic()
        progress(f"seeding {size.products} products, {len(hot)} hot ones")
        catalogue = _products(skus, shipped, lines, hot, opened)
        await _copy(connection, products, catalogue, seeded.rows)
        timed("products", started)

        started = time.monotonic()
        await _copy(connection, users, _users(customers, admin, password_hash, opened), seeded.rows)
        timed("users", started)

        started = time.monotonic()
        movement_id = _Ids()
        openings = _openings(skus, hot, opened, movement_id)
        await _copy(connection, stock_movements, openings, seeded.rows)
        timed("opening movements", started)

        progress(f"seeding {size.orders} orders with their lines, movements and audit entries")
        history = _History(size, skus, customers, now, movement_id)
        started = time.monotonic()
        await _copy(connection, orders, history.orders(), seeded.rows)
        timed("orders", started)
        started = time.monotonic()
        await _copy(connection, order_lines, history.lines(), seeded.rows)
        timed("order_lines", started)
        started = time.monotonic()
        await _copy(connection, stock_movements, history.movements(), seeded.rows)
        timed("order movements", started)
        started = time.monotonic()
        await _copy(connection, audit_entries, history.audit(), seeded.rows)
        timed("audit_entries", started)
    started = time.monotonic()
    progress("analysing the tables")
    await connection.execute("ANALYZE")
    seeded.seconds["analyze"] = round(time.monotonic() - started, 1)
    return seeded


def _products(
    skus: Sequence[str],
    shipped: Sequence[int],
    lines: Sequence[int],
    hot: Sequence[str],
    at: datetime,
) -> Iterator[tuple[Any, ...]]:
    # sku, name, description, unit_price, currency, active, on_hand, reserved, version,
    # created_at, updated_at, low_stock_threshold, max_per_order
    for sku, taken, touched in zip(skus, shipped, lines, strict=True):
        version = 1 + 2 * touched  # each line's reservation and shipment bumped it
        yield (
            sku, f"Scale product {sku}", "", UNIT_PRICE, CURRENCY, True, STOCK - taken, 0,
            version, at, at, 0, None,
        )  # fmt: skip
    for sku in hot:
        yield (sku, f"Hot product {sku}", "", UNIT_PRICE, CURRENCY, True, HOT_STOCK, 0, 1, at, at, 0, None)  # fmt: skip  # noqa: E501


def _users(
    customers: Sequence[tuple[str, str]], admin: tuple[str, str], password_hash: str, at: datetime
) -> Iterator[tuple[Any, ...]]:
    # id, email, display_name, password_hash, role, active, created_at, updated_at,
    # tokens_valid_after, email_verified_at (long-standing accounts: verified)
    for user_id, email in customers:
        yield (uuid.UUID(user_id), email, "Scale customer", password_hash, "customer", True, at, at, None, at)  # fmt: skip  # noqa: E501
    yield (uuid.UUID(admin[0]), admin[1], "Scale admin", password_hash, "admin", True, at, at, None, at)  # fmt: skip  # noqa: E501


def _openings(
    skus: Sequence[str], hot: Sequence[str], at: datetime, new_id: _Ids
) -> Iterator[tuple[Any, ...]]:
    # id, sku, at, kind, on_hand_delta, reserved_delta, note, reference, actor_id, request_id
    for sku in skus:
        yield (new_id(), sku, at, "opening", STOCK, 0, "opening stock", None, "bench", SEED_REQUEST)  # fmt: skip  # noqa: E501
    for sku in hot:
        yield (new_id(), sku, at, "opening", HOT_STOCK, 0, "opening stock", None, "bench", SEED_REQUEST)  # fmt: skip  # noqa: E501


class _History:
    """The orders and what they left behind, generated identically for each table (the
    order ids, times and lines are functions of the order's number)."""

    def __init__(
        self,
        size: Size,
        skus: Sequence[str],
        customers: Sequence[tuple[str, str]],
        now: datetime,
        movement_id: _Ids,
    ) -> None:
        self._size, self._skus, self._customers = size, skus, customers
        self._first = now - HISTORY
        self._step = HISTORY / max(1, size.orders)
        self._movement_id = movement_id
        self._audit_id = _Ids()
        ids = _Ids()
        self._order_ids = [ids() for _ in range(size.orders)]

    def _placed_at(self, order: int) -> datetime:
        return self._first + self._step * order

    def _customer(self, order: int) -> str:
        return self._customers[order % len(self._customers)][0]

    def orders(self) -> Iterator[tuple[Any, ...]]:
        # id, customer_id, status, total, currency, placed_at, updated_at, expires_at, version,
        # cancel_reason, email, shipping_address, shipping_method, shipping, delivered_at
        for order, order_id in enumerate(self._order_ids):
            placed = self._placed_at(order)
            total = sum(line.quantity for line in _lines_of(order, self._size.products))
            delivered = placed + DELIVERY_TIME
            yield (
                order_id, self._customer(order), "delivered", total * UNIT_PRICE, CURRENCY,
                placed, delivered, placed + ORDER_TTL, 4, None, None, None, None, 0, delivered,
            )  # fmt: skip

    def lines(self) -> Iterator[tuple[Any, ...]]:
        # The columns: order_id, line_no, sku, quantity, unit_price, currency, then the units
        # shipped, delivered, returned and cancelled.
        for order, order_id in enumerate(self._order_ids):
            for number, line in enumerate(_lines_of(order, self._size.products), start=1):
                q = line.quantity
                yield (order_id, number, self._skus[line.sku_index], q, UNIT_PRICE, CURRENCY, q, q, 0, 0)  # fmt: skip  # noqa: E501

    def movements(self) -> Iterator[tuple[Any, ...]]:
        # id, sku, at, kind, on_hand_delta, reserved_delta, note, reference, actor_id,
        # request_id
        new_id = self._movement_id
        for order, order_id in enumerate(self._order_ids):
            placed, customer, reference = self._placed_at(order), self._customer(order), str(order_id)  # fmt: skip  # noqa: E501
            for line in _lines_of(order, self._size.products):
                sku, q = self._skus[line.sku_index], line.quantity
                yield (new_id(), sku, placed, "reservation", 0, q, "order reservation", reference, customer, SEED_REQUEST)  # fmt: skip  # noqa: E501
                yield (new_id(), sku, placed + SHIPPING_TIME, "shipment", -q, -q, "order shipment", reference, "bench", SEED_REQUEST)  # fmt: skip  # noqa: E501

    def audit(self) -> Iterator[tuple[Any, ...]]:
        # id, at, actor_kind, actor_id, actor_role, operation, target_type, target_id,
        # request_id, idempotency_key, mode, changes
        for order, order_id in enumerate(self._order_ids):
            placed, customer = self._placed_at(order), self._customer(order)
            lines = [
                {"sku": self._skus[line.sku_index], "quantity": line.quantity}
                for line in _lines_of(order, self._size.products)
            ]
            changes = json.dumps({"after": {"id": str(order_id), "status": "placed", "lines": lines}})  # fmt: skip  # noqa: E501
            yield (
                self._audit_id(), placed, "user", customer, "customer", "order.place", "order",
                str(order_id), SEED_REQUEST, f"seed-{order}", "execute", changes,
            )  # fmt: skip


# --- Comparing two runs ---------------------------------------------------------------------

LIMIT = 1.5
"""How much slower a scenario may get at scale than at the small size, p50 and p99 alike."""


def compare(small: dict[str, Any], large: dict[str, Any]) -> str:
    """A Markdown table of each scenario's p50 and p99 in two ``bench/run.py --json``
    reports (the small catalogue's, then the large one's), Orderly's and the baseline's,
    with the growth and whether it stays within :data:`LIMIT`."""

    def size(report: dict[str, Any]) -> str:
        return f"{report['settings']['products']:,}"

    header = (
        f"| Scenario | Orderly p50 / p99 at {size(small)} | at {size(large)} | growth p50 / p99 "
        f"| within {LIMIT}x | baseline p50 / p99 at {size(small)} | at {size(large)} | "
        "ratio to the baseline | Orderly CPU per request |"
    )
    lines = [header, "|" + "---|" * 9]
    for name, entry in large["scenarios"].items():
        before = small["scenarios"].get(name)
        if before is None or "baseline" not in entry:
            continue
        mine, theirs = (
            (before["orderly"], entry["orderly"]),
            (before["baseline"], entry["baseline"]),
        )
        growth = [theirs_ / mine_ for mine_, theirs_ in _pairs(*mine)]
        ok = "yes" if all(g <= LIMIT for g in growth) else "**no**"
        lines.append(
            f"| `{name}` | {_latency(mine[0])} | {_latency(mine[1])} | "
            f"{' / '.join(f'{g:.2f}x' for g in growth)} | {ok} | {_latency(theirs[0])} | "
            f"{_latency(theirs[1])} | {before.get('ratio')} → {entry.get('ratio')} | "
            f"{mine[0]['server_cpu_ms_per_request']} → {mine[1]['server_cpu_ms_per_request']} ms |"
        )
    return "\n".join(lines)


def _pairs(small: dict[str, Any], large: dict[str, Any]) -> list[tuple[float, float]]:
    return [(small[key] or 1e-9, large[key] or 0.0) for key in ("p50_ms", "p99_ms")]


def _latency(measured: dict[str, Any]) -> str:
    return f"{measured['p50_ms']} / {measured['p99_ms']} ms"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if len(sys.argv) != 3:
        sys.exit("usage: python bench/scale.py SMALL.json LARGE.json (bench/run.py --json files)")
    reports = [json.loads(Path(path).read_text()) for path in sys.argv[1:]]
    print(compare(*reports))
