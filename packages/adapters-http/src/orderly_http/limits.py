"""What the API accepts, declared in its OpenAPI document from the core's own rules.

The core checks every input (and names each invalid field in a 422); these JSON Schema
keywords say the same to clients, made from the same constants, so that a client generated
from the schema sends nothing refused for its shape. They are declared only
(``json_schema_extra``): the checks, and their messages, stay the core's.

Text is single-line (no control character) or multi-line (tabs and line breaks allowed), as
:func:`orderly_core.shared.validation.text_problem` rules; a required name must hold a
character that is not a space, since the core trims what it keeps.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from orderly_core.accounts.emails import LABEL_MAX
from orderly_core.accounts.mailed_links import TOKEN_MAX
from orderly_core.accounts.model import DISPLAY_NAME_MAX, EMAIL_MAX, PASSWORD_MAX, PASSWORD_MIN
from orderly_core.catalogue.model import (
    DESCRIPTION_MAX,
    MAX_PER_ORDER_MAX,
    NAME_MAX,
    ON_HAND_MAX,
    SKU_INPUT_PATTERN,
    SKU_MAX,
)
from orderly_core.orders.address import (
    ADDRESS_LINE_MAX,
    ADDRESS_NAME_MAX,
    CITY_MAX,
    PHONE_MAX,
    PHONE_PATTERN,
    POSTAL_CODE_MAX,
    REGION_MAX,
)
from orderly_core.orders.model import MAX_LINES, MAX_QUANTITY
from orderly_core.payments.common import REASON_MAX
from orderly_core.platform.outbox import EventType
from orderly_core.returns import model as returns_model
from orderly_core.shared.context import IDEMPOTENCY_KEY_PATTERN
from orderly_core.shared.countries import COUNTRIES
from orderly_core.shared.money import MAX_MINOR_UNITS, MINOR_UNIT_EXPONENTS
from orderly_core.shared.validation import (
    MULTI_LINE_PATTERN,
    MULTI_LINE_REFUSED,
    SINGLE_LINE_PATTERN,
    SINGLE_LINE_REFUSED,
)
from orderly_core.shipments.model import CARRIER_MAX, TRACKING_NUMBER_MAX, TRACKING_URL_MAX
from orderly_core.shipping.model import RATE_CODE_INPUT_PATTERN, RATE_CODE_MAX, RATE_NAME_MAX
from orderly_core.webhooks.policy import URL_MAX

Keywords = dict[str, Any]


def text(*, max_length: int | None = None, multiline: bool = False) -> Keywords:
    """Text of at most ``max_length`` characters, possibly empty."""
    keywords: Keywords = {"pattern": MULTI_LINE_PATTERN if multiline else SINGLE_LINE_PATTERN}
    return keywords | ({} if max_length is None else {"maxLength": max_length})


def filled(*, max_length: int, multiline: bool = False) -> Keywords:
    """Text of 1 to ``max_length`` characters, not only spaces."""
    refused = MULTI_LINE_REFUSED if multiline else SINGLE_LINE_REFUSED
    pattern = rf"^[^{refused}]*[^\s{refused}][^{refused}]*$"
    return {"pattern": pattern, "minLength": 1, "maxLength": max_length}


def whole(minimum: int, maximum: int) -> Keywords:
    return {"minimum": minimum, "maximum": maximum}


SKU: Keywords = {"pattern": SKU_INPUT_PATTERN, "minLength": 1, "maxLength": SKU_MAX}
NAME = filled(max_length=NAME_MAX)
DESCRIPTION = text(max_length=DESCRIPTION_MAX, multiline=True)
REASON = filled(max_length=500, multiline=True)
CANCEL_REASON = text(max_length=255, multiline=True)
PAYMENT_REFERENCE = filled(max_length=REASON_MAX)
REFUND_REASON = filled(max_length=REASON_MAX, multiline=True)
CURRENCY: Keywords = {"enum": sorted(MINOR_UNIT_EXPONENTS)}
MINOR_UNITS = whole(0, MAX_MINOR_UNITS)
AMOUNT = whole(1, MAX_MINOR_UNITS)  # money that moves: a payment, a refund
UNITS = whole(0, ON_HAND_MAX)
STOCK_DELTA: Keywords = whole(-ON_HAND_MAX, ON_HAND_MAX) | {"not": {"const": 0}}
QUANTITY = whole(1, MAX_QUANTITY)
LINES: Keywords = {"minItems": 1, "maxItems": MAX_LINES}
RETURN_REASON = filled(max_length=returns_model.REASON_MAX, multiline=True)
RETURN_NOTE = text(max_length=returns_model.NOTE_MAX, multiline=True)
RECEIPT_LINES: Keywords = {"minItems": 1, "maxItems": returns_model.MAX_RECEIPT_LINES}
MAX_PER_ORDER = whole(0, MAX_PER_ORDER_MAX)
COUNTRY: Keywords = {"enum": sorted(COUNTRIES)}
COUNTRY_LIST: Keywords = {"uniqueItems": True, "maxItems": len(COUNTRIES)}
ADDRESS_NAME = filled(max_length=ADDRESS_NAME_MAX)
ADDRESS_LINE1 = filled(max_length=ADDRESS_LINE_MAX)
ADDRESS_LINE2 = text(max_length=ADDRESS_LINE_MAX)
POSTAL_CODE = text(max_length=POSTAL_CODE_MAX)
CITY = filled(max_length=CITY_MAX)
REGION = text(max_length=REGION_MAX)
PHONE: Keywords = {"pattern": PHONE_PATTERN, "maxLength": PHONE_MAX}
RATE_CODE: Keywords = {
    "pattern": RATE_CODE_INPUT_PATTERN,
    "minLength": 1,
    "maxLength": RATE_CODE_MAX,
}
RATE_NAME = filled(max_length=RATE_NAME_MAX)
CARRIER = filled(max_length=CARRIER_MAX)
TRACKING_NUMBER = filled(max_length=TRACKING_NUMBER_MAX)
# A conservative shape of a tracking URL (http or https, a host name, a port, a path); the
# core takes any absolute http(s) URL without credentials, spaces or control characters.
TRACKING_URL: Keywords = {
    "pattern": r"^https?://[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?(?::[0-9]{1,4})?(?:/[!-~]*)?$",
    "maxLength": TRACKING_URL_MAX,
}
# A domain label of at most 63 characters that is not an IDNA A-label (``xn--``), which the
# core takes only when it encodes an allowed Unicode label.
_LABEL = rf"(?![Xx][Nn]--)[A-Za-z0-9](?:[A-Za-z0-9\-]{{0,{LABEL_MAX - 2}}}[A-Za-z0-9])?"
_EMAIL_SHAPE = rf"[A-Za-z0-9._%+\-]{{1,64}}@(?:{_LABEL}\.)+[A-Za-z]{{2,{LABEL_MAX}}}"
# A conservative shape of an address: the core also takes what this leaves out.
EMAIL: Keywords = {"pattern": rf"^{_EMAIL_SHAPE}$", "maxLength": EMAIL_MAX}
_UUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
# A user is named by id or by email address.
USER_REF: Keywords = {"pattern": rf"^(?:{_UUID}|{_EMAIL_SHAPE})$", "maxLength": EMAIL_MAX}
DISPLAY_NAME = filled(max_length=DISPLAY_NAME_MAX)
PASSWORD: Keywords = {"minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX}
EMAIL_MAX_INPUT = 320  # an address as typed, before it is trimmed and folded
# A mailed link's token as Orderly issues it (URL-safe base64 of 32 random bytes).
# The core refuses any other text as an unknown token (404 token_rejected).
MAILED_TOKEN: Keywords = {"pattern": rf"^[A-Za-z0-9_-]{{20,{TOKEN_MAX}}}$", "maxLength": TOKEN_MAX}
EVENT_TYPES: Keywords = {
    "items": {"enum": [t.value for t in EventType]},
    "minItems": 1,
    "uniqueItems": True,
}
SEARCH = text(max_length=100)
FILTER = text()
ETAG_DIGITS_MAX = 18
"""A version fits PostgreSQL's bigint: an ``If-Match`` tag holds at most 18 digits."""
IF_MATCH: Keywords = {"pattern": rf'^("[0-9]{{1,{ETAG_DIGITS_MAX}}}"|\*)$'}
IDEMPOTENCY_KEY: Keywords = {"pattern": IDEMPOTENCY_KEY_PATTERN}
# A conservative shape of a webhook URL (https, a host name, a port, a path without a
# fragment); the address guard then refuses hosts that are not public.
WEBHOOK_URL: Keywords = {
    "pattern": r"^https://[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?(?::[0-9]{1,4})?(?:/[!\"$-~]*)?$",
    "maxLength": URL_MAX,
}

UserPath = Annotated[
    str, Path(description="The user's id, or their email address", json_schema_extra=USER_REF)
]
"""A route's ``{user_id}``, declared with the rule of a user reference."""

RateCodePath = Annotated[
    str, Path(description="The shipping rate's code, any case", json_schema_extra=RATE_CODE)
]
"""A route's ``{code}``, declared with the rule of a shipping rate's code."""

SkuPath = Annotated[str, Path(description="The product's SKU, any case", json_schema_extra=SKU)]
"""A route's ``{sku}``, declared with the SKU rule."""
