"""Schemathesis hooks of the fuzzing run (loaded through ``hooks`` in schemathesis.toml).

``positive_data_acceptance`` fails when data the OpenAPI document allows gets a 4xx that the
configuration does not expect. The refusals listed here are the API's documented business
rules, which JSON Schema cannot state; each is waived only for its problem ``code`` (and, for
``invalid_input``, only when every invalid field is one listed for that operation), so any
other refusal of schema-valid data still fails the run. Every other check still runs on
these requests: a server error or an answer that breaks its schema is never waived.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

import httpx
import schemathesis
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.generation.modes import GenerationMode
from schemathesis.openapi.checks import RejectedPositiveData

from orderly_core.platform.outbox import EventType

# Problem codes that schema-valid data may get, with the rule behind each.
BUSINESS_RULES = {
    # Placing an order for real needs an Idempotency-Key (optional in the schema because a
    # dry run does not).
    "idempotency_key_required": "an order is placed with an Idempotency-Key",
    # The fuzzer sends one generated key with different bodies: a key names one request.
    "idempotency_key_reused": "a key reused for a different request is refused",
    # An order's SKUs must name products on sale; a generated SKU rarely names one.
    "products_unavailable": "every SKU of an order names a product on sale",
    # A CSV file's content: a header naming the columns, then valid rows.
    "import_rejected": "an import's file is a CSV with the documented columns and valid rows",
    # Money recorded or given back depends on the order: at most what it owes, at most what
    # its payments took minus what was refunded.
    "payment_exceeds_due": "a payment recorded by hand is at most what the order owes",
    "refund_exceeds_refundable": "a refund is at most what was paid minus what was refunded",
    # A mailed link's token is one Orderly issued and mailed, unused and unexpired; a
    # generated one of the right shape names none.
    "token_rejected": "a password reset or verification token is one Orderly mailed",
}

# Fields (regular expressions) an ``invalid_input`` may name for schema-valid data, by
# operation ("*": every one), with the rule behind each.
FIELD_RULES: dict[tuple[str, str], str] = {
    # Only the `next_cursor` a listing returned is a cursor; any other text is refused.
    ("*", "cursor"): "a cursor is opaque",
    ("*", "until"): "`until` is after `since`",
    ("GET /api/v1/reports/sales", "to"): "`to` is not before `from`; at most 366 days",
    ("POST /api/v1/orders", r"lines\.[0-9]+\.sku"): "an order names each SKU once",
    ("POST /api/v1/webhooks/{endpoint_id}/replay", r"event_types(\.[0-9]+)?"): (
        "each type one the endpoint subscribes to"
    ),
    ("POST /api/v1/webhooks/{endpoint_id}/replay", "since"): "at most 10,000 events",
    ("POST /api/v1/products/{sku}/stock-adjustments", "delta"): (
        "stock on hand stays at most 10^9 after the adjustment: it depends on the stock held"
    ),
    ("POST /api/v1/webhooks", "url"): "the address guard: a public host",
    ("PATCH /api/v1/webhooks/{endpoint_id}", "url"): "the address guard: a public host",
}

# Body fields that the core takes in more forms than the schema declares, so that data the
# schema refuses may be accepted (``negative_data_rejection``): an email's declared pattern
# is a conservative ASCII shape, and the core also takes internationalised addresses.
LENIENT_FIELDS = {"email": "the email pattern is conservative"}


def _problem(response: Any) -> dict[str, Any]:
    try:
        document = json.loads(response.content)
    except (ValueError, TypeError):
        return {}
    return document if isinstance(document, dict) else {}


def _waived(operation: str, problem: dict[str, Any]) -> bool:
    code = problem.get("code")
    if code in BUSINESS_RULES:
        return True
    if code != "invalid_input":
        return False
    fields = [str(error.get("field")) for error in problem.get("errors", [])]
    allowed = [field for (where, field) in FIELD_RULES if where in ("*", operation)]
    return bool(fields) and all(
        any(re.fullmatch(rule, field) for rule in allowed) for field in fields
    )


def _schema_valid_headers(case: Any) -> bool:
    """Whether every header the case sends is one its parameter's schema allows.

    Schemathesis 4's coverage phase fills an optional header whose ``pattern`` needs a
    character other than a letter or a digit (``If-Match: "3"``) with a placeholder (``0``)
    and still counts the case as schema-valid; such a case is not.
    """
    sent = {name.lower(): value for name, value in (case.headers or {}).items()}
    return all(
        parameter.is_valid(sent[parameter.name.lower()])
        for parameter in case.operation.headers
        if parameter.name.lower() in sent
    )


def _lenient(failure: AcceptedNegativeData) -> bool:
    """Whether the data the schema refuses was outside its declaration only in a lenient
    field (schemathesis names the violated keyword and its place in the failure)."""
    return any(f"/properties/{field} " in failure.message for field in LENIENT_FIELDS)


@schemathesis.hook
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    if isinstance(failure, AcceptedNegativeData):
        return not _lenient(failure)
    if not isinstance(failure, RejectedPositiveData):
        return True
    if not _schema_valid_headers(case):
        return False
    return not _waived(f"{case.method.upper()} {case.operation.path}", _problem(response))


# Data the API holds, so that schema-valid requests about one product, order or webhook
# endpoint reach the rules behind the lookup (a generated SKU or id names nothing, and a
# generated ETag is rarely the current one). The test passes the running app's address and
# the signed-in caller's Authorization header; each positive case of these operations is
# pointed at a resource made for it (or, for an order, placed and moved to the step before),
# with that resource's current ETag in If-Match.
BASE_URL = os.environ.get("FUZZ_BASE_URL", "")
AUTHORIZATION = os.environ.get("FUZZ_AUTHORIZATION", "")
# An account that signs in at `POST /api/v1/auth/token` (one of its own: the callers' passwords
# may change during a run).
USERNAME = os.environ.get("FUZZ_USERNAME", "")
PASSWORD = os.environ.get("FUZZ_PASSWORD", "")
# Products on sale with stock enough for every order of a run, one per line of the largest
# order (an order names each SKU once); made by the test before the run.
ON_SALE = [f"FUZZ-{index}" for index in range(100)]
# The fuzzed endpoints subscribe to every event, so that a replay may ask for any of them.
EVENT_TYPES = [event_type.value for event_type in EventType]
# The steps an order is moved through before each of these operations acts on it.
ORDER_STEPS = {
    "pay": [],
    "payments": [],
    "refunds": ["pay"],
    "cancel": [],
    "ship": ["pay"],
    "deliver": ["pay", "ship"],
    "returns": ["pay", "ship", "deliver"],
    "shipments": ["pay"],
    "cancellations": ["pay"],
}
# The writes that move money (each needs an Idempotency-Key), and the total of a fresh order
# (one unit of a product on sale at 10.00): what may be paid, then refunded.
MONEY_STEPS = ("payments", "pay", "refunds")
# The writes that move units of the order (each needs an Idempotency-Key): their lines name
# the order's one line (one unit of its first product on sale), at most all of it.
UNIT_STEPS = ("shipments", "cancellations")
ORDER_TOTAL = 1000
# The shop's shipping rate, serving every country in EUR, made by the test before the run: an
# order is placed with an address and this method (another rate may serve elsewhere).
SHIPPING_METHOD = "fuzz"
SHIPPING_ADDRESS = {"name": "Fuzz", "line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"}
IMPORT_CSV = "sku,name,description,price,currency,on_hand\nFUZZ-IMPORT-1,Imported,,12.50,EUR,4\n"
# The operations whose schema-valid requests get real data (paths starting so).
REAL_DATA_PATHS = (
    "/api/v1/products/{sku}",
    "/api/v1/webhooks/{endpoint_id}",
    "/api/v1/orders",
    "/api/v1/shipping-rates/{code}",
    "/api/v1/products/imports",
    "/api/v1/auth/token",
    "/api/v1/returns/{return_id}",
    "/api/v1/shipments/{shipment_id}",
)

_CLIENT = httpx.Client(base_url=BASE_URL, headers={"Authorization": AUTHORIZATION}, timeout=30)


def _api(method: str, path: str, **kwargs: Any) -> httpx.Response:
    return _CLIENT.request(method, path, **kwargs)


def _fresh_product() -> tuple[str, str]:
    sku = f"FUZZ-{uuid.uuid4().hex[:16]}"
    body = {"sku": sku, "name": "Fuzzed", "unit_price": 1000, "currency": "EUR"}
    created = _api("POST", "/api/v1/products", json=body)
    return sku, created.headers.get("ETag", '"1"')


def _fresh_endpoint() -> tuple[str, str]:
    body = {"url": "https://8.8.8.8/orderly", "event_types": EVENT_TYPES}
    created = _api("POST", "/api/v1/webhooks", json=body)
    return str(created.json().get("id")), created.headers.get("ETag", '"1"')


def _fresh_rate() -> tuple[str, str]:
    code = f"fuzz-{uuid.uuid4().hex[:16]}"
    body = {"code": code, "name": "Fuzzed", "price": 100, "currency": "EUR", "active": False}
    created = _api("POST", "/api/v1/shipping-rates", json=body)
    return code, created.headers.get("ETag", '"1"')


def _fresh_order(steps: list[str]) -> tuple[str, str]:
    body = {
        "lines": [{"sku": ON_SALE[0], "quantity": 1}],
        "shipping_address": SHIPPING_ADDRESS,
        "shipping_method": SHIPPING_METHOD,
    }
    placed = _api("POST", "/api/v1/orders", json=body, headers=_new_key())
    order_id, etag = str(placed.json().get("id")), placed.headers.get("ETag", '"1"')
    for step in steps:
        at = f"/api/v1/orders/{order_id}/{step}"
        if step == "pay":  # staff record the whole total by hand
            payment = {"amount": placed.json().get("total"), "reference": "fuzz"}
            paid = _api("POST", at, json=payment, headers=_new_key())
            etag = f'"{paid.json().get("order", {}).get("version", 2)}"'
            continue
        moved = _api("POST", at, headers={"If-Match": etag})
        etag = moved.headers.get("ETag", etag)
    return order_id, etag


def _order_case(case: Any, step: str, method: str) -> tuple[str, str]:
    """Point ``case`` at an order moved to the step before ``step``; its id and ETag."""
    target = _fresh_order(ORDER_STEPS[step])
    case.path_parameters["order_id"] = target[0]
    if step in MONEY_STEPS and method == "POST":
        _money(case)
    if step == "returns" and method == "POST":
        _returned_lines(case.body, "reason", "too small")
        _set_headers(case, _new_key())
    if step in UNIT_STEPS and method == "POST":
        _units(case)
    return target


def _returned_lines(body: Any, member: str, default: str) -> None:
    """A return's (or a receipt's) lines: the one unit of a fresh delivered order, with the
    generated ``member`` (the reason, the disposition) of the first line."""
    if not isinstance(body, dict):
        return
    lines = body.get("lines")
    first = lines[0] if isinstance(lines, list) and lines and isinstance(lines[0], dict) else {}
    body["lines"] = [{"sku": ON_SALE[0], "quantity": 1, member: first.get(member, default)}]


def _fresh_return(*, approve: bool) -> tuple[str, str]:
    """A return of the one unit of a fresh delivered order, approved when asked: its id and
    ETag."""
    order_id, _ = _fresh_order(ORDER_STEPS["returns"])
    body = {"lines": [{"sku": ON_SALE[0], "quantity": 1, "reason": "fuzz"}]}
    made = _api("POST", f"/api/v1/orders/{order_id}/returns", json=body, headers=_new_key())
    return_id, etag = str(made.json().get("id")), made.headers.get("ETag", '"1"')
    if approve:
        approved = _api("POST", f"/api/v1/returns/{return_id}/approve", json={})
        etag = approved.headers.get("ETag", etag)
    return return_id, etag


def _return_case(case: Any, path: str, method: str) -> tuple[str, str]:
    """Point ``case`` at a return in the status before its step; its id and ETag."""
    receiving = path.endswith("/receive")
    target = _fresh_return(approve=receiving)
    case.path_parameters["return_id"] = target[0]
    if receiving and method == "POST":
        _returned_lines(case.body, "disposition", "restock")
        _set_headers(case, _new_key())
    return target


def _units(case: Any) -> None:
    """A shipment or a cancellation of the fresh order's one unit, with a new key."""
    _set_headers(case, _new_key())
    if isinstance(case.body, dict) and "lines" in case.body:
        case.body["lines"] = [{"sku": ON_SALE[0], "quantity": 1}]


