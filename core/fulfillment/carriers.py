"""The carrier table: our name and public tracking page of each carrier, every spelling we accept, and how
carrier names and tracking numbers are normalised."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Carrier:
    name: str  # how we write it: "UPS", "Royal Mail"
    tracking_url: str  # "{}" is the tracking number
    aliases: tuple[str, ...] = ()  # other spellings: AfterShip slugs, EasyPost and Shippo carrier tokens


CARRIERS: tuple[Carrier, ...] = (
    Carrier("UPS", "https://www.ups.com/track?tracknum={}", ("united parcel service", "ups ground")),
    Carrier(
        "USPS",
        "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
        ("us postal service", "united states postal service", "us mail"),
    ),
    Carrier(
        "FedEx",
        "https://www.fedex.com/fedextrack/?trknbr={}",
        ("federal express", "fdx", "fedex ground", "fedex express", "fedex smartpost", "fedex freight"),
    ),
    Carrier(
        "DHL",
        "https://www.dhl.com/us-en/home/tracking/tracking-express.html?submit=1&tracking-id={}",
        ("dhl express", "dhl_express", "dhlexpress", "dhl-express", "dhl parcel"),
    ),
    Carrier(
        "DHL eCommerce",
        "https://www.dhl.com/us-en/home/tracking.html?submit=1&tracking-id={}",
        ("dhl global mail", "dhl-global-mail", "dhl ecommerce", "dhl_ecommerce", "dhlecs"),
    ),
    Carrier(
        "Royal Mail",
        "https://www.royalmail.com/track-your-item#/tracking-results/{}",
        ("royal-mail", "royal_mail", "royalmail"),
    ),
    Carrier(
        "Canada Post",
        "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={}",
        ("canada-post", "canada_post", "canadapost", "postes canada"),
    ),
    Carrier(
        "Australia Post",
        "https://auspost.com.au/mypost/track/details/{}",
        ("australia-post", "australia_post", "auspost"),
    ),
    Carrier(
        "La Poste",
        "https://www.laposte.fr/outils/suivre-vos-envois?code={}",
        ("la-poste-colissimo", "colissimo", "laposte"),
    ),
    Carrier(
        "Amazon Logistics",
        "https://track.amazon.com/tracking/{}",
        ("amazon", "amzl", "amazon shipping", "amazon-logistics"),
    ),
    Carrier("Purolator", "https://www.purolator.com/en/shipping/tracker?pin={}"),
    Carrier("OnTrac", "https://www.ontrac.com/tracking/?number={}"),
    Carrier("Evri", "https://www.evri.com/track/parcel/{}", ("hermes uk", "myhermes")),
)


def carrier_key(text: str | None) -> str:
    """A spelling-insensitive key: lower case letters and digits only ("DHL_Express" -> "dhlexpress")."""
    return re.sub(r"[^a-z0-9]", "", (text or "").casefold())


_CARRIER_BY_KEY = {
    carrier_key(spelling): carrier for carrier in CARRIERS for spelling in (carrier.name, *carrier.aliases)
}


def find_carrier(text: str | None) -> Carrier | None:
    """The carrier of any known spelling, or None."""
    return _CARRIER_BY_KEY.get(carrier_key(text))


def normalize_carrier(text: str | None) -> str | None:
    """Our name for a carrier ("ups" -> "UPS", "dhl_express" -> "DHL"); an unknown one as written, trimmed."""
    carrier = find_carrier(text)
    if carrier is not None:
        return carrier.name
    cleaned = " ".join((text or "").split())
    return cleaned or None


def normalize_tracking_number(text: str | None) -> str:
    """Tracking numbers compare without spaces and case: "1z 999 aa1" -> "1Z999AA1"."""
    return re.sub(r"\s+", "", text or "").upper()


_PLAUSIBLE_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9-]{3,59}")


def is_plausible_tracking_number(number: str) -> bool:
    """4 to 60 letters, digits or dashes once normalised: anything else is a typo or a placeholder."""
    return bool(_PLAUSIBLE_NUMBER.fullmatch(number))


def tracking_url(carrier: str | None, tracking_number: str | None) -> str | None:
    """The carrier's public tracking page for the number, when we know the carrier."""
    found = find_carrier(carrier)
    if found is None or not tracking_number:
        return None
    return found.tracking_url.format(quote(tracking_number, safe=""))
