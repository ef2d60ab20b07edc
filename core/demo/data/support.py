"""What customers and agents write: ticket texts by category, assistant replies, internal notes, macros
and the help centre."""

from __future__ import annotations

# --- tickets ------------------------------------------------------------------------------------------------

# Channels whose own limit caps a ticket's first response: (minutes, round the clock). Amazon asks sellers
# to answer buyers within 24 hours, weekends included.
SLA_CHANNEL_OVERRIDES: dict[str, tuple[int, bool]] = {"amazon": (24 * 60, True)}

# Ticket categories by order status, with weights.
TICKET_CATEGORIES: dict[str, dict[str, int]] = {
    "pending": {"cancel": 5, "address_change": 4, "product_question": 1},
    "on_hold": {"address_change": 6, "cancel": 3},
    "backordered": {"where_is_my_order": 6, "cancel": 4},
    "confirmed": {"address_change": 5, "cancel": 4, "where_is_my_order": 2},
    "partially_shipped": {"where_is_my_order": 8, "cancel": 1},
    "shipped": {"where_is_my_order": 9, "address_change": 1},
    "delivered": {"where_is_my_order": 3, "return": 4, "damaged": 3, "product_question": 1},
    "cancelled": {"refund": 6, "cancel": 4},
    "partially_returned": {"return": 6, "refund": 4},
    "returned": {"return": 5, "refund": 5},
}

