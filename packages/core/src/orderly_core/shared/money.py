"""Money as integer minor units plus an ISO 4217 currency code. No floats, ever.

Prices enter Orderly in minor units (``1250`` EUR cents) over the API, or as decimal strings
in major units (``"12.50"``) from people and CSV files; :func:`parse_major` converts the latter
exactly, using the currency's minor-unit exponent, and refuses anything it would have to round.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Active ISO 4217 currencies with their minor-unit exponent; all others have two decimals.
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
_FOUR_DECIMALS = "CLF UYW"
_TWO_DECIMALS = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP "
    "GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT "
    "LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN "
    "NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE "
    "SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES "
    "WST XCD XCG YER ZAR ZMW ZWG"
)
MINOR_UNIT_EXPONENTS: dict[str, int] = {
    code: exponent
    for codes, exponent in (
        (_ZERO_DECIMALS, 0),
        (_TWO_DECIMALS, 2),
        (_THREE_DECIMALS, 3),
        (_FOUR_DECIMALS, 4),
    )
    for code in codes.split()
}

MAX_MINOR_UNITS = 10**15  # a bound far above any shop price, well inside PostgreSQL's bigint
_MAJOR_AMOUNT = re.compile(
    r"(?P<whole>[0-9]{1,16})(?:\.(?P<fraction>[0-9]+))?"
)  # ASCII digits only


class MoneyError(ValueError):
    """Raised only by the parsing helpers below; use cases turn it into a field error."""


def normalise_currency(code: str) -> str:
    """Upper-case and check an ISO 4217 code (``eur`` -> ``EUR``)."""
    upper = code.strip().upper()
    if upper not in MINOR_UNIT_EXPONENTS:
        raise MoneyError(f"'{code}' is not an ISO 4217 currency code")
    return upper


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units: cents for EUR, yen for JPY
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("Money.amount must be an int of minor units")

    def format_major(self) -> str:
        """``Money(1250, "EUR")`` -> ``"12.50"``."""
        exponent = MINOR_UNIT_EXPONENTS[self.currency]
        sign = "-" if self.amount < 0 else ""
        whole, fraction = divmod(abs(self.amount), 10**exponent)
        return f"{sign}{whole}.{fraction:0{exponent}d}" if exponent else f"{sign}{whole}"


def parse_major(text: str, currency: str) -> Money:
    """Convert a non-negative decimal string in major units to exact minor units.

    ``"12.5"`` EUR -> 1250; ``"12.505"`` EUR and ``"1.5"`` JPY are refused, never rounded.
    """
    code = normalise_currency(currency)
    match = _MAJOR_AMOUNT.fullmatch(text.strip())
    if match is None:
        raise MoneyError(f"'{text}' is not a non-negative decimal amount like 12.50")
    exponent = MINOR_UNIT_EXPONENTS[code]
    fraction = (match["fraction"] or "").rstrip("0")
    if len(fraction) > exponent:
        raise MoneyError(f"{code} has {exponent} decimal places; '{text}' has more")
    amount = int(match["whole"]) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
    if amount > MAX_MINOR_UNITS:
        raise MoneyError(f"'{text}' is too large")
    return Money(amount, code)
