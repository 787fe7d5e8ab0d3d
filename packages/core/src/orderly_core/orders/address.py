"""Where an order is shipped: a postal address, checked in the core.

Every part is single-line text (:func:`~orderly_core.shared.validation.text_problem`), kept
trimmed. ``name``, ``line1``, ``city`` and ``country`` are required; ``country`` is an
assigned ISO 3166-1 alpha-2 code (:mod:`orderly_core.shared.countries`), kept upper-cased;
``line2``, ``postal_code`` and ``region`` may be empty (not every country has postal codes or
regions); ``phone`` is optional, for the carrier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from orderly_core.shared.countries import COUNTRY_RULE, normalise_country
from orderly_core.shared.validation import FieldErrors

ADDRESS_NAME_MAX = 100
ADDRESS_LINE_MAX = 100
POSTAL_CODE_MAX = 16
CITY_MAX = 100
REGION_MAX = 100
PHONE_MAX = 32
# At least three digits, with spaces and the marks people write phone numbers with, and a
# leading +; ASCII only.
PHONE_PATTERN = r"^ *\+?(?:[ ()./\-]*[0-9]){3}[0-9 ()./\-]*$"
PHONE_RULE = (
    f"must be a phone number of at most {PHONE_MAX} characters: at least 3 digits, spaces, "
    "( ) . / - and a leading +"
)
_PHONE = re.compile(PHONE_PATTERN)


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    line1: str
    city: str
    country: str  # ISO 3166-1 alpha-2, upper-case
    line2: str = ""
    postal_code: str = ""
    region: str = ""
    phone: str | None = None


def address_view(address: Address | None) -> dict[str, Any] | None:
    """The public representation of an address (``None`` when there is none)."""
    if address is None:
        return None
    return {
        "name": address.name,
        "line1": address.line1,
        "line2": address.line2,
        "postal_code": address.postal_code,
        "city": address.city,
        "region": address.region,
        "country": address.country,
        "phone": address.phone,
    }


def _part(fields: FieldErrors, field: str, raw: str, maximum: int, *, required: bool) -> str:
    if not fields.text(field, raw):
        return raw
    value = raw.strip()
    if required and not value:
        fields.fail(field, f"is required (1-{maximum} characters)")
    elif len(value) > maximum:
        fields.fail(field, f"must be at most {maximum} characters")
    return value


def checked_address(fields: FieldErrors, address: Address, field: str) -> Address:
    """``address`` trimmed and normalised; each broken rule is added to ``fields`` under
    ``field`` (``shipping_address.city``)."""
    name = _part(fields, f"{field}.name", address.name, ADDRESS_NAME_MAX, required=True)
    line1 = _part(fields, f"{field}.line1", address.line1, ADDRESS_LINE_MAX, required=True)
    line2 = _part(fields, f"{field}.line2", address.line2, ADDRESS_LINE_MAX, required=False)
    postal = _part(
        fields, f"{field}.postal_code", address.postal_code, POSTAL_CODE_MAX, required=False
    )
    city = _part(fields, f"{field}.city", address.city, CITY_MAX, required=True)
    region = _part(fields, f"{field}.region", address.region, REGION_MAX, required=False)
    country = address.country
    if fields.text(f"{field}.country", address.country):
        code = normalise_country(address.country)
        if code is None:
            fields.fail(f"{field}.country", COUNTRY_RULE)
        else:
            country = code
    phone = address.phone
    if phone is not None and fields.text(f"{field}.phone", phone):
        if len(phone) > PHONE_MAX or _PHONE.fullmatch(phone) is None:
            fields.fail(f"{field}.phone", PHONE_RULE)
        phone = phone.strip()
    return Address(name, line1, city, country, line2, postal, region, phone)
