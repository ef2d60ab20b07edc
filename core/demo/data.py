"""The word lists the demo seed draws from: names, places, the catalog, help articles, macros, ticket texts.

Plain constants, no logic: `core.demo.seed` turns them into rows with a seeded random generator.
"""

from __future__ import annotations

# --- people -------------------------------------------------------------------------------------------------

NICKNAMES: dict[str, str] = {
    "Jonathan": "Jon", "Michael": "Mike", "Elizabeth": "Liz", "William": "Will", "Robert": "Rob",
    "Katherine": "Kate", "Christopher": "Chris", "Jennifer": "Jen", "Alexander": "Alex", "Samantha": "Sam",
    "Daniel": "Dan", "Matthew": "Matt", "Nicholas": "Nick", "Benjamin": "Ben", "Rebecca": "Becca",
    "Jessica": "Jess", "Anthony": "Tony", "Joseph": "Joe", "Margaret": "Maggie", "Patricia": "Pat",
    "Thomas": "Tom", "Andrew": "Andy", "Victoria": "Vicky", "Stephanie": "Steph", "Timothy": "Tim",
    "Joshua": "Josh", "Zachary": "Zach", "Abigail": "Abby", "Gabriel": "Gabe", "Theodore": "Theo",
    "Isabella": "Bella", "Natalie": "Nat", "Jacqueline": "Jackie", "Richard": "Rick", "James": "Jim",
    "David": "Dave", "Steven": "Steve", "Edward": "Ed", "Catherine": "Cathy", "Susan": "Sue",
    "Deborah": "Deb", "Kimberly": "Kim", "Pamela": "Pam", "Jonah": "Joe", "Frederick": "Fred",
}

FIRST_NAMES: list[str] = [
    *NICKNAMES,
    "Priya", "Wei", "Aisha", "Mateo", "Sofia", "Hiroshi", "Fatima", "Oluwaseun", "Lucia", "Noah", "Emma",
    "Liam", "Ava", "Mia", "Ethan", "Chloe", "Lucas", "Zoe", "Aiden", "Grace", "Hannah", "Kevin", "Laura",
    "Maria", "Carlos", "Ana", "Juan", "Min-jun", "Yuki", "Arjun", "Ananya", "Omar", "Leila", "Ivan", "Elena",
    "Nadia", "Tariq", "Chen", "Mei", "Kwame", "Amara", "Diego", "Camila", "Sean", "Siobhan", "Erik",
    "Ingrid", "Rosa", "Marcus", "Tanya", "Harper", "Owen", "Ruby", "Felix", "Iris", "Jasper", "Nora",
]

LAST_NAMES: list[str] = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Patel",
    "Shah", "Kim", "Park", "Chen", "Wang", "Li", "Zhang", "Singh", "Kaur", "Khan", "Ali", "Okafor",
    "Adeyemi", "Mensah", "O'Brien", "Murphy", "Kelly", "Sullivan", "Schmidt", "Muñoz", "Novak", "Kowalski",
    "Haddad", "Nakamura", "Tanaka", "Rossi", "Bianchi", "Dubois", "Lefebvre", "Van der Berg", "Larsen",
    "Johansson", "MacLeod", "Fitzgerald", "Delgado", "Castillo", "Vargas", "Mendoza", "Reyes", "Cohen",
]

# Fictional mail domains: the demo must never mail a real person.
EMAIL_DOMAINS: list[str] = [
    "example.com", "example.net", "example.org", "mail.example.com", "inbox.example.net",
]

STREETS: list[str] = [
    "Maple Avenue", "Oak Street", "Washington Street", "Main Street", "Park Place", "Cedar Lane",
    "Elm Street", "Lincoln Avenue", "Highland Avenue", "Riverside Drive", "Sunset Boulevard", "Lake Street",
    "Hillcrest Road", "Franklin Street", "Church Street", "Pine Street", "Spring Street", "Jefferson Avenue",
    "Chestnut Street", "Walnut Street", "Madison Avenue", "Prospect Street", "Willow Lane", "Forest Avenue",
    "Broadway", "Union Street", "Grove Street", "Meadow Lane", "Orchard Road", "Harbor View Drive",
    "College Avenue", "Bay Street", "Queen Street West", "Rue Saint-Denis", "King Street East",
]
STREET_ABBREVIATIONS: dict[str, str] = {
    "Avenue": "Ave", "Street": "St", "Lane": "Ln", "Road": "Rd", "Drive": "Dr", "Boulevard": "Blvd",
    "Place": "Pl",
}

