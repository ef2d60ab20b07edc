"""Money as integer minor units plus an ISO 4217 currency code; never float."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from core.errors import PayloadError

# ISO 4217 currencies whose minor unit is not 2 decimal places.
_EXPONENTS: dict[str, int] = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "CLF": 4,
    "UYW": 4,
}


def exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit."""
    return _EXPONENTS.get(currency.upper(), 2)


def is_currency_code(code: object) -> bool:
    """True for a three-letter upper-case code (the shape of ISO 4217)."""
    return isinstance(code, str) and len(code) == 3 and code.isalpha() and code.isupper()


_PLAIN_AMOUNT = re.compile(r"(-?)(\d{1,15})(?:\.(\d{0,4}))?")


def to_minor(value: str | int | Decimal | float | None, currency: str) -> int:
    """Convert a decimal amount ("19.99", 19.99, Decimal) to integer minor units, rounding half up."""
    if value is None or value == "":
        return 0
    if isinstance(value, str):
        # The usual shape ("19.99", no more places than the currency has) needs no rounding: exact in ints.
        plain = _PLAIN_AMOUNT.fullmatch(value.strip())
        places = exponent(currency)
        if plain is not None and len(plain.group(3) or "") <= places:
            sign, whole, fraction = plain.groups()
            minor = int(whole) * 10**places + int((fraction or "").ljust(places, "0") or "0")
            return -minor if sign else minor
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise PayloadError(f"not a money amount: {value!r}") from exc
    if not amount.is_finite():
        raise PayloadError(f"not a money amount: {value!r}")
    scaled = amount.scaleb(exponent(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(scaled)


def to_decimal_string(minor: int, currency: str) -> str:
    """Format minor units as a plain decimal string ("19.99"), as the canonical JSON shows money."""
    places = exponent(currency)
    if places == 0:
        return str(minor)
    return str(Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places)))


def format_money(minor: int, currency: str) -> str:
    """Human display: "19.99 USD"."""
    return f"{to_decimal_string(minor, currency)} {currency}"