# category -> (subjects, customer openers, agent replies, follow-ups from the customer)
TICKET_TEXTS: dict[str, tuple[list[str], list[str], list[str], list[str]]] = {
    "where_is_my_order": (
        ["Where is my order {number}?", "Order {number} hasn't arrived", "Tracking hasn't updated"],
        [
            "Hi, I ordered {number} a few days ago and the tracking hasn't moved since yesterday. Any news?",
            "My order {number} says shipped but nothing has arrived yet. Can you check?",
        ],
        [
            "Hi {first}, thanks for your patience. Your parcel is with {carrier} and is moving again; it "
            "was due by {eta}. I'll keep an eye on it.",
            "Hi {first}, I've opened a trace with {carrier}. If it doesn't turn up within 48 hours we'll "
            "send a replacement at no cost.",
        ],
        ["Thanks, that's helpful.", "It just arrived, thank you!", "Still nothing today, unfortunately."],
    ),
    "delivered_not_received": (
        ["Order {number} marked delivered but not here", "Missing parcel, order {number}"],
        [
            "Tracking says delivered but there's nothing at my door. Order {number}.",
            "My order {number} shows delivered yesterday but I never got it. I checked with the neighbours.",
        ],
        [
            "Hi {first}, carriers sometimes mark parcels delivered a little early. Could you check with "
            "neighbours and your building's mail room? If it's still missing tomorrow, reply here and we'll "
            "sort it out.",
            "Hi {first}, I've opened a trace with {carrier} and sent a replacement today; you don't need to "
            "wait for the trace.",
        ],
        ["Found it with the concierge, sorry!", "Still nothing, thanks for sending another.", "Thank you."],
    ),
    "return": (
        ["Return for order {number}", "How do I return an item?", "Exchange for a different size"],
        [
            "I'd like to return the {item} from order {number}, it doesn't fit.",
            "Hi, can I exchange the {item} for a larger size? Order {number}.",
            "How do I send back part of order {number}?",
        ],
        [
            "Hi {first}, I've approved your return. You'll get a prepaid label by email; once the parcel is "
            "scanned we refund within 5 business days.",
            "Hi {first}, exchanges are easiest as a return plus a new order so you get the new size right "
            "away. I've approved the return for the {item}.",
            "Hi {first}, your return arrived at our warehouse and the refund is on its way to your original "
            "payment method.",
        ],
        ["Great, thanks!", "Label received, dropping it off today.", "When will I see the refund?"],
    ),
    "damaged": (
        ["Item arrived damaged", "Broken {item}", "Damaged parcel, order {number}"],
        [
            "The {item} from order {number} arrived broken. The box was crushed. Photos attached.",
            "Unfortunately the {item} arrived with a crack. What can you do?",
        ],
        [
            "Hi {first}, I'm sorry it arrived like that. I've sent a replacement today, no need to return "
            "the damaged one.",
            "Hi {first}, thanks for the photos. I've refunded the {item} in full and flagged the packaging "
            "with our warehouse team.",
        ],
        ["Thank you, much appreciated.", "Perfect, thanks for the quick help."],
    ),
    "cancel": (
        ["Cancel order {number}", "Please cancel my order", "Ordered by mistake"],
        [
            "Please cancel order {number}, I ordered the wrong colour.",
            "Hi, I placed {number} twice by accident. Can you cancel one?",
        ],
        [
            "Hi {first}, done: order {number} is cancelled and the payment hold will drop off within a few "
            "days.",
            "Hi {first}, the order had already left our warehouse, so I can't cancel it, but you can return "
            "it free of charge once it arrives.",
        ],
        ["Thanks!", "OK, I'll return it then."],
    ),
    "address_change": (
        ["Change delivery address for {number}", "Wrong address on my order"],
        [
            "I just noticed the apartment number is missing on order {number}. It should be Apt 4B.",
            "Can you ship order {number} to my office instead? 200 Park Avenue, New York.",
        ],
        [
            "Hi {first}, I've updated the address before dispatch. You're all set.",
            "Hi {first}, the parcel is already with {carrier}; I've asked them to redirect it, which can "
            "add a day.",
        ],
        ["Thank you!", "Great, thanks for catching it."],
    ),
    "refund": (
        ["Refund status for {number}", "When do I get my refund?"],
        [
            "My return for {number} was received last week but I haven't seen the refund yet.",
            "Hi, I was told I'd be refunded for order {number}. When will it show up?",
        ],
        [
            "Hi {first}, the refund was issued on our side; banks usually take 3 to 5 business days to show "
            "it.",
            "Hi {first}, I can see the refund was sent to your original payment method. It should appear "
            "shortly.",
        ],
        ["Got it, thanks.", "It's there now, thanks."],
    ),
    "product_question": (
        ["Question about sizing", "Is the {item} machine washable?"],
        ["Does the {item} run true to size?", "Is the {item} machine washable?"],
        [
            "Hi {first}, it runs true to size; if you're between sizes, size up.",
            "Hi {first}, yes: cold wash, gentle cycle, and lay flat to dry.",
        ],
        ["Thanks!"],
    ),
}
ASSISTANT_REPLIES: dict[str, tuple[str, str]] = {
    "where_is_my_order": (
        "Here is the latest on order {number}: it is with {carrier}, due by {eta}. You can follow it with "
        "the tracking link on the order page.",
        "track-your-order",
    ),
    "delivered_not_received": (
        "The carrier marked order {number} delivered. Parcels sometimes turn up within a day; I've asked an "
        "agent to check with {carrier}.",
        "delivered-not-received",
    ),
    "return": (
        "You can start a return for order {number} from the order page within the return window. Would you "
        "like me to connect you with an agent?",
        "returns-and-refunds",
    ),
    "damaged": (
        "I'm sorry your item arrived damaged. I'm passing this to an agent who can arrange a replacement or "
        "refund.",
        "damaged-items",
    ),
    "cancel": (
        "Orders can be cancelled until they leave the warehouse. I've asked an agent to check order "
        "{number} for you.",
        "cancel-an-order",
    ),
    "address_change": (
        "The address can be changed until the order is dispatched. An agent will confirm shortly.",
        "change-delivery-address",
    ),
    "refund": (
        "Refunds go back to the original payment method; banks take 3 to 5 business days.",
        "refund-timing-and-payments",
    ),
    "product_question": (
        "Our size guides are on each product page. An agent can help with anything else.",
        "contact-support",
    ),
}
INTERNAL_NOTES: dict[str, list[str]] = {
    "where_is_my_order": [
        "Checked with the warehouse: parcel left on time, carrier delay.",
        "Carrier trace opened; reference added to the order notes.",
    ],
    "delivered_not_received": [
        "Carrier says left at front door; GPS scan matches the address. Trace opened.",
        "Second missing-parcel claim this quarter: check before the next replacement.",
    ],
    "return": [
        "Approved outside the usual policy as a goodwill gesture.",
        "Customer has returned for sizing before; suggested the size guide.",
    ],
    "damaged": [
        "Photos show crushed outer box: flagged packaging with the warehouse team.",
        "Replacement sent without return; damaged item written off.",
    ],
    "cancel": ["Caught before packing; allocation released."],
    "address_change": ["Updated the address on the order; label not printed yet."],
    "refund": ["Refund confirmed in the payment provider's dashboard."],
    "product_question": ["Same customer as the eBay ticket last month; identities already merged."],
}