# (city, region, country, postal code prefix, area codes, weight). US postal prefixes take two more digits,
# Canadian ones (forward sortation areas) take " 9A9".
CITIES: list[tuple[str, str, str, str, tuple[str, ...], int]] = [
    ("New York", "NY", "US", "100", ("212", "646", "917"), 30),
    ("Brooklyn", "NY", "US", "112", ("718", "347"), 22),
    ("Buffalo", "NY", "US", "142", ("716",), 5), ("Jersey City", "NJ", "US", "073", ("201",), 7),
    ("Newark", "NJ", "US", "071", ("973",), 5), ("Princeton", "NJ", "US", "085", ("609",), 3),
    ("Philadelphia", "PA", "US", "191", ("215", "267"), 14), ("Pittsburgh", "PA", "US", "152", ("412",), 6),
    ("Boston", "MA", "US", "021", ("617",), 12), ("Providence", "RI", "US", "029", ("401",), 3),
    ("Hartford", "CT", "US", "061", ("860",), 3), ("Burlington", "VT", "US", "054", ("802",), 2),
    ("Portland", "ME", "US", "041", ("207",), 2), ("Baltimore", "MD", "US", "212", ("410",), 6),
    ("Washington", "DC", "US", "200", ("202",), 8), ("Richmond", "VA", "US", "232", ("804",), 4),
    ("Arlington", "VA", "US", "222", ("703",), 5), ("Charlotte", "NC", "US", "282", ("704",), 6),
    ("Raleigh", "NC", "US", "276", ("919",), 5), ("Atlanta", "GA", "US", "303", ("404",), 10),
    ("Miami", "FL", "US", "331", ("305",), 9), ("Orlando", "FL", "US", "328", ("407",), 6),
    ("Tampa", "FL", "US", "336", ("813",), 5), ("Columbus", "OH", "US", "432", ("614",), 6),
    ("Cleveland", "OH", "US", "441", ("216",), 4), ("Detroit", "MI", "US", "482", ("313",), 5),
    ("Ann Arbor", "MI", "US", "481", ("734",), 2), ("Chicago", "IL", "US", "606", ("312", "773"), 18),
    ("Indianapolis", "IN", "US", "462", ("317",), 5), ("Nashville", "TN", "US", "372", ("615",), 6),
    ("Memphis", "TN", "US", "381", ("901",), 3), ("Louisville", "KY", "US", "402", ("502",), 3),
    ("St. Louis", "MO", "US", "631", ("314",), 4), ("Kansas City", "MO", "US", "641", ("816",), 4),
    ("Minneapolis", "MN", "US", "554", ("612",), 6), ("Milwaukee", "WI", "US", "532", ("414",), 4),
    ("New Orleans", "LA", "US", "701", ("504",), 3), ("Birmingham", "AL", "US", "352", ("205",), 3),
    ("Oklahoma City", "OK", "US", "731", ("405",), 3), ("Omaha", "NE", "US", "681", ("402",), 2),
    ("Des Moines", "IA", "US", "503", ("515",), 2), ("Austin", "TX", "US", "787", ("512",), 9),
    ("Dallas", "TX", "US", "752", ("214", "469"), 10), ("Houston", "TX", "US", "770", ("713", "832"), 11),
    ("Denver", "CO", "US", "802", ("303", "720"), 8), ("Phoenix", "AZ", "US", "850", ("602", "480"), 8),
    ("Salt Lake City", "UT", "US", "841", ("801",), 4), ("Las Vegas", "NV", "US", "891", ("702",), 5),
    ("Albuquerque", "NM", "US", "871", ("505",), 2), ("Boise", "ID", "US", "837", ("208",), 2),
    ("Los Angeles", "CA", "US", "900", ("213", "310", "323"), 24),
    ("San Diego", "CA", "US", "921", ("619",), 9),
    ("San Francisco", "CA", "US", "941", ("415",), 10), ("Oakland", "CA", "US", "946", ("510",), 5),
    ("Sacramento", "CA", "US", "958", ("916",), 4), ("Portland", "OR", "US", "972", ("503", "971"), 7),
    ("Seattle", "WA", "US", "981", ("206",), 10), ("Spokane", "WA", "US", "992", ("509",), 2),
    ("Toronto", "ON", "CA", "M5V", ("416", "647"), 5), ("Ottawa", "ON", "CA", "K1P", ("613",), 2),
    ("Montreal", "QC", "CA", "H2X", ("514",), 3), ("Vancouver", "BC", "CA", "V6B", ("604",), 3),
    ("Calgary", "AB", "CA", "T2P", ("403",), 2),
]

# Combined sales tax (US) or GST/HST/PST (Canada) by region, in basis points.
TAX_BASIS_POINTS: dict[str, int] = {
    "NY": 888, "NJ": 663, "PA": 600, "MA": 625, "RI": 700, "CT": 635, "VT": 600, "ME": 550, "MD": 600,
    "DC": 600, "VA": 530, "NC": 725, "GA": 890, "FL": 700, "OH": 750, "MI": 600, "IL": 1025, "IN": 700,
    "TN": 975, "KY": 600, "MO": 900, "MN": 790, "WI": 550, "LA": 945, "AL": 1000, "OK": 860, "NE": 700,
    "IA": 700, "TX": 825, "CO": 880, "AZ": 860, "UT": 720, "NV": 838, "NM": 790, "ID": 600, "CA": 875,
    "OR": 0, "WA": 1025, "ON": 1300, "QC": 1498, "BC": 1200, "AB": 500,
}

# --- locations ----------------------------------------------------------------------------------------------

EAST_REGIONS = [
    "US-NY", "US-NJ", "US-PA", "US-MA", "US-CT", "US-RI", "US-NH", "US-VT", "US-ME", "US-DE",
    "US-MD", "US-DC", "US-VA", "US-NC", "US-SC", "US-GA", "US-FL", "US-OH", "US-MI", "CA",
]
WEST_REGIONS = ["US-CA", "US-OR", "US-WA", "US-NV", "US-AZ", "US-UT", "US-CO", "US-ID", "US-NM", "US-TX"]
CENTRAL_REGIONS = [
    "US-TN", "US-IL", "US-IN", "US-KY", "US-MO", "US-MN", "US-WI", "US-IA", "US-AL", "US-MS", "US-LA",
    "US-AR", "US-OK", "US-KS", "US-NE",
]

# code, name, kind, fulfillment method, regions, priority, email, address
LOCATIONS: list[tuple[str, str, str, str, list[str], int, str | None, dict[str, str]]] = [
    ("WH-EAST", "Warehouse East", "warehouse", "in_house", EAST_REGIONS, 10, None,
     {"line1": "600 Meadowlands Parkway", "city": "Secaucus", "region": "NJ", "postal_code": "07094",
      "country": "US"}),
    ("WH-WEST", "Warehouse West", "warehouse", "in_house", WEST_REGIONS, 20, None,
     {"line1": "4200 E Airport Drive", "city": "Ontario", "region": "CA", "postal_code": "91761",
      "country": "US"}),
    ("3PL-CENTRAL", "Central Fulfilment (3PL)", "3pl", "3pl", CENTRAL_REGIONS, 30,
     "orders@central-3pl.example.com",
     {"line1": "3800 Distriplex Farms Drive", "city": "Memphis", "region": "TN", "postal_code": "38118",
      "country": "US"}),
    ("STORE-DT", "Downtown Store", "store", "in_house", ["US-NY"], 50, "downtown@crossdock.example.com",
     {"line1": "148 Mercer Street", "city": "New York", "region": "NY", "postal_code": "10012",
      "country": "US"}),
    ("DS-ACME", "Acme Home Supply", "dropship", "dropship", ["US", "CA"], 90,
     "dropship@acme-home.example.com",
     {"line1": "77 Foundry Road", "city": "Grand Rapids", "region": "MI", "postal_code": "49503",
      "country": "US"}),
]

