"""How orders evolve: status odds by age, the demo customer's orders, the channels' own words, tax,
notes and reasons, and what carriers say along the way."""

from __future__ import annotations

# --- how orders evolve --------------------------------------------------------------------------------------

# Status odds by the order's age in days: (max age, {status: weight}).
STATUS_BY_AGE: list[tuple[float, dict[str, float]]] = [
    (0.25, {"pending": 35, "on_hold": 5, "confirmed": 45, "backordered": 4, "cancelled": 3, "shipped": 8}),
    (
        1,
        {
            "pending": 8,
            "on_hold": 4,
            "confirmed": 38,
            "backordered": 5,
            "cancelled": 4,
            "partially_shipped": 3,
            "shipped": 38,
        },
    ),
    (
        3,
        {
            "confirmed": 8,
            "backordered": 4,
            "on_hold": 2,
            "partially_shipped": 4,
            "shipped": 55,
            "delivered": 22,
            "cancelled": 5,
        },
    ),
    (
        7,
        {
            "backordered": 2,
            "on_hold": 1,
            "partially_shipped": 2,
            "shipped": 18,
            "delivered": 72,
            "cancelled": 5,
        },
    ),
    (14, {"shipped": 3, "delivered": 87, "cancelled": 5, "partially_returned": 2, "returned": 3}),
    (
        float("inf"),
        {"shipped": 1, "delivered": 86, "cancelled": 5, "partially_returned": 2.5, "returned": 5.5},
    ),
]
# Each status once, whatever the size, at a fitting age (days), so even a small data set shows them all.
FORCED_AGES: dict[str, tuple[float, float]] = {
    "pending": (0.01, 0.2),
    "on_hold": (0.05, 2),
    "backordered": (0.5, 6),
    "confirmed": (0.05, 0.8),
    "partially_shipped": (1, 3),
    "shipped": (1, 4),
    "delivered": (8, 60),
    "cancelled": (2, 60),
    "partially_returned": (30, 90),
    "returned": (30, 90),
}
# The demo customer's orders: channel, status, age in days, fulfilled by the channel, ticket category.
CASEY_ORDERS: list[tuple[str, str, float, bool, str | None]] = [
    ("webshop", "delivered", 9.5, False, None),
    ("amazon", "delivered", 6.2, True, None),
    ("amazon", "delivered", 48.0, False, None),
    ("ebay", "shipped", 2.3, False, "where_is_my_order"),
    ("instagram", "delivered", 17.0, False, None),
    ("shopify", "confirmed", 0.2, False, None),
    ("webshop", "returned", 55.0, False, "return"),
    ("woocommerce", "cancelled", 33.0, False, None),
]
# The channel's own status words, by channel kind ("*" for the rest).
CHANNEL_STATUS: dict[str, dict[str, str]] = {
    "amazon": {
        "pending": "Pending",
        "on_hold": "Unshipped",
        "backordered": "Unshipped",
        "confirmed": "Unshipped",
        "partially_shipped": "PartiallyShipped",
        "cancelled": "Canceled",
        "*": "Shipped",
    },
    "ebay": {
        "pending": "NOT_STARTED",
        "on_hold": "NOT_STARTED",
        "backordered": "NOT_STARTED",
        "confirmed": "NOT_STARTED",
        "partially_shipped": "IN_PROGRESS",
        "cancelled": "CANCELED",
        "*": "FULFILLED",
    },
    "shopify": {
        "pending": "pending / unfulfilled",
        "on_hold": "paid / unfulfilled",
        "backordered": "paid / unfulfilled",
        "confirmed": "paid / unfulfilled",
        "partially_shipped": "paid / partial",
        "cancelled": "voided / unfulfilled",
        "returned": "refunded / fulfilled",
        "partially_returned": "partially_refunded / fulfilled",
        "*": "paid / fulfilled",
    },
    "woocommerce": {
        "pending": "pending",
        "on_hold": "on-hold",
        "cancelled": "cancelled",
        "returned": "refunded",
        "shipped": "completed",
        "delivered": "completed",
        "partially_returned": "completed",
        "*": "processing",
    },
    "square": {"pending": "OPEN", "cancelled": "CANCELED", "*": "COMPLETED"},
}
ZONE_MINUTES = {
    "webshop": 0,
    "amazon": -420,
    "ebay": -420,
    "shopify": -240,
    "woocommerce": 60,
    "square": -240,
}

# Combined sales tax (US) or GST/HST/PST (Canada) by region, in basis points.
TAX_BASIS_POINTS: dict[str, int] = {
    "NY": 888,
    "NJ": 663,
    "PA": 600,
    "MA": 625,
    "RI": 700,
    "CT": 635,
    "VT": 600,
    "ME": 550,
    "MD": 600,
    "DC": 600,
    "VA": 530,
    "NC": 725,
    "GA": 890,
    "FL": 700,
    "OH": 750,
    "MI": 600,
    "IL": 1025,
    "IN": 700,
    "TN": 975,
    "KY": 600,
    "MO": 900,
    "MN": 790,
    "WI": 550,
    "LA": 945,
    "AL": 1000,
    "OK": 860,
    "NE": 700,
    "IA": 700,
    "TX": 825,
    "CO": 880,
    "AZ": 860,
    "UT": 720,
    "NV": 838,
    "NM": 790,
    "ID": 600,
    "CA": 875,
    "OR": 0,
    "WA": 1025,
    "ON": 1300,
    "QC": 1498,
    "BC": 1200,
    "AB": 500,
}