def _fresh_shipment() -> tuple[str, str]:
    """A shipment of a fresh paid order's one unit: its id and ETag."""
    order_id, _ = _fresh_order(["pay"])
    body = {
        "lines": [{"sku": ON_SALE[0], "quantity": 1}],
        "carrier": "Fuzz",
        "tracking_number": "F1",
    }
    made = _api("POST", f"/api/v1/orders/{order_id}/shipments", json=body, headers=_new_key())
    return str(made.json().get("id")), made.headers.get("ETag", '"1"')


def _money(case: Any) -> None:
    """A payment or a refund of the fresh order, with a new key, of at most its total."""
    _set_headers(case, _new_key())
    amount = case.body.get("amount") if isinstance(case.body, dict) else None
    if isinstance(amount, int) and not isinstance(amount, bool) and amount > 0:
        case.body["amount"] = 1 + (amount - 1) % ORDER_TOTAL


def _new_key() -> dict[str, str]:
    return {"Idempotency-Key": f"fuzz-{uuid.uuid4().hex}"}


def _set_headers(case: Any, headers: dict[str, str]) -> None:
    """Send ``headers`` in place of any the case has under the same names, in any case."""
    names = {name.lower() for name in headers}
    kept = {
        name: value for name, value in (case.headers or {}).items() if name.lower() not in names
    }
    case.headers = kept | headers


