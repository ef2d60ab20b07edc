"""What every channel adapter shares: the adapter interface, the extraction result and the reading helpers.

Every adapter module exposes `KIND`, `extract(documents)` and `adapt(native)`. Conventions all adapters keep:
- Money is integer minor units of the order's currency; the order totals are the channel's own figures, with
  `subtotal` the merchandise before discounts, so that (tax-exclusive channels)
  total = subtotal - discount_total + shipping_total + tax_total.
- Whatever else the buyer was charged (fees, tips, gift wrap, service charges, handling, duties) is a
  `CanonicalCharge`, and units removed after the order was placed are the line's `removed_quantity` (plus a
  negative "removed" charge when the channel's total already leaves them out), so that
  canonical.expected_total(order) == order.total for every order whose lines are known.
- A line's `total` is unit_price * quantity - discount (tax excluded).
- Times are aware datetimes in the zone the channel gave; a naive time is accepted only where the channel
  documents it as UTC.
- Warnings (unknown country, line without SKU, missing shipping address, ...) never stop an order: intake
  holds the order for a person instead.
- Status precedence when a channel reports several facts: refunded > cancelled > shipped > paid > pending.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

from core import safe_json
from core.channels.canonical import (
    CanonicalAddress,
    CanonicalBuyer,
    CanonicalCharge,
    CanonicalLine,
    CanonicalOrder,
    ChargeKind,
)
from core.channels.countries import to_alpha2
from core.errors import PayloadError
from core.money import exponent, to_minor

MISSING_ADDRESS = "missing shipping address"
NO_CURRENCY = "XXX"  # ISO 4217 "no currency": a payload that gives none; never a currency intake accepts
INCOMPLETE_ADDRESS = "incomplete shipping address (no street line)"

# Active ISO 4217 currencies (plus recently withdrawn ones that old orders still carry: HRK, SLL, ANG).
_ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
    CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
    KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE
    SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED
    VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()
)

# Domains of marketplace relay mailboxes: mail reaches the buyer, but the address is not the buyer's own.
_RELAY_DOMAINS = ("marketplace.amazon.", "members.ebay.", "relay.walmart.com", "relay.etsy.com")


@dataclass(frozen=True)
class Extracted:
    """One order found in a channel document: the native order and either its canonical form or why not."""

    native: dict
    order: CanonicalOrder | None
    error: str | None
    # A webhook that names an order without carrying it: the channel's order id, for the adapter's
    # `fetch_orders` hook to fetch (core.channel_sync.polling.fetch_announced_orders).
    fetch: str | None = None


@dataclass(frozen=True)
class WebhookScheme:
    """How a channel that pushes orders signs them: an adapter module declares it as `WEBHOOK`."""

    signature_header: str
    delivery_header: str | None  # the header carrying a unique delivery id, for de-duplication
    topic_header: str | None
    signs_url: bool = False  # Square signs notification URL + body
    # The header carries the shared secret itself, not a signature (BigCommerce: custom headers given when
    # the webhook is registered); compared in constant time.
    secret_header: bool = False


class ChannelAdapter(Protocol):
    """The interface every adapter module provides.

    Optional module-level hooks, looked up by name through the registry (absent: the channel does not do it):
    `WEBHOOK` (the channel pushes its orders, signed so); `fetch_orders` (its webhooks name orders without
    carrying them: fetch those, as a polling_base.Page); `auth_headers`, `send_stock` and `send_shipment`
    (it takes stock levels / shipment confirmations: see core.channels.outbound_base); `poll_pages` (its
    orders are polled: see core.channels.polling_base).
    """

    KIND: str

    def extract(self, documents: Sequence[Any]) -> list[Extracted]: ...

    def adapt(self, native: dict) -> CanonicalOrder: ...


class MissingCredentials(Exception):
    """Raised by an adapter's hook when the channel's credentials lack what it needs; the text names it.

    The caller reports "channel '<code>' has no <text>", e.g. "... has no credentials['access_token']"."""


_F = TypeVar("_F", bound=Callable[..., CanonicalOrder])


def reads_payload(adapt: _F) -> _F:
    """Turn any slip on a malformed payload (wrong type, bad number) into a PayloadError with the reason."""

    @functools.wraps(adapt)
    def wrapper(native: Any) -> CanonicalOrder:
        if not isinstance(native, dict):
            raise PayloadError(f"an order must be a JSON object, not {type(native).__name__}")
        try:
            return adapt(native)
        except PayloadError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise PayloadError(f"cannot read order: {type(exc).__name__}: {exc}") from exc

    return wrapper  # type: ignore[return-value]


def load_document(document: Any) -> Any:
    """A document as parsed JSON: JSON text (str or bytes) is parsed, anything else is returned as it is."""
    if isinstance(document, str | bytes):
        return safe_json.loads(document)
    return document


def no_order(document: Any, reason: str) -> Extracted:
    """The result for a document that holds no order at all."""
    native = document if isinstance(document, dict) else {}
    return Extracted(native=native, order=None, error=f"no order found in document: {reason}")


def adapt_all(natives: Iterable[dict], adapt: Callable[[dict], CanonicalOrder]) -> list[Extracted]:
    """Adapt each native order, turning a failure into an Extracted with the error instead of raising."""
    results = []
    for native in natives:
        try:
            results.append(Extracted(native=native, order=adapt(native), error=None))
        except PayloadError as exc:
            results.append(
                Extracted(native=native if isinstance(native, dict) else {}, order=None, error=str(exc))
            )
    return results


def extract_json(
    documents: Sequence[Any],
    find_orders: Callable[[Any], list | None],
    adapt: Callable[[dict], CanonicalOrder],
    expected: str,
) -> list[Extracted]:
    """The usual extract: parse each document, find its native orders, adapt each; say so if there is none."""
    results: list[Extracted] = []
    for document in documents:
        try:
            data = load_document(document)
        except PayloadError as exc:
            results.append(no_order(document, str(exc)))
            continue
        natives = find_orders(data)
        if not natives:
            results.append(no_order(data, f"expected {expected}"))
        else:
            results.extend(adapt_all(natives, adapt))
    return results


# --- reading values -----------------------------------------------------------------------------------------


def as_dict(value: Any, field: str) -> dict:
    """An object field: None becomes {}, anything but an object is an error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{field}: expected an object, got {type(value).__name__}")
    return value