# --- catalog ------------------------------------------------------------------------------------------------
# prefix, title, brand, price (cents), sizes ("label" or "label:price"), colours, flags (dropship, final_sale)
PRODUCTS: list[tuple[str, str, str, int, list[str], list[str], str]] = [
    ("NF-CRW", "Merino Crew Sweater", "Northfold", 8900, ["S", "M", "L", "XL"], ["Navy", "Oatmeal"], ""),
    ("NF-TEE", "Organic Cotton Tee", "Northfold", 2800, ["S", "M", "L", "XL"],
     ["White", "Black", "Heather Grey"], ""),
    ("NF-OXF", "Oxford Shirt", "Northfold", 6400, ["S", "M", "L", "XL"], ["Blue", "White"], ""),
    ("NF-CHN", "Stretch Chino", "Northfold", 6900, ["30", "32", "34", "36"], ["Khaki", "Navy"], ""),
    ("NF-HDY", "Fleece Hoodie", "Northfold", 7400, ["S", "M", "L", "XL"], ["Charcoal", "Forest"], ""),
    ("NF-RJK", "Packable Rain Jacket", "Northfold", 11900, ["S", "M", "L", "XL"], ["Yellow"], ""),
    ("NF-SCK", "Wool Hiking Socks (3-pack)", "Northfold", 2400, ["S/M", "L/XL"], ["Grey"], "final_sale"),
    ("NF-BNE", "Ribbed Beanie", "Northfold", 2600, [], ["Rust", "Navy", "Cream"], ""),
    ("NF-SCF", "Lambswool Scarf", "Northfold", 4200, [], ["Camel", "Grey"], ""),
    ("NF-LGS", "High-Rise Leggings", "Northfold", 5800, ["XS", "S", "M", "L"], ["Black", "Olive"], ""),
    ("NF-DRS", "Linen Wrap Dress", "Northfold", 9800, ["XS", "S", "M", "L"], ["Sand", "Sage"], ""),
    ("NF-SHO", "Running Shorts", "Northfold", 3800, ["S", "M", "L"], ["Black", "Cobalt"], ""),
    ("NF-PJS", "Flannel Pajama Set", "Northfold", 6800, ["S", "M", "L"], ["Red Plaid"], ""),
    ("NF-CAP", "Canvas Baseball Cap", "Northfold", 2400, [], ["Khaki", "Black"], ""),
    ("NF-GLV", "Touchscreen Gloves", "Northfold", 2200, ["S/M", "L/XL"], ["Black"], ""),
    ("HL-TWL", "Turkish Cotton Bath Towel", "Hearth & Loom", 3200, [], ["White", "Slate", "Sage"], ""),
    ("HL-TWS", "Bath Towel Set (6 pieces)", "Hearth & Loom", 8900, [], ["White", "Slate"], ""),
    ("HL-SHT", "Percale Sheet Set", "Hearth & Loom", 12900, ["Twin:10900", "Queen:12900", "King:14900"],
     ["White", "Dove Grey"], ""),
    ("HL-DUV", "Linen Duvet Cover", "Hearth & Loom", 17900, ["Queen:17900", "King:19900"],
     ["Natural", "Terracotta"], ""),
    ("HL-PIL", "Down-Alternative Pillow", "Hearth & Loom", 4900, ["Standard:4900", "King:5900"], [],
     "final_sale"),
    ("HL-THR", "Chunky Knit Throw", "Hearth & Loom", 7900, [], ["Ivory", "Charcoal"], ""),
    ("HL-CUS", "Linen Cushion Cover", "Hearth & Loom", 3400, ["18x18:3400", "20x20:3800"],
     ["Natural", "Rust"], ""),
    ("HL-RUG", "Washable Cotton Rug", "Hearth & Loom", 5900, ["2x3:2900", "3x5:5900", "5x8:12900"],
     ["Blue Stripe"], ""),
    ("HL-CDL", "Soy Candle", "Hearth & Loom", 2600, [], ["Fig", "Cedar", "Sea Salt"], ""),
    ("HL-DIF", "Reed Diffuser", "Hearth & Loom", 3200, [], ["Fig", "Cedar"], ""),
    ("HL-MUG", "Stoneware Mug (set of 2)", "Hearth & Loom", 3000, [], ["Speckled White", "Ink Blue"], ""),
    ("HL-BWL", "Stoneware Pasta Bowl (set of 4)", "Hearth & Loom", 5400, [],
     ["Speckled White", "Ink Blue"], ""),
    ("HL-PLT", "Dinner Plate (set of 4)", "Hearth & Loom", 5600, [], ["Speckled White", "Sage"], ""),
    ("HL-GLS", "Recycled Glass Tumblers (set of 6)", "Hearth & Loom", 3600, [], ["Clear", "Smoke"], ""),
    ("HL-FRP", "French Press", "Hearth & Loom", 4400, [], ["Matte Black", "Copper"], ""),
    ("HL-KTL", "Gooseneck Kettle", "Hearth & Loom", 7900, [], ["Black", "White"], ""),
    ("HL-CBD", "Walnut Cutting Board", "Hearth & Loom", 6400, ["Medium:6400", "Large:8400"], [], ""),
    ("HL-KNF", "Chef's Knife 8in", "Hearth & Loom", 8900, [], [], ""),
    ("HL-APR", "Waxed Canvas Apron", "Hearth & Loom", 4800, [], ["Olive", "Tan"], ""),
    ("HL-NAP", "Linen Napkins (set of 4)", "Hearth & Loom", 3200, [], ["Natural", "Charcoal", "Rust"], ""),
    ("HL-TBL", "Linen Tablecloth", "Hearth & Loom", 7400, ["60x90:7400", "60x120:8900"], ["Natural"], ""),
    ("HL-BSK", "Seagrass Storage Basket", "Hearth & Loom", 3900, ["Small:3900", "Large:5400"], [], ""),
    ("HL-LMP", "Ceramic Table Lamp", "Hearth & Loom", 12900, [], ["Ivory", "Sage"], ""),
    ("HL-CLK", "Wall Clock", "Hearth & Loom", 5400, [], ["Oak", "Black"], ""),
    ("HL-FRM", "Oak Picture Frame", "Hearth & Loom", 2400, ["5x7:2400", "8x10:3200", "11x14:4200"], [], ""),
    ("HL-PLN", "Self-Watering Planter", "Hearth & Loom", 3400, ["Small:3400", "Medium:4600"],
     ["Terracotta", "White"], ""),
    ("HL-MIR", "Round Wall Mirror", "Hearth & Loom", 14900, ["24in:14900", "30in:18900"], [], ""),
    ("HL-BTH", "Bath Mat", "Hearth & Loom", 2900, [], ["White", "Slate"], ""),
    ("HL-RBE", "Waffle Bathrobe", "Hearth & Loom", 7900, ["S/M", "L/XL"], ["White", "Grey"], ""),
    ("FL-BKP", "Canvas Backpack", "Fieldline", 9800, [], ["Olive", "Navy", "Black"], ""),
    ("FL-TOT", "Market Tote", "Fieldline", 3400, [], ["Natural", "Black"], ""),
    ("FL-WAL", "Leather Bifold Wallet", "Fieldline", 5400, [], ["Brown", "Black"], ""),
    ("FL-BLT", "Leather Belt", "Fieldline", 4800, ["30", "32", "34", "36", "38"], ["Brown"], ""),
    ("FL-BTL", "Insulated Water Bottle 24oz", "Fieldline", 3200, [], ["Sage", "Sand", "Black"], ""),
    ("FL-UMB", "Compact Umbrella", "Fieldline", 2800, [], ["Black", "Navy"], ""),
    ("FL-SUN", "Polarized Sunglasses", "Fieldline", 8900, [], ["Tortoise", "Black"], ""),
    ("FL-EAR", "Gold Hoop Earrings", "Fieldline", 3900, [], [], "final_sale"),
    ("FL-WCH", "Minimalist Watch", "Fieldline", 14900, [], ["Silver", "Gold"], ""),
    ("FL-DFL", "Weekender Duffel", "Fieldline", 14900, [], ["Olive", "Tan"], ""),
    ("AC-STB", "Oak Side Table", "Acme Home", 18900, [], ["Natural Oak", "Walnut"], "dropship"),
    ("AC-BNC", "Entryway Bench", "Acme Home", 24900, [], ["Oak", "Black"], "dropship"),
    ("AC-SHF", "Floating Wall Shelf", "Acme Home", 6900, ["24in:6900", "36in:8900"], [], "dropship"),
    ("AC-LDR", "Blanket Ladder", "Acme Home", 8900, [], [], "dropship"),
    ("AC-FLR", "Floor Cushion", "Acme Home", 7900, [], ["Rust", "Indigo"], "dropship"),
    ("AC-OTM", "Pouf Ottoman", "Acme Home", 12900, [], ["Grey", "Mustard"], "dropship"),
]

