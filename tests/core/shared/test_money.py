from __future__ import annotations

import pytest

from orderly_core.shared.money import Money, MoneyError, parse_major


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("12.50", "EUR", Money(1250, "EUR")),
        ("12.5", "eur", Money(1250, "EUR")),
        ("12", "EUR", Money(1200, "EUR")),
        ("0.01", "USD", Money(1, "USD")),
        ("1500", "JPY", Money(1500, "JPY")),
        ("1.000", "JPY", Money(1, "JPY")),
        ("1.234", "KWD", Money(1234, "KWD")),
        ("19.99", "GBP", Money(1999, "GBP")),
    ],
)
def test_major_amounts_convert_exactly(text: str, currency: str, expected: Money) -> None:
    assert parse_major(text, currency) == expected


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("12.505", "EUR"),
        ("1.5", "JPY"),
        ("-1", "EUR"),
        ("1e3", "EUR"),
        ("NaN", "EUR"),
        ("", "EUR"),
        ("1", "XYZ"),
        ("1,5", "EUR"),
        ("9" * 17, "EUR"),
    ],
)
def test_amounts_that_would_need_rounding_or_are_not_money_are_refused(
    text: str, currency: str
) -> None:
    with pytest.raises(MoneyError):
        parse_major(text, currency)


@pytest.mark.parametrize(
    ("money", "text"),
    [(Money(1250, "EUR"), "12.50"), (Money(5, "EUR"), "0.05"), (Money(1500, "JPY"), "1500")],
)
def test_format_major(money: Money, text: str) -> None:
    assert money.format_major() == text


def test_money_refuses_floats() -> None:
    with pytest.raises(TypeError):
        Money(12.5, "EUR")  # type: ignore[arg-type]