ORDER_NOTES = [
    "Please leave with the doorman.",
    "Gift: please don't include the receipt.",
    "Ring bell twice, buzzer broken.",
    "Leave at the side door if nobody answers.",
]
HOLD_REASONS = [
    "Shipping address could not be validated: street number not found.",
    "Payment flagged for fraud review by the channel.",
    "Shipping address is missing an apartment number.",
    "Billing and shipping country differ; waiting for verification.",
]
CANCEL_REASONS = [
    "Cancelled at the customer's request.",
    "Payment was not completed within 48 hours.",
    "Cancelled by the channel: buyer requested cancellation.",
    "Cancelled: item no longer available in the requested size.",
]
RETURN_REASONS = {
    "wrong_size": 38,
    "damaged": 14,
    "not_as_described": 16,
    "changed_mind": 22,
    "late": 4,
    "other": 6,
}
RETURN_REASON_TEXTS: dict[str, list[str]] = {
    "wrong_size": [
        "Runs small, I need one size up.",
        "Too big across the shoulders.",
        "Ordered the wrong size.",
    ],
    "damaged": [
        "Arrived with a crack along the rim.",
        "Box was crushed and the item is dented.",
        "Seam split the first time I wore it.",
    ],
    "not_as_described": ["Colour is much darker than the photos.", "Material feels thinner than described."],
    "changed_mind": ["Decided I don't need it after all.", "Found something I like better."],
    "late": ["Arrived after the event I needed it for."],
    "other": ["Received two by mistake.", "It was a gift and they already had one."],
}
REJECTION_REASONS = [
    "Outside the return window.",
    "Item shows signs of wear and the tags were removed.",
    "Final-sale item: not eligible for return.",
]

# --- fulfilment ---------------------------------------------------------------------------------------------

# Hubs a parcel passes through, per carrier.
CARRIER_HUBS: dict[str, list[str]] = {
    "UPS": ["Louisville, KY", "Parsippany, NJ", "Chicago, IL", "Ontario, CA", "Dallas, TX", "Atlanta, GA"],
    "USPS": ["Kearny, NJ", "Chicago, IL", "Los Angeles, CA", "Denver, CO", "Jacksonville, FL", "Memphis, TN"],
    "FedEx": ["Memphis, TN", "Indianapolis, IN", "Newark, NJ", "Oakland, CA", "Fort Worth, TX"],
    "DHL": ["Cincinnati, OH", "Toronto, ON", "Los Angeles, CA", "Newark, NJ"],
    "Amazon Logistics": ["Robbinsville, NJ", "Jeffersonville, IN", "San Bernardino, CA", "Haslet, TX"],
}
# Carrier wording for our tracking statuses.
CARRIER_WORDS: dict[str, dict[str, str]] = {
    "UPS": {
        "info_received": "Shipper created a label, UPS has not received the package yet.",
        "in_transit": "Departed from Facility",
        "hub": "Arrived at Facility",
        "out_for_delivery": "Out For Delivery Today",
        "delivered": "Delivered",
        "failed_attempt": "The receiver was not available for delivery. We'll make a second attempt.",
        "exception": "A severe weather condition has delayed delivery.",
    },
    "USPS": {
        "info_received": "Shipping Label Created, USPS Awaiting Item",
        "in_transit": "Accepted at USPS Origin Facility",
        "hub": "In Transit to Next Facility",
        "out_for_delivery": "Out for Delivery",
        "delivered": "Delivered, Front Door/Porch",
        "failed_attempt": "Notice Left (No Authorized Recipient Available)",
        "exception": "Delivery Exception, Animal Interference",
    },
    "FedEx": {
        "info_received": "Label created",
        "in_transit": "Picked up",
        "hub": "In transit",
        "out_for_delivery": "On FedEx vehicle for delivery",
        "delivered": "Delivered",
        "failed_attempt": "Delivery attempted, customer not available",
        "exception": "Delay: incorrect address, contacting recipient",
    },
    "DHL": {
        "info_received": "Shipment information received",
        "in_transit": "Processed",
        "hub": "Arrived at Delivery Facility",
        "out_for_delivery": "With delivery courier",
        "delivered": "Delivered",
        "failed_attempt": "Delivery attempted; recipient not home",
        "exception": "Clearance delay: awaiting customs release",
    },
    "Amazon Logistics": {
        "info_received": "Package has left the seller facility and is in transit to carrier",
        "in_transit": "Shipment departed from Amazon facility",
        "hub": "Package arrived at a carrier facility",
        "out_for_delivery": "Out for delivery",
        "delivered": "Delivered",
        "failed_attempt": "Delivery attempted",
        "exception": "Running late: package delayed",
    },
}
DELIVERY_SPOTS = ["Front door", "Mailbox", "Parcel locker", "Left with receptionist", "Back porch", "Garage"]
# UPS shipper numbers (the six characters after 1Z) of our accounts, per shipping location.
UPS_SHIPPERS = {"WH-EAST": "A4X927", "WH-WEST": "R28V16", "3PL-CENTRAL": "F6Y384", "DS-ACME": "9E3W52"}
TRACKING_URLS = {
    "UPS": "https://www.ups.com/track?tracknum={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
    "DHL": "https://www.dhl.com/us-en/home/tracking/tracking-express.html?submit=1&tracking-id={}",
    "Amazon Logistics": "https://track.amazon.com/tracking/{}",
}