def _real_target(case: Any, path: str, method: str) -> tuple[str, str] | None:
    """A resource made for the case, named in its path: its id and ETag."""
    target: tuple[str, str] | None = None
    if path.startswith("/api/v1/products/{sku}") and method != "GET":
        target = _fresh_product()
        case.path_parameters["sku"] = target[0]
    elif path.startswith("/api/v1/webhooks/{endpoint_id}") and method in ("PATCH", "DELETE"):
        target = _fresh_endpoint()
        case.path_parameters["endpoint_id"] = target[0]
    elif path.startswith("/api/v1/orders/{order_id}/"):
        target = _order_case(case, path.rsplit("/", 1)[1], method)
    elif path == "/api/v1/orders/{order_id}" and method == "PATCH":
        target = _fresh_order([])
        case.path_parameters["order_id"] = target[0]
    elif path.startswith("/api/v1/shipments/{shipment_id}"):
        target = _fresh_shipment()
        case.path_parameters["shipment_id"] = target[0]
    elif path == "/api/v1/shipping-rates/{code}" and method in ("PATCH", "DELETE"):
        target = _fresh_rate()
        case.path_parameters["code"] = target[0]
    elif path.startswith("/api/v1/returns/{return_id}"):
        target = _return_case(case, path, method)
    return target