MACROS: list[tuple[str, str, str]] = [
    (
        "Where is my order: in transit",
        "where_is_my_order",
        "Hi {{ customer.first_name }},\n\nThanks for reaching out. Your order {{ order.number }} is on its "
        "way with {{ shipment.carrier }}; you can follow every scan here: {{ shipment.tracking_url }}\n\n"
        "If it hasn't arrived by the end of the delivery window, reply here and we'll make it right.\n\n"
        "Best,\n{{ agent.first_name }}",
    ),
    (
        "Delivered but not received",
        "where_is_my_order",
        "Hi {{ customer.first_name }},\n\nI'm sorry your parcel hasn't turned up. Carriers sometimes scan "
        "parcels as delivered a little before they arrive, so please check with neighbours, your mail room "
        "and any safe places. If it's still missing after 48 hours, reply here and we'll open a trace with "
        "{{ shipment.carrier }} and send a replacement.\n\n{{ agent.first_name }}",
    ),
    (
        "Return instructions",
        "return",
        "Hi {{ customer.first_name }},\n\nYou can start a return from your order page: choose the items and "
        "the reason, and we'll email a prepaid label. Once the parcel is scanned by the carrier we refund "
        "within 5 business days.\n\n{{ agent.first_name }}",
    ),
    (
        "Marketplace returns (Amazon/eBay)",
        "return",
        "Hi {{ customer.first_name }},\n\nThis order was placed on {{ order.channel }}, so the return is "
        "handled there: open it from your orders on {{ order.channel }} and they'll issue the label and the "
        "refund. We'll see it arrive and keep you posted.\n\n{{ agent.first_name }}",
    ),
    (
        "Damaged item: apology and replacement",
        "damaged",
        "Hi {{ customer.first_name }},\n\nI'm sorry your order {{ order.number }} arrived damaged. I've sent "
        "a replacement today at no cost and you don't need to return the damaged one. You'll get tracking by "
        "email shortly.\n\n{{ agent.first_name }}",
    ),
    (
        "Cancellation confirmed",
        "cancel",
        "Hi {{ customer.first_name }},\n\nYour order {{ order.number }} is cancelled. Any payment taken is "
        "refunded to the original payment method; banks usually take 3 to 5 business days.\n\n"
        "{{ agent.first_name }}",
    ),
    (
        "Address change before dispatch",
        "address_change",
        "Hi {{ customer.first_name }},\n\nI've updated the delivery address on order {{ order.number }} to "
        "the one you sent. It hasn't left the warehouse yet, so there's no delay.\n\n{{ agent.first_name }}",
    ),
    (
        "Refund processed",
        "refund",
        "Hi {{ customer.first_name }},\n\nWe've issued a refund for order {{ order.number }} to your "
        "original payment method. It usually shows within 3 to 5 business days, depending on your bank.\n\n"
        "{{ agent.first_name }}",
    ),
]

