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
import re
from typing import Any

import schemathesis
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import RejectedPositiveData

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
