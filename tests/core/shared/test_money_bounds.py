"""Money at its edges: the largest amount Orderly takes, the shapes of a decimal it refuses,
currencies of zero to four decimals, and how zero and negative amounts are written."""

from __future__ import annotations

import pytest

from orderly_core.shared.money import (
    MAX_MINOR_UNITS,
    MINOR_UNIT_EXPONENTS,
    Money,
    MoneyError,
    normalise_currency,
    parse_major,
)


@pytest.mark.parametrize(
    ("largest", "currency"),
    [("1000000000000000", "JPY"), ("10000000000000.00", "EUR"), ("100000000000.0000", "CLF")],
)
def test_the_largest_amount_is_ten_to_the_fifteen_minor_units(largest: str, currency: str) -> None:
    assert MAX_MINOR_UNITS == 10**15
    assert parse_major(largest, currency) == Money(10**15, currency)


@pytest.mark.parametrize(
    ("above", "currency"),
    [("1000000000000001", "JPY"), ("10000000000000.01", "EUR"), ("100000000000.0001", "CLF")],
)
def test_one_minor_unit_above_the_largest_amount_is_refused(above: str, currency: str) -> None:
    with pytest.raises(MoneyError, match="too large"):
        parse_major(above, currency)


@pytest.mark.parametrize("text", ["12.", ".5", "1.2.3", "+1", " 1 2", "1_000"])
def test_a_decimal_needs_digits_on_both_sides_of_its_point(text: str) -> None:
    """``12.`` and ``.5`` are refused: an amount is digits, optionally a point and digits."""
    with pytest.raises(MoneyError, match="not a non-negative decimal amount"):
        parse_major(text, "EUR")


@pytest.mark.parametrize("text", ["\u0661\u0662", "\uff11\uff12.50"])
def test_an_amount_is_written_in_ascii_digits(text: str) -> None:
    """Arabic-Indic or full-width digits are not read as an amount."""
    with pytest.raises(MoneyError):
        parse_major(text, "EUR")


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        (" 12.50 ", "EUR", 1250),
        ("0", "EUR", 0),
        ("0.00", "EUR", 0),
        ("12.5000", "EUR", 1250),  # trailing zeros need no rounding
        ("1.2345", "CLF", 12345),
        ("1.2", "CLF", 12000),
        ("7", "UYW", 70000),
        ("1.5", "KWD", 1500),
        ("1.0", "JPY", 1),
        ("0001", "JPY", 1),
    ],
)
def test_amounts_take_the_currencys_decimals(text: str, currency: str, expected: int) -> None:
    assert parse_major(text, currency) == Money(expected, currency)


@pytest.mark.parametrize(
    ("text", "currency"), [("1.23456", "CLF"), ("1.2345", "KWD"), ("0.001", "EUR")]
)
def test_one_decimal_more_than_the_currency_has_is_refused(text: str, currency: str) -> None:
    with pytest.raises(MoneyError, match="decimal places"):
        parse_major(text, currency)


def test_currencies_have_zero_two_three_or_four_decimals() -> None:
    assert {code: MINOR_UNIT_EXPONENTS[code] for code in ("JPY", "EUR", "KWD", "CLF", "UYW")} == {
        "JPY": 0,
        "EUR": 2,
        "KWD": 3,
        "CLF": 4,
        "UYW": 4,
    }
    assert set(MINOR_UNIT_EXPONENTS.values()) == {0, 2, 3, 4}


@pytest.mark.parametrize(("code", "expected"), [(" eur ", "EUR"), ("clf", "CLF"), ("JPY", "JPY")])
def test_a_currency_code_is_trimmed_and_upper_cased(code: str, expected: str) -> None:
    assert normalise_currency(code) == expected


@pytest.mark.parametrize("code", ["XYZ", "EU", "", "EURO"])
def test_a_code_outside_iso_4217_is_refused(code: str) -> None:
    with pytest.raises(MoneyError):
        normalise_currency(code)


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(0, "EUR"), "0.00"),
        (Money(0, "JPY"), "0"),
        (Money(0, "CLF"), "0.0000"),
        (Money(-5, "EUR"), "-0.05"),
        (Money(-1250, "EUR"), "-12.50"),
        (Money(-1500, "JPY"), "-1500"),
        (Money(-1, "KWD"), "-0.001"),
        (Money(12345, "CLF"), "1.2345"),
        (Money(10**15, "EUR"), "10000000000000.00"),
    ],
)
def test_zero_and_negative_amounts_are_written_with_every_decimal(money: Money, text: str) -> None:
    assert money.format_major() == text


@pytest.mark.parametrize("amount", [True, 1.0, "1"])
def test_an_amount_is_an_int_of_minor_units(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "EUR")  # type: ignore[arg-type]