PRODUCT_BLURBS: dict[str, str] = {
    "Northfold": "Everyday clothing cut from natural fibres, made to be worn for years.",
    "Hearth & Loom": "Home textiles and tableware, made in small batches.",
    "Fieldline": "Bags and accessories built for commuting and weekends away.",
    "Acme Home": "Solid-wood furniture shipped directly from the workshop.",
}

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
    "UPS": {"info_received": "Shipper created a label, UPS has not received the package yet.",
            "in_transit": "Departed from Facility", "hub": "Arrived at Facility",
            "out_for_delivery": "Out For Delivery Today", "delivered": "Delivered",
            "failed_attempt": "The receiver was not available for delivery. We'll make a second attempt.",
            "exception": "A severe weather condition has delayed delivery."},
    "USPS": {"info_received": "Shipping Label Created, USPS Awaiting Item",
             "in_transit": "Accepted at USPS Origin Facility", "hub": "In Transit to Next Facility",
             "out_for_delivery": "Out for Delivery", "delivered": "Delivered, Front Door/Porch",
             "failed_attempt": "Notice Left (No Authorized Recipient Available)",
             "exception": "Delivery Exception, Animal Interference"},
    "FedEx": {"info_received": "Label created", "in_transit": "Picked up", "hub": "In transit",
              "out_for_delivery": "On FedEx vehicle for delivery", "delivered": "Delivered",
              "failed_attempt": "Delivery attempted, customer not available",
              "exception": "Delay: incorrect address, contacting recipient"},
    "DHL": {"info_received": "Shipment information received", "in_transit": "Processed",
            "hub": "Arrived at Delivery Facility", "out_for_delivery": "With delivery courier",
            "delivered": "Delivered",
            "failed_attempt": "Delivery attempted; recipient not home",
            "exception": "Clearance delay: awaiting customs release"},
    "Amazon Logistics": {
        "info_received": "Package has left the seller facility and is in transit to carrier",
        "in_transit": "Shipment departed from Amazon facility",
        "hub": "Package arrived at a carrier facility", "out_for_delivery": "Out for delivery",
        "delivered": "Delivered", "failed_attempt": "Delivery attempted",
        "exception": "Running late: package delayed"},
}
ORDER_NOTES = [
    "Please leave with the doorman.", "Gift: please don't include the receipt.",
    "Ring bell twice, buzzer broken.", "Leave at the side door if nobody answers.",
]
DELIVERY_SPOTS = ["Front door", "Mailbox", "Parcel locker", "Left with receptionist", "Back porch", "Garage"]

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
RETURN_REASON_TEXTS: dict[str, list[str]] = {
    "wrong_size": ["Runs small, I need one size up.", "Too big across the shoulders.",
                   "Ordered the wrong size."],
    "damaged": ["Arrived with a crack along the rim.", "Box was crushed and the item is dented.",
                "Seam split the first time I wore it."],
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

# --- support ------------------------------------------------------------------------------------------------

STAFF: list[tuple[str, str, str]] = [
    ("agent@example.com", "Alex Agent", "agent"),
    ("manager@example.com", "Morgan Manager", "manager"),
    ("admin@example.com", "Ada Admin", "admin"),
    ("sam.rivera@example.com", "Sam Rivera", "agent"),
    ("priya.shah@example.com", "Priya Shah", "agent"),
    ("diego.martinez@example.com", "Diego Martinez", "agent"),
    ("hannah.kim@example.com", "Hannah Kim", "agent"),
]

# category -> (subjects, customer openers, agent replies, follow-ups from the customer)
TICKET_TEXTS: dict[str, tuple[list[str], list[str], list[str], list[str]]] = {
    "where_is_my_order": (
        ["Where is my order {number}?", "Order {number} hasn't arrived", "Tracking hasn't updated"],
        ["Hi, I ordered {number} a few days ago and the tracking hasn't moved since yesterday. Any news?",
         "My order {number} says shipped but nothing has arrived yet. Can you check?"],
        ["Hi {first}, thanks for your patience. Your parcel is with {carrier} and is moving again; it was "
         "due "
         "by {eta}. I'll keep an eye on it.",
         "Hi {first}, I've opened a trace with {carrier}. If it doesn't turn up within 48 hours we'll send a "
         "replacement at no cost."],
        ["Thanks, that's helpful.", "It just arrived, thank you!", "Still nothing today, unfortunately."],
    ),
    "delivered_not_received": (
        ["Order {number} marked delivered but not here", "Missing parcel, order {number}"],
        ["Tracking says delivered but there's nothing at my door. Order {number}.",
         "My order {number} shows delivered yesterday but I never got it. I checked with the neighbours."],
        ["Hi {first}, carriers sometimes mark parcels delivered a little early. Could you check with "
         "neighbours "
         "and your building's mail room? If it's still missing tomorrow, reply here and we'll sort it out.",
         "Hi {first}, I've opened a trace with {carrier} and sent a replacement today; you don't need to "
         "wait "
         "for the trace."],
        ["Found it with the concierge, sorry!", "Still nothing, thanks for sending another.", "Thank you."],
    ),
    "return": (
        ["Return for order {number}", "How do I return an item?", "Exchange for a different size"],
        ["I'd like to return the {item} from order {number}, it doesn't fit.",
         "Hi, can I exchange the {item} for a larger size? Order {number}.",
         "How do I send back part of order {number}?"],
        ["Hi {first}, I've approved your return. You'll get a prepaid label by email; once the parcel is "
         "scanned we refund within 5 business days.",
         "Hi {first}, exchanges are easiest as a return plus a new order so you get the new size right away. "
         "I've approved the return for the {item}.",
         "Hi {first}, your return arrived at our warehouse and the refund is on its way to your original "
         "payment method."],
        ["Great, thanks!", "Label received, dropping it off today.", "When will I see the refund?"],
    ),
    "damaged": (
        ["Item arrived damaged", "Broken {item}", "Damaged parcel, order {number}"],
        ["The {item} from order {number} arrived broken. The box was crushed. Photos attached.",
         "Unfortunately the {item} arrived with a crack. What can you do?"],
        ["Hi {first}, I'm sorry it arrived like that. I've sent a replacement today, no need to return the "
         "damaged one.",
         "Hi {first}, thanks for the photos. I've refunded the {item} in full and flagged the packaging with "
         "our warehouse team."],
        ["Thank you, much appreciated.", "Perfect, thanks for the quick help."],
    ),
    "cancel": (
        ["Cancel order {number}", "Please cancel my order", "Ordered by mistake"],
        ["Please cancel order {number}, I ordered the wrong colour.",
         "Hi, I placed {number} twice by accident. Can you cancel one?"],
        ["Hi {first}, done: order {number} is cancelled and the payment hold will drop off within a few "
         "days.",
         "Hi {first}, the order had already left our warehouse, so I can't cancel it, but you can return it "
         "free of charge once it arrives."],
        ["Thanks!", "OK, I'll return it then."],
    ),
    "address_change": (
        ["Change delivery address for {number}", "Wrong address on my order"],
        ["I just noticed the apartment number is missing on order {number}. It should be Apt 4B.",
         "Can you ship order {number} to my office instead? 200 Park Avenue, New York."],
        ["Hi {first}, I've updated the address before dispatch. You're all set.",
         "Hi {first}, the parcel is already with {carrier}; I've asked them to redirect it, which can add a "
         "day."],
        ["Thank you!", "Great, thanks for catching it."],
    ),
    "refund": (
        ["Refund status for {number}", "When do I get my refund?"],
        ["My return for {number} was received last week but I haven't seen the refund yet.",
         "Hi, I was told I'd be refunded for order {number}. When will it show up?"],
        ["Hi {first}, the refund was issued on our side; banks usually take 3 to 5 business days to show it.",
         "Hi {first}, I can see the refund was sent to your original payment method. It should appear "
         "shortly."],
        ["Got it, thanks.", "It's there now, thanks."],
    ),
    "product_question": (
        ["Question about sizing", "Is the {item} machine washable?"],
        ["Does the {item} run true to size?", "Is the {item} machine washable?"],
        ["Hi {first}, it runs true to size; if you're between sizes, size up.",
         "Hi {first}, yes: cold wash, gentle cycle, and lay flat to dry."],
        ["Thanks!"],
    ),
}
ASSISTANT_REPLIES: dict[str, tuple[str, str]] = {
    "where_is_my_order": ("Here is the latest on order {number}: it is with {carrier}, due by {eta}. "
                          "You can follow it with the tracking link on the order page.", "track-your-order"),
    "delivered_not_received": ("The carrier marked order {number} delivered. Parcels sometimes turn up "
                               "within a day; I've asked an agent to check with {carrier}.",
                               "delivered-not-received"),
    "return": ("You can start a return for order {number} from the order page within the return window. "
               "Would you like me to connect you with an agent?", "returns-and-refunds"),
    "damaged": ("I'm sorry your item arrived damaged. I'm passing this to an agent who can arrange a "
                "replacement or refund.", "damaged-items"),
    "cancel": ("Orders can be cancelled until they leave the warehouse. I've asked an agent to check "
               "order {number} for you.", "cancel-an-order"),
    "address_change": ("The address can be changed until the order is dispatched. An agent will confirm "
                       "shortly.", "change-delivery-address"),
    "refund": ("Refunds go back to the original payment method; banks take 3 to 5 business days.",
               "refund-timing-and-payments"),
    "product_question": ("Our size guides are on each product page. An agent can help with anything else.",
                         "contact-support"),
}
INTERNAL_NOTES: dict[str, list[str]] = {
    "where_is_my_order": ["Checked with the warehouse: parcel left on time, carrier delay.",
                          "Carrier trace opened; reference added to the order notes."],
    "delivered_not_received": ["Carrier says left at front door; GPS scan matches the address. Trace opened.",
                               "Second missing-parcel claim this quarter: check before the next "
                               "replacement."],
    "return": ["Approved outside the usual policy as a goodwill gesture.",
               "Customer has returned for sizing before; suggested the size guide."],
    "damaged": ["Photos show crushed outer box: flagged packaging with the warehouse team.",
                "Replacement sent without return; damaged item written off."],
    "cancel": ["Caught before packing; allocation released."],
    "address_change": ["Updated the address on the order; label not printed yet."],
    "refund": ["Refund confirmed in the payment provider's dashboard."],
    "product_question": ["Same customer as the eBay ticket last month; identities already merged."],
}
CRM_NOTES = [
    "Prefers email over phone; works nights, replies late.",
    "Regular customer across web shop and Amazon. Expedite issues where possible.",
    "Had a damaged parcel earlier this year; sent a 15% code as an apology.",
    "Orders gifts often; always asks for gift receipts.",
    "Asked to be contacted about restocks of the Merino Crew Sweater.",
    "Wholesale enquiry in progress with the sales team; route bulk questions to the manager.",
    "Returned several items for sizing: suggest checking the size guide before ordering.",
    "Address on file has a tricky apartment entrance; courier notes added.",
]

MACROS: list[tuple[str, str, str]] = [
    ("Where is my order: in transit", "where_is_my_order",
     "Hi [first name],\n\nThanks for reaching out. Your order [order number] is on its way with [carrier]; "
     "the "
     "tracking link on your order page shows every scan. The current estimate is [delivery window].\n\nIf it "
     "hasn't arrived by the end of that window, reply here and we'll make it right.\n\nBest,\n[agent name]"),
    ("Delivered but not received", "where_is_my_order",
     "Hi [first name],\n\nI'm sorry your parcel hasn't turned up. Carriers sometimes scan parcels as "
     "delivered "
     "a little before they arrive, so please check with neighbours, your mail room and any safe places. If "
     "it's "
     "still missing after 48 hours, reply here and we'll open a trace and send a replacement.\n\n[agent "
     "name]"),
    ("Return instructions", "return",
     "Hi [first name],\n\nYou can start a return from your order page: choose the items and the reason, and "
     "we'll email a prepaid label. Once the parcel is scanned by the carrier we refund within 5 business "
     "days.\n\n[agent name]"),
    ("Marketplace returns (Amazon/eBay)", "return",
     "Hi [first name],\n\nThis order was placed on [marketplace], so the return is handled there: open it "
     "from your orders on [marketplace] and they'll issue the label and the refund. We'll see it arrive and "
     "keep you posted.\n\n[agent name]"),
    ("Damaged item: apology and replacement", "damaged",
     "Hi [first name],\n\nI'm sorry your [item] arrived damaged. I've sent a replacement today at no cost "
     "and "
     "you don't need to return the damaged one. You'll get tracking by email shortly.\n\n[agent name]"),
    ("Cancellation confirmed", "cancel",
     "Hi [first name],\n\nYour order [order number] is cancelled. Any payment taken is refunded to the "
     "original payment method; banks usually take 3 to 5 business days.\n\n[agent name]"),
    ("Address change before dispatch", "address_change",
     "Hi [first name],\n\nI've updated the delivery address on order [order number] to the one you sent. "
     "It hasn't left the warehouse yet, so there's no delay.\n\n[agent name]"),
    ("Refund processed", "refund",
     "Hi [first name],\n\nWe've issued a refund of [amount] to your original payment method. It usually "
     "shows "
     "within 3 to 5 business days, depending on your bank.\n\n[agent name]"),
]

# --- help centre --------------------------------------------------------------------------------------------
# slug, title, topic, keywords, summary, body (paragraphs separated by blank lines)
HELP_ARTICLES: list[tuple[str, str, str, str, str, str]] = [
    ("track-your-order", "Tracking your order", "shipping",
     "track, tracking, where is my order, status, shipped, carrier",
     "Follow any order, from any of our shops, from placement to delivery.",
     "Every order you place with us, on our web shop, Shopify, Amazon, eBay or in store, appears on your "
     "Orders page once you sign in with the email address you used.\n\n"
     "Each order shows its status: received, being prepared, shipped, delivered. When a parcel leaves our "
     "warehouse you get an email with the carrier and the tracking number, and the order page shows every "
     "scan the carrier reports.\n\n"
     "An order can ship in more than one parcel when items come from different warehouses. Each parcel has "
     "its own tracking link.\n\n"
     "Tracking can take up to 24 hours to show the first scan after the label is created."),
    ("delivered-not-received", "My parcel is marked delivered but I haven't received it", "shipping",
     "delivered, not received, missing parcel, stolen, lost, neighbour",
     "What to check, and what we do, when tracking says delivered but nothing arrived.",
     "Carriers sometimes mark a parcel delivered a little before it actually arrives. Please wait until the "
     "end of the day and check around your home, with neighbours, your building's mail room or reception, "
     "and any parcel locker.\n\n"
     "The tracking page often says where the parcel was left, for example front door or mailbox.\n\n"
     "If it is still missing 48 hours after the delivery scan, contact us from the order page. We open a "
     "trace "
     "with the carrier and, for orders shipped by us, send a replacement or refund you while the trace "
     "runs."),
    ("returns-and-refunds", "Returns and refunds policy", "returns",
     "return, refund, policy, send back, label, RMA",
     "How returns work, what can be returned, and how refunds are paid.",
     "You can return most items within the return window of the shop you ordered from, unused and with their "
     "tags. Start a return from the order page: choose the items and a reason, and we email a prepaid label "
     "with a return number (RMA).\n\n"
     "Some items are final sale for hygiene reasons: socks, pillows and pierced jewellery. This is shown on "
     "the product page and in your order.\n\n"
     "Once your parcel reaches our warehouse we inspect it and refund the items to your original payment "
     "method. Original shipping is refunded when the item arrived damaged or was not as described."),
    ("return-window", "How long do I have to return an item?", "returns",
     "return window, days, deadline, late return, 30 days",
     "Return windows by shop, and when the clock starts.",
     "The return window starts on the day your order is delivered. For our web shop, Shopify, Instagram and "
     "WooCommerce orders it is 30 days; for in-store purchases it is 30 days with the receipt.\n\n"
     "Marketplace orders follow the marketplace's window: Amazon orders 30 days, eBay orders 14 days.\n\n"
     "Each order page shows the last day you can start a return."),
    ("exchanges", "Exchanging for a different size or colour", "returns",
     "exchange, swap, size, colour, color, different size",
     "The quickest way to get a different size or colour.",
     "The fastest way to exchange is to start a return for the item and place a new order for the size or "
     "colour you want, so it ships right away rather than after your return arrives.\n\n"
     "If you prefer a direct exchange, choose Exchange as the resolution when you start the return and pick "
     "the new option. We ship it as soon as the carrier scans your return parcel."),
    ("cancel-an-order", "Cancelling an order", "orders",
     "cancel, cancellation, mistake, wrong item, stop order",
     "You can cancel until the order leaves the warehouse.",
     "You can cancel an order from the order page until it is packed. Once it has shipped it can no longer "
     "be "
     "cancelled, but you can return it free of charge when it arrives.\n\n"
     "Marketplace orders (Amazon, eBay) are cancelled on the marketplace: use Request cancellation in your "
     "orders there and we confirm it.\n\n"
     "Any payment taken is refunded to the original payment method as soon as the cancellation goes "
     "through."),
    ("change-delivery-address", "Changing the delivery address", "orders",
     "address, change address, wrong address, apartment, redirect",
     "Update the address before dispatch; after that we ask the carrier.",
     "If your order has not shipped yet, contact us with the new address and we update it straight away.\n\n"
     "Once the parcel is with the carrier we can ask them to redirect it, which may add a day and is not "
     "always possible. You can also use the carrier's own delivery options from the tracking link.\n\n"
     "For Amazon and eBay orders, the address comes from the marketplace: change it there before the order "
     "ships."),
    ("marketplace-orders-returns", "Amazon and eBay orders: returns and help", "returns",
     "amazon, ebay, marketplace, return, refund, a-to-z, resolution centre",
     "Marketplace orders are returned through the marketplace.",
     "Orders placed on Amazon or eBay appear on your Orders page here too, but returns and refunds for them "
     "are handled by the marketplace.\n\n"
     "For Amazon, open Your Orders on Amazon, choose Return or replace items, and Amazon issues the label "
     "and "
     "the refund. Orders fulfilled by Amazon are shipped and returned entirely by Amazon.\n\n"
     "For eBay, open the order in your Purchase history and choose Return this item. We accept the return "
     "there and refund as soon as the parcel arrives."),
    ("delivery-times-and-shipping-options", "Delivery times and shipping options", "shipping",
     "delivery time, shipping cost, expedited, express, standard, business days",
     "Standard, expedited and in-store pickup, with prices and timings.",
     "Standard shipping takes 3 to 7 business days and costs 5.00 USD, free on web shop orders over 75.00 "
     "USD. Expedited shipping takes 1 to 3 business days and costs 15.00 USD.\n\n"
     "Orders placed before 2 pm Eastern on a business day usually leave the warehouse the same day. Delivery "
     "estimates on your order page count business days from dispatch.\n\n"
     "Furniture ships directly from our workshop partner and takes 5 to 10 business days."),
    ("damaged-items", "My item arrived damaged or faulty", "returns",
     "damaged, broken, faulty, defective, crushed, cracked",
     "Send us a photo and we replace or refund it.",
     "We're sorry when something arrives damaged. Contact us from the order page within 14 days of delivery "
     "and attach a photo of the item and, if you still have it, the box.\n\n"
     "We send a replacement or refund the item in full, including shipping. In most cases you don't need to "
     "send the damaged item back."),
    ("refund-timing-and-payments", "When will I get my refund?", "payments",
     "refund time, refund status, payment, bank, card, store credit",
     "Refund timings and payment methods.",
     "We refund to the original payment method as soon as your return is inspected, usually within two "
     "business days of arrival. Banks and card issuers then take 3 to 5 business days to show it.\n\n"
     "If you chose store credit, it is available on your account immediately.\n\n"
     "We accept major cards, PayPal and Shop Pay on the web shop; marketplace orders are paid and refunded "
     "through the marketplace."),
    ("contact-support", "Contacting support", "general",
     "contact, help, agent, chat, email, phone, hours",
     "Chat, email and opening hours.",
     "The fastest way to reach us is the chat on the Support page: our assistant answers common questions "
     "straight away and hands over to an agent when needed.\n\n"
     "Agents are available Monday to Friday, 8 am to 8 pm Eastern, and weekends 10 am to 4 pm. We reply to "
     "every message within one business day.\n\n"
     "Please include your order number (it starts with CD-) so we can find your order quickly."),
]

# --- channels -----------------------------------------------------------------------------------------------
# code -> name, kind, marketplace, return window days, returns handled by channel, return instructions,
# stock buffer (units, percent, floor), locations served (codes), order source, share of customers (%)
CHANNELS: dict[str, tuple[str, str, bool, int, bool, str, tuple[int, int, int], list[str], str, int]] = {
    "webshop": ("Crossdock Store", "webshop", False, 30, False, "", (0, 0, 0),
                ["WH-EAST", "WH-WEST", "3PL-CENTRAL", "STORE-DT", "DS-ACME"], "web", 24),
    "amazon": ("Amazon US", "amazon", True, 30, True,
               "Return this order from Your Orders on Amazon: choose the item, a reason and a drop-off "
               "point. "
               "Amazon issues the label and the refund; we see the return arrive and keep you posted.",
               (2, 10, 2), ["WH-EAST", "WH-WEST", "3PL-CENTRAL"], "Amazon.com", 30),
    "ebay": ("eBay", "ebay", True, 14, True,
             "Open the order in your eBay Purchase history and choose Return this item. eBay issues the "
             "label; "
             "we refund as soon as the parcel reaches us.", (1, 0, 1), ["WH-EAST", "WH-WEST"], "ebay", 12),
    "shopify": ("Shopify Store", "shopify", False, 30, False, "", (1, 0, 0),
                ["WH-EAST", "WH-WEST", "3PL-CENTRAL", "DS-ACME"], "web", 13),
    "woocommerce": ("WooCommerce Outlet", "woocommerce", False, 21, False, "", (0, 5, 0),
                    ["WH-EAST", "WH-WEST", "DS-ACME"], "checkout", 8),
    "pos": ("Downtown Store POS", "square", False, 30, False, "", (0, 0, 0), ["STORE-DT"], "pos", 7),
    "instagram": ("Instagram Shop", "shopify", False, 30, False, "", (1, 0, 0), ["WH-EAST", "WH-WEST"],
                  "instagram", 6),
}

# channel code -> (code, name, price cents, min business days, max business days, dispatch days, pickup)
SHIPPING_OPTIONS: dict[str, list[tuple[str, str, int, int, int, int, bool]]] = {
    "webshop": [("standard", "Standard shipping", 500, 3, 7, 1, False),
                ("expedited", "Expedited shipping", 1500, 1, 3, 1, False),
                ("pickup", "Pick up at Downtown Store", 0, 0, 1, 0, True)],
    "amazon": [("Standard", "Standard Shipping", 0, 3, 5, 1, False),
               ("Expedited", "Expedited Shipping", 799, 2, 3, 1, False),
               ("SecondDay", "Two-Day Shipping", 1299, 2, 2, 1, False)],
    "ebay": [("USPSGroundAdvantage", "USPS Ground Advantage", 499, 2, 5, 1, False),
             ("UPS2ndDay", "UPS 2nd Day Air", 1200, 2, 2, 1, False)],
    "shopify": [("standard", "Standard", 595, 3, 7, 1, False), ("express", "Express", 1495, 1, 3, 1, False)],
    "woocommerce": [("flat_rate", "Flat rate", 650, 3, 7, 2, False),
                    ("express", "Express", 1600, 1, 3, 1, False)],
    "pos": [("in_store", "In-store purchase", 0, 0, 0, 0, True)],
    "instagram": [("standard", "Standard", 595, 3, 7, 1, False)],
}

# --- how orders evolve --------------------------------------------------------------------------------------

# Status odds by the order's age in days: (max age, {status: weight}).
STATUS_BY_AGE: list[tuple[float, dict[str, float]]] = [
    (0.25, {"pending": 35, "on_hold": 5, "confirmed": 45, "backordered": 4, "cancelled": 3, "shipped": 8}),
    (1, {"pending": 8, "on_hold": 4, "confirmed": 38, "backordered": 5, "cancelled": 4,
         "partially_shipped": 3, "shipped": 38}),
    (3, {"confirmed": 8, "backordered": 4, "on_hold": 2, "partially_shipped": 4, "shipped": 55,
         "delivered": 22, "cancelled": 5}),
    (7, {"backordered": 2, "on_hold": 1, "partially_shipped": 2, "shipped": 18, "delivered": 72,
         "cancelled": 5}),
    (14, {"shipped": 3, "delivered": 87, "cancelled": 5, "partially_returned": 2, "returned": 3}),
    (float("inf"), {"shipped": 1, "delivered": 86, "cancelled": 5, "partially_returned": 2.5,
                    "returned": 5.5}),
]
# Each status once, whatever the size, at a fitting age (days), so even a small data set shows them all.
FORCED_AGES: dict[str, tuple[float, float]] = {
    "pending": (0.01, 0.2), "on_hold": (0.05, 2), "backordered": (0.5, 6), "confirmed": (0.05, 0.8),
    "partially_shipped": (1, 3), "shipped": (1, 4), "delivered": (8, 60), "cancelled": (2, 60),
    "partially_returned": (30, 90), "returned": (30, 90),
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
CASEY_ADDRESS = {"name": "Casey Customer", "line1": "148 Maple Avenue", "line2": "Apt 4B", "city": "Brooklyn",
                 "region": "NY", "postal_code": "11215", "country": "US"}
# The channel's own status words, by channel kind ("*" for the rest).
CHANNEL_STATUS: dict[str, dict[str, str]] = {
    "amazon": {"pending": "Pending", "on_hold": "Unshipped", "backordered": "Unshipped",
               "confirmed": "Unshipped", "partially_shipped": "PartiallyShipped", "cancelled": "Canceled",
               "*": "Shipped"},
    "ebay": {"pending": "NOT_STARTED", "on_hold": "NOT_STARTED", "backordered": "NOT_STARTED",
             "confirmed": "NOT_STARTED", "partially_shipped": "IN_PROGRESS", "cancelled": "CANCELED",
             "*": "FULFILLED"},
    "shopify": {"pending": "pending / unfulfilled", "on_hold": "paid / unfulfilled",
                "backordered": "paid / unfulfilled", "confirmed": "paid / unfulfilled",
                "partially_shipped": "paid / partial", "cancelled": "voided / unfulfilled",
                "returned": "refunded / fulfilled", "partially_returned": "partially_refunded / fulfilled",
                "*": "paid / fulfilled"},
    "woocommerce": {"pending": "pending", "on_hold": "on-hold", "cancelled": "cancelled",
                    "returned": "refunded", "shipped": "completed", "delivered": "completed",
                    "partially_returned": "completed",
                    "*": "processing"},
    "square": {"pending": "OPEN", "cancelled": "CANCELED", "*": "COMPLETED"},
}
ZONE_MINUTES = {"webshop": 0, "amazon": -420, "ebay": -420, "shopify": -240, "woocommerce": 60,
                "square": -240}
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
RETURN_REASONS = {"wrong_size": 38, "damaged": 14, "not_as_described": 16, "changed_mind": 22, "late": 4,
                  "other": 6}
# UPS shipper numbers (the six characters after 1Z) of our accounts, per shipping location.
UPS_SHIPPERS = {"WH-EAST": "A4X927", "WH-WEST": "R28V16", "3PL-CENTRAL": "F6Y384", "DS-ACME": "9E3W52"}
TRACKING_URLS = {
    "UPS": "https://www.ups.com/track?tracknum={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
    "DHL": "https://www.dhl.com/us-en/home/tracking/tracking-express.html?submit=1&tracking-id={}",
    "Amazon Logistics": "https://track.amazon.com/tracking/{}",
}