def as_list(value: Any, field: str) -> list:
    """A list field: None becomes [], anything but a list is an error."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{field}: expected a list, got {type(value).__name__}")
    return value


def clean(value: Any) -> str | None:
    """A string stripped of surrounding space; None for missing or empty. Numbers become their text."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def first(*values: Any) -> str | None:
    """The first value that is a non-empty string after cleaning."""
    for value in values:
        text = clean(value)
        if text is not None:
            return text
    return None


def full_name(first_name: Any, last_name: Any) -> str | None:
    """ "First Last" from the parts present."""
    parts = [part for part in (clean(first_name), clean(last_name)) if part]
    return " ".join(parts) or None


def clean_email(value: Any) -> str | None:
    """A lower-cased email address; None when missing or not an address at all."""
    text = clean(value)
    if text is None or "@" not in text:
        return None
    return text.lower()


def is_relay_email(email: str | None) -> bool:
    """True for a marketplace relay mailbox (e.g. ...@marketplace.amazon.com), not the buyer's own address."""
    if not email or "@" not in email:
        return False
    domain = email.rsplit("@", 1)[1].lower()
    return any(f".{relay}" in f".{domain}" for relay in _RELAY_DOMAINS)


def make_buyer(
    *, name: Any = None, email: Any = None, phone: Any = None, external_id: Any = None
) -> CanonicalBuyer:
    """A buyer with the email lower-cased and relay addresses flagged."""
    address = clean_email(email)
    return CanonicalBuyer(
        name=clean(name),
        email=address,
        phone=clean(phone),
        external_id=clean(external_id),
        email_is_relay=is_relay_email(address),
    )