def _real_data(case: Any) -> None:
    """Point the schema-valid ``case`` at data the API holds (see above)."""
    path, method = case.operation.path, case.method.upper()
    target = _real_target(case, path, method)
    if path == "/api/v1/webhooks/{endpoint_id}/replay":
        case.path_parameters["endpoint_id"] = _fresh_endpoint()[0]
    elif path == "/api/v1/orders" and method == "POST" and isinstance(case.body, dict):
        for line, sku in zip(case.body.get("lines", []), ON_SALE, strict=False):
            line["sku"] = sku
        case.body.setdefault("shipping_address", SHIPPING_ADDRESS)
        case.body["shipping_method"] = SHIPPING_METHOD
        _set_headers(case, _new_key())
    elif path == "/api/v1/products/imports" and isinstance(case.body, dict):
        case.body["file"] = IMPORT_CSV
    elif path == "/api/v1/auth/token" and isinstance(case.body, dict):
        # A form has no null: an absent field is left out.
        case.body = {name: value for name, value in case.body.items() if value is not None}
        case.body.update(username=USERNAME, password=PASSWORD)
    if target is not None:
        _set_headers(case, {"If-Match": target[1]})


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Schema-valid requests of the operations of ``REAL_DATA_PATHS`` get real data; data the
    schema forbids is sent as generated."""
    meta = case.meta
    if not BASE_URL or meta is None or meta.generation.mode is not GenerationMode.POSITIVE:
        return
    if case.operation.path.startswith(REAL_DATA_PATHS):
        _real_data(case)