# --- help centre --------------------------------------------------------------------------------------------
# slug, title, topic, keywords, summary, body (paragraphs separated by blank lines)
HELP_ARTICLES: list[tuple[str, str, str, str, str, str]] = [
    (
        "track-your-order",
        "Tracking your order",
        "shipping",
        "track, tracking, where is my order, status, shipped, carrier",
        "Follow any order, from any of our shops, from placement to delivery.",
        "Every order you place with us, on our web shop, Shopify, Amazon, eBay or in store, appears on your "
        "Orders page once you sign in with the email address you used.\n\nEach order shows its status: "
        "received, being prepared, shipped, delivered. When a parcel leaves our warehouse you get an email "
        "with the carrier and the tracking number, and the order page shows every scan the carrier "
        "reports.\n\nAn order can ship in more than one parcel when items come from different warehouses. "
        "Each parcel has its own tracking link.\n\nTracking can take up to 24 hours to show the first scan "
        "after the label is created.",
    ),
    (
        "delivered-not-received",
        "My parcel is marked delivered but I haven't received it",
        "shipping",
        "delivered, not received, missing parcel, stolen, lost, neighbour",
        "What to check, and what we do, when tracking says delivered but nothing arrived.",
        "Carriers sometimes mark a parcel delivered a little before it actually arrives. Please wait until "
        "the end of the day and check around your home, with neighbours, your building's mail room or "
        "reception, and any parcel locker.\n\nThe tracking page often says where the parcel was left, for "
        "example front door or mailbox.\n\nIf it is still missing 48 hours after the delivery scan, contact "
        "us from the order page. We open a trace with the carrier and, for orders shipped by us, send a "
        "replacement or refund you while the trace runs.",
    ),
    (
        "returns-and-refunds",
        "Returns and refunds policy",
        "returns",
        "return, refund, policy, send back, label, RMA",
        "How returns work, what can be returned, and how refunds are paid.",
        "You can return most items within the return window of the shop you ordered from, unused and with "
        "their tags. Start a return from the order page: choose the items and a reason, and we email a "
        "prepaid label with a return number (RMA).\n\nSome items are final sale for hygiene reasons: socks, "
        "pillows and pierced jewellery. This is shown on the product page and in your order.\n\nOnce your "
        "parcel reaches our warehouse we inspect it and refund the items to your original payment method. "
        "Original shipping is refunded when the item arrived damaged or was not as described.",
    ),
    (
        "return-window",
        "How long do I have to return an item?",
        "returns",
        "return window, days, deadline, late return, 30 days",
        "Return windows by shop, and when the clock starts.",
        "The return window starts on the day your order is delivered. For our web shop, Shopify, Instagram "
        "and WooCommerce orders it is 30 days; for in-store purchases it is 30 days with the receipt.\n\n"
        "Marketplace orders follow the marketplace's window: Amazon orders 30 days, eBay orders 14 days.\n\n"
        "Each order page shows the last day you can start a return.",
    ),
    (
        "exchanges",
        "Exchanging for a different size or colour",
        "returns",
        "exchange, swap, size, colour, color, different size",
        "The quickest way to get a different size or colour.",
        "The fastest way to exchange is to start a return for the item and place a new order for the size "
        "or colour you want, so it ships right away rather than after your return arrives.\n\nIf you prefer "
        "a direct exchange, choose Exchange as the resolution when you start the return and pick the new "
        "option. We ship it as soon as the carrier scans your return parcel.",
    ),
    (
        "cancel-an-order",
        "Cancelling an order",
        "orders",
        "cancel, cancellation, mistake, wrong item, stop order",
        "You can cancel until the order leaves the warehouse.",
        "You can cancel an order from the order page until it is packed. Once it has shipped it can no "
        "longer be cancelled, but you can return it free of charge when it arrives.\n\nMarketplace orders "
        "(Amazon, eBay) are cancelled on the marketplace: use Request cancellation in your orders there and "
        "we confirm it.\n\nAny payment taken is refunded to the original payment method as soon as the "
        "cancellation goes through.",
    ),
    (
        "change-delivery-address",
        "Changing the delivery address",
        "orders",
        "address, change address, wrong address, apartment, redirect",
        "Update the address before dispatch; after that we ask the carrier.",
        "If your order has not shipped yet, contact us with the new address and we update it straight "
        "away.\n\nOnce the parcel is with the carrier we can ask them to redirect it, which may add a day "
        "and is not always possible. You can also use the carrier's own delivery options from the tracking "
        "link.\n\nFor Amazon and eBay orders, the address comes from the marketplace: change it there "
        "before the order ships.",
    ),
    (
        "marketplace-orders-returns",
        "Amazon and eBay orders: returns and help",
        "returns",
        "amazon, ebay, marketplace, return, refund, a-to-z, resolution centre",
        "Marketplace orders are returned through the marketplace.",
        "Orders placed on Amazon or eBay appear on your Orders page here too, but returns and refunds for "
        "them are handled by the marketplace.\n\nFor Amazon, open Your Orders on Amazon, choose Return or "
        "replace items, and Amazon issues the label and the refund. Orders fulfilled by Amazon are shipped "
        "and returned entirely by Amazon.\n\nFor eBay, open the order in your Purchase history and choose "
        "Return this item. We accept the return there and refund as soon as the parcel arrives.",
    ),
    (
        "delivery-times-and-shipping-options",
        "Delivery times and shipping options",
        "shipping",
        "delivery time, shipping cost, expedited, express, standard, business days",
        "Standard, expedited and in-store pickup, with prices and timings.",
        "Standard shipping takes 3 to 7 business days and costs 5.00 USD, free on web shop orders over "
        "75.00 USD. Expedited shipping takes 1 to 3 business days and costs 15.00 USD.\n\nOrders placed "
        "before 2 pm Eastern on a business day usually leave the warehouse the same day. Delivery estimates "
        "on your order page count business days from dispatch.\n\nFurniture ships directly from our "
        "workshop partner and takes 5 to 10 business days.",
    ),
    (
        "damaged-items",
        "My item arrived damaged or faulty",
        "returns",
        "damaged, broken, faulty, defective, crushed, cracked",
        "Send us a photo and we replace or refund it.",
        "We're sorry when something arrives damaged. Contact us from the order page within 14 days of "
        "delivery and attach a photo of the item and, if you still have it, the box.\n\nWe send a "
        "replacement or refund the item in full, including shipping. In most cases you don't need to send "
        "the damaged item back.",
    ),
    (
        "refund-timing-and-payments",
        "When will I get my refund?",
        "payments",
        "refund time, refund status, payment, bank, card, store credit",
        "Refund timings and payment methods.",
        "We refund to the original payment method as soon as your return is inspected, usually within two "
        "business days of arrival. Banks and card issuers then take 3 to 5 business days to show it.\n\nIf "
        "you chose store credit, it is available on your account immediately.\n\nWe accept major cards, "
        "PayPal and Shop Pay on the web shop; marketplace orders are paid and refunded through the "
        "marketplace.",
    ),
    (
        "contact-support",
        "Contacting support",
        "general",
        "contact, help, agent, chat, email, phone, hours",
        "Chat, email and opening hours.",
        "The fastest way to reach us is the chat on the Support page: our assistant answers common "
        "questions straight away and hands over to an agent when needed.\n\nAgents are available Monday to "
        "Friday, 8 am to 8 pm Eastern, and weekends 10 am to 4 pm. We reply to every message within one "
        "business day.\n\nPlease include your order number (it starts with CD-) so we can find your order "
        "quickly.",
    ),
]