def parse_time(value: Any, field: str, *, naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 / RFC 3339 (or RFC 2822) time as an aware datetime, keeping the zone the channel gave."""
    text = clean(value)
    if text is None:
        raise PayloadError(f"{field}: missing")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            raise PayloadError(f"{field}: not a time: {text!r}") from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise PayloadError(f"{field}: time without a UTC offset: {text!r}")
        moment = moment.replace(tzinfo=UTC)
    return moment


def optional_time(value: Any, field: str, *, naive_is_utc: bool = False) -> datetime | None:
    """Like parse_time, but None when the field is missing or empty."""
    if clean(value) is None:
        return None
    return parse_time(value, field, naive_is_utc=naive_is_utc)


def is_iso_currency(code: object) -> bool:
    """True for a currency code in the ISO 4217 list (upper case, as canonical orders carry it)."""
    return isinstance(code, str) and code in _ISO_4217


def currency_code(value: Any) -> str:
    """A three-letter currency code, upper-cased; PayloadError "unknown currency 'XX'" for anything else.

    A well-formed code missing from ISO 4217 passes: the order is readable, and intake holds it for a person
    ("unknown currency") instead of losing it."""
    text = clean(value)
    if text is None:
        raise PayloadError("currency: missing")
    code = text.upper()
    if not (len(code) == 3 and code.isascii() and code.isalpha()):
        raise PayloadError(f"unknown currency {text!r}")
    return code


def currency_or_hold(value: Any, field: str, warnings: list[str]) -> str:
    """currency_code, but a payload without a currency (a list limited by a fields filter) holds the order
    under ISO 4217's "no currency" code XXX, with a warning, for a person to set it."""
    if clean(value) is None:
        warnings.append(f"{field} missing: currency unknown")
        return NO_CURRENCY
    return currency_code(value)


def money(value: Any, currency: str, field: str) -> int:
    """A decimal amount ("19.99", 19.99) in minor units of the currency; missing is 0."""
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise PayloadError(f"{field}: not a money amount: {value!r}")
    try:
        return to_minor(value, currency)
    except PayloadError as exc:
        raise PayloadError(f"{field}: {exc}") from None
    except ArithmeticError:
        # Decimal gives up on absurd magnitudes such as "1e400".
        raise PayloadError(f"{field}: not a money amount: {value!r}") from None


def minor_units(value: Any, field: str) -> int:
    """An amount already in minor units (Square's integer money); missing is 0."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise PayloadError(f"{field}: not an amount in minor units: {value!r}")
    if isinstance(value, int):
        return value
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise PayloadError(f"{field}: not an amount in minor units: {value!r}") from None
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise PayloadError(f"{field}: not an amount in minor units: {value!r}")
    return int(amount)


def quantity(value: Any, field: str) -> int:
    """A whole, non-negative quantity ("2", 2, 2.0)."""
    if value is None or isinstance(value, bool):
        raise PayloadError(f"{field}: missing quantity")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise PayloadError(f"{field}: not a quantity: {value!r}") from None
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise PayloadError(f"{field}: quantity must be a whole number: {value!r}")
    if amount < 0:
        raise PayloadError(f"{field}: quantity must not be negative: {value!r}")
    return int(amount)


def divide(total: int, count: int) -> int:
    """A per-unit amount from a line amount (channels that give price x quantity), rounded half up."""
    if count <= 0:
        return total
    quotient, remainder = divmod(total, count)
    return quotient + (1 if remainder * 2 >= count else 0)


def decimal_places_ok(text: str, currency: str) -> bool:
    """True when a decimal string has no more decimal places than the currency's minor unit."""
    _, _, fraction = text.partition(".")
    return len(fraction) <= exponent(currency)


# --- building canonical parts -------------------------------------------------------------------------------


def country(value: Any, warnings: list[str]) -> str | None:
    """ISO 3166-1 alpha-2 for a code or name; unknown gives None and the warning "unknown country 'X'"."""
    text = clean(value)
    if text is None:
        return None
    code = to_alpha2(text)
    if code is None:
        warnings.append(f"unknown country {text!r}")
    return code


def make_address(
    warnings: list[str],
    *,
    name: Any = None,
    company: Any = None,
    line1: Any = None,
    line2: Any = None,
    city: Any = None,
    region: Any = None,
    postal_code: Any = None,
    country_value: Any = None,
    phone: Any = None,
) -> CanonicalAddress | None:
    """A canonical address, or None when no part of a postal address is given (a bare name is no address)."""
    postal = [
        clean(line1),
        clean(line2),
        clean(city),
        clean(region),
        clean(postal_code),
        clean(country_value),
    ]
    if not any(postal):
        return None
    return CanonicalAddress(
        name=clean(name),
        company=clean(company),
        line1=clean(line1),
        line2=clean(line2),
        city=clean(city),
        region=clean(region),
        postal_code=clean(postal_code),
        country=country(country_value, warnings),
        phone=clean(phone),
    )


def check_shipping_address(warnings: list[str], address: CanonicalAddress | None, *, needed: bool) -> None:
    """Warn when an order we must ship to the customer has no usable shipping address."""
    if not needed:
        return
    if address is None:
        warnings.append(MISSING_ADDRESS)
    elif address.line1 is None:
        warnings.append(INCOMPLETE_ADDRESS)


def make_line(
    warnings: list[str],
    position: int,
    *,
    external_id: Any,
    sku: Any,
    title: Any,
    quantity: int,
    unit_price: int,
    discount: int = 0,
    tax: int = 0,
    removed_quantity: int = 0,
) -> CanonicalLine:
    """A canonical line (total = unit_price * quantity - discount), kept with a warning when it has no SKU."""
    channel_sku = clean(sku)
    if channel_sku is None:
        warnings.append(f"line {position} has no SKU")
    return CanonicalLine(
        external_id=clean(external_id),
        channel_sku=channel_sku,
        title=clean(title) or channel_sku or f"line {position}",
        quantity=quantity,
        unit_price=unit_price,
        discount=discount,
        tax=tax,
        total=unit_price * quantity - discount,
        removed_quantity=max(0, min(removed_quantity, quantity)),
    )


def make_charges(*items: tuple[str, str, int] | tuple[str, str, int, int]) -> tuple[CanonicalCharge, ...]:
    """Charges from (kind, title, amount[, tax]) tuples, leaving out those of no amount and no tax."""
    made = []
    for item in items:
        kind, title, amount, *rest = item
        tax = rest[0] if rest else 0
        if amount or tax:
            made.append(CanonicalCharge(kind=str(kind), title=title, amount=amount, tax=tax))
    return tuple(made)


def removed_units_charge(lines: Sequence[CanonicalLine], gap: int) -> tuple[CanonicalCharge, ...]:
    """A "removed" charge when the channel's total leaves out exactly the units removed from lines.

    `gap` is total - (what the order adds up to without it). Channels that keep their original totals after
    an edit or refund need none: the removed units stay in the subtotal and the total alike."""
    removed = sum(
        divide(line.total, line.quantity) * line.removed_quantity for line in lines if line.quantity
    )
    if removed and gap == -removed:
        units = sum(line.removed_quantity for line in lines)
        title = f"{units} unit(s) removed after ordering"
        return (CanonicalCharge(ChargeKind.REMOVED.value, title, -removed),)
    return ()


def require_lines(raw_lines: list, field: str) -> None:
    """An order must list what was bought (only documented exceptions go without lines)."""
    if not raw_lines:
        raise PayloadError(f"{field}: an order needs at least one line")


def lines_missing(field: str) -> str:
    """The hold warning of an order whose payload gives no lines."""
    return f"order lines not in the payload ({field} missing or empty): fetch the full order"


_LINES_GAP_WORDS = ("order lines not in the payload", "order items not fetched", "order products not fetched")
_CREATED_GAP_WORDS = "creation time unknown"


def is_lines_gap(warning: str) -> bool:
    """A warning that the payload gave no lines (they are to be fetched)."""
    return warning.startswith(_LINES_GAP_WORDS)


def is_payload_gap(warning: str) -> bool:
    """A warning that the payload lacks lines or the creation time (not a problem of the order itself)."""
    return is_lines_gap(warning) or _CREATED_GAP_WORDS in warning


def given_lines(native: dict, field: str, warnings: list[str]) -> list:
    """The order's raw lines. A payload without any (a list limited by a `fields` filter, an envelope that
    leaves them out, an empty list) still holds the order: [] and a warning, so intake holds it until the
    channel sends the full order, instead of rejecting what the channel sent."""
    raw_lines = as_list(native.get(field), field)
    if not raw_lines:
        warnings.append(lines_missing(field))
    return raw_lines


def placed_time(
    value: Any, field: str, warnings: list[str], *, naive_is_utc: bool = False
) -> datetime | None:
    """The order's creation time; None with a hold warning when the payload lacks it (a malformed time is
    still an error: the channel sent something we can't read)."""
    if clean(value) is None:
        warnings.append(f"{field} missing: creation time unknown (the time received stands in)")
        return None
    return parse_time(value, field, naive_is_utc=naive_is_utc)


def unknown_status(warnings: list[str], raw: str | None) -> None:
    """Note a status word the adapter does not know (the order is then treated as pending)."""
    warnings.append(f"unknown order status {raw!r}")
