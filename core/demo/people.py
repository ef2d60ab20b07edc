"""The people in the demo: staff users, the persons behind the orders (customers), how each channel knows
them (identities, with each channel's quirks), CRM notes and the admins' audit trail.

An identity intake could not join to its person by an exact email or phone comes in as a customer of its
own, as it would live; the seed writes no merges: identity resolution (run at the end of seeding) finds
them."""

from __future__ import annotations

import itertools
import string
from datetime import datetime, timedelta
from typing import Any

from core.channels.base import is_relay_email
from core.demo.channel_ids import ChannelIds
from core.demo.context import (
    HISTORY_DAYS,
    SECOND_CHANNEL_ODDS,
    Existing,
    SeedContext,
    Staff,
    person_count,
    scaled_odds,
)
from core.demo.data.orders import CASEY_ORDERS
from core.demo.data.people import (
    CASEY_ADDRESS,
    CASEY_EMAIL,
    CASEY_PHONE,
    CITIES,
    CRM_NOTES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    NICKNAMES,
    STAFF,
    STREET_ABBREVIATIONS,
    STREETS,
)
from core.demo.data.reference import CHANNELS
from core.demo.records import Channel, Known, Location, Person


def compact(address: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in address.items() if value is not None}


def _digits_phone(phone: str) -> str:
    """As the customer services normalise a phone: digits, keeping a leading +."""
    return ("+" if phone.startswith("+") else "") + "".join(ch for ch in phone if ch.isdigit())


def build_staff(ctx: SeedContext, existing: Existing, password_hash: str) -> list[Staff]:
    """The staff users (agents, a manager, an admin); a user a previous seed wrote is reused."""
    staff: list[Staff] = []
    for n, (email, name, role) in enumerate(STAFF):
        user_id = existing.users.get(email) or ctx.next_id("users")
        staff.append((user_id, email, name, role))
        if email not in existing.users:
            ctx.add(
                "users",
                _user_row(
                    ctx, user_id, email, name, role, password_hash=password_hash, created=ctx.ago(400 - n)
                ),
            )
    return staff


def agents_of(staff: list[Staff]) -> list[Staff]:
    return [member for member in staff if member[3] == "agent"]


def _user_row(
    ctx: SeedContext,
    user_id: int,
    email: str,
    name: str,
    role: str,
    *,
    password_hash: str,
    created: datetime,
    customer_id: int | None = None,
) -> dict[str, Any]:
    return {
        "id": user_id,
        "email": email,
        "name": name,
        "password_hash": password_hash,
        "role": role,
        "customer_id": customer_id,
        "active": True,
        "email_verified_at": created + timedelta(minutes=7),
        "session_version": 1,
        "last_login_at": ctx.now - timedelta(hours=ctx.rng.randint(2, 90)),
        "created_at": created,
    }


class People:
    """The demo customer Casey and the other persons behind the orders; about one in six buys on several
    channels. Their customer rows are written by `write_customers`, once the plan has dated their first
    order."""

    def __init__(
        self, ctx: SeedContext, existing: Existing, staff: list[Staff], channel_ids: ChannelIds
    ) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.now = ctx.now
        self.add = ctx.add
        self.next_id = ctx.next_id
        self.existing = existing
        self.staff = staff
        self.agents = agents_of(staff)
        self.channel_ids = channel_ids
        self.casey, self.people = self._persons()

    def _persons(self) -> tuple[Person, list[Person]]:
        rng = self.rng
        codes = list(CHANNELS)
        shares = [CHANNELS[code][9] for code in codes]
        city_weights = list(itertools.accumulate(city[5] for city in CITIES))
        used_emails, used_phones = {CASEY_EMAIL}, {CASEY_PHONE}
        casey = Person(
            self.existing.casey or self.next_id("customers"),
            "Casey",
            "Customer",
            CASEY_EMAIL,
            CASEY_PHONE,
            dict(CASEY_ADDRESS),
            [code for code, *_ in CASEY_ORDERS],
        )
        people: list[Person] = []
        second_channel = scaled_odds(self.ctx.n_orders, SECOND_CHANNEL_ODDS)
        for _ in range(person_count(self.ctx.n_orders)):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            city, region, country, postal, areas, _ = rng.choices(CITIES, cum_weights=city_weights)[0]
            phone = None
            if rng.random() < 0.75:
                for candidate in (f"+1{rng.choice(areas)}5550{rng.randrange(100, 200)}" for _ in range(4)):
                    if candidate not in used_phones:
                        phone = candidate
                        used_phones.add(candidate)
                        break
            postal_code = (
                f"{postal}{rng.randrange(100):02d}"
                if country == "US"
                else (f"{postal} {rng.randrange(10)}{rng.choice('ABCEGHJKLMNPRSTVXY')}{rng.randrange(10)}")
            )
            line2 = None
            if rng.random() < 0.3:
                line2 = rng.choice(["Apt {n}{l}", "Unit {n}", "Suite {n}", "Apt {n}"]).format(
                    n=rng.randint(1, 24), l=rng.choice("ABCDEF")
                )
            street = f"{rng.randint(1, 9899)} {rng.choice(STREETS)}"
            address = {
                "name": f"{first} {last}",
                "line1": street,
                "line2": line2,
                "city": city,
                "region": region,
                "postal_code": postal_code,
                "country": country,
            }
            channels = rng.choices(codes, weights=shares)
            if rng.random() < second_channel:
                channels += rng.sample([c for c in codes if c not in channels], rng.choice([1, 1, 2]))
            email = self._unique_email(first, last, used_emails)
            customer_id = self.next_id("customers")
            people.append(Person(customer_id, first, last, email, phone, address, channels))
        return casey, people

    def _unique_email(self, first: str, last: str, used: set[str]) -> str:
        rng = self.rng
        given, family = ("".join(ch for ch in part.lower() if ch.isalnum()) or "x" for part in (first, last))
        pattern = rng.choice(["{g}.{f}", "{g}{f}", "{i}{f}", "{g}_{f}", "{g}.{f}{n}", "{g}{n}"])
        while True:
            local = pattern.format(g=given, f=family, i=given[0], n=rng.randint(1, 99))
            email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
            if email not in used:
                used.add(email)
                return email
            pattern = "{g}.{f}{n}"

    def write_customers(self, password_hash: str) -> None:
        """A customer row per person (Casey's only once) and Casey's sign-in."""
        rng = self.rng
        for person in self.people if self.existing.casey else [self.casey, *self.people]:
            if person.first_order_at is not None and rng.random() < 0.6:
                created = person.first_order_at - timedelta(seconds=rng.randint(60, 900))
            else:
                created = self.ctx.ago(rng.uniform(HISTORY_DAYS, 900))
            # An Amazon-only buyer is known by a relay address, never their own: no customer email.
            email = None if person.channels == ["amazon"] else person.email
            name = f"{person.first} {person.last}"
            self.add("customers", self._customer_row(person.customer_id, name, email, person.phone, created))
        if self.existing.casey is None and CASEY_EMAIL not in self.existing.users:
            casey = self.casey
            self.add(
                "users",
                _user_row(
                    self.ctx,
                    self.next_id("users"),
                    casey.email,
                    "Casey Customer",
                    "customer",
                    password_hash=password_hash,
                    customer_id=casey.customer_id,
                    created=self.ctx.ago(HISTORY_DAYS + 30),
                ),
            )

    def _customer_row(
        self,
        customer_id: int,
        name: str,
        email: str | None,
        phone: str | None,
        created: datetime,
    ) -> dict[str, Any]:
        return {
            "id": customer_id,
            "name": name,
            "email": email,
            "phone": phone,
            "merged_into_id": None,
            "marketing_opt_out": self.rng.random() < 0.2,
            "notification_prefs": {"email": True, "sms": False},
            "deletion_requested_at": None,
            "created_at": created,
        }

    def identity(self, person: Person, ch: Channel, at: datetime) -> Known:
        """How this channel knows the person, made at their first order there, with the channel's quirks.

        Returns (identity id, name, email, phone as given, address)."""
        found = person.identities.get(ch.code)
        if found is not None:
            return found
        rng = self.rng
        first_identity = not person.identities
        name, email, phone = f"{person.first} {person.last}", person.email, person.phone
        address = dict(person.address)
        if not first_identity:  # the same person as another channel knows them: a nickname, a typo, ...
            r = rng.random()
            if person.first in NICKNAMES and r < 0.35:
                name = f"{NICKNAMES[person.first]} {person.last}"
            elif r < 0.5:
                name = f"{person.first[0]}. {person.last}"
            elif r < 0.6:
                name = name.lower()
            r = rng.random()
            if r < 0.2:
                local = email.split("@")[0].replace(".", "")
                email = f"{local}{rng.randint(2, 99)}@{rng.choice(EMAIL_DOMAINS)}"
            elif r < 0.4:
                email = email.title()
            address = self._address_variant(address)
        if phone is not None and (ch.kind in ("amazon", "ebay", "square") or not first_identity):
            d = phone[2:]
            phone = rng.choice(
                [
                    f"({d[:3]}) {d[3:6]}-{d[6:]}",
                    f"{d[:3]}.{d[3:6]}.{d[6:]}",
                    d,
                    f"+1 {d[:3]}-{d[3:6]}-{d[6:]}",
                    phone,
                ]
            )
        if ch.kind == "amazon":
            relay = "".join(rng.choices(string.ascii_lowercase + string.digits, k=14))
            email = f"{relay}@marketplace.amazon.com"
        elif ch.kind == "ebay" and rng.random() < 0.3:
            email = f"{rng.getrandbits(64):016x}@members.ebay.com"
        elif ch.kind == "square" and rng.random() < 0.4:
            email = None
        address["name"] = name
        normalized = _digits_phone(phone) if phone else None
        customer_id = person.customer_id
        if first_identity:
            matched = "new"
        elif email is not None and email.lower() == person.email:
            matched = "email"
        elif normalized is not None and normalized == person.phone:
            matched = "phone"
        else:  # no exact key: a customer of its own, until resolution links it
            matched, customer_id = "new", self.next_id("customers")
            own_email = None if is_relay_email(email) else email and email.lower()
            self.add("customers", self._customer_row(customer_id, name, own_email, normalized, at))
        person.customers[ch.code] = customer_id
        identity_id = self.next_id("identities")
        self.add(
            "identities",
            {
                "id": identity_id,
                "customer_id": customer_id,
                "channel_id": ch.id,
                "external_id": self.channel_ids.buyer_id(ch, person),
                "name": name,
                "email": email and email.lower(),
                "phone": normalized,
                "address": compact(address),
                "matched_by": matched,
                "match_score": None,
                "created_at": at,
            },
        )
        found = person.identities[ch.code] = (identity_id, name, email and email.lower(), phone, address)
        return found

    def _address_variant(self, address: dict[str, Any]) -> dict[str, Any]:
        """The same address as another channel has it: abbreviated, mistyped, upper-cased, ZIP+4."""
        rng = self.rng
        r = rng.random()
        line1 = address["line1"]
        if r < 0.35:
            for word, short in STREET_ABBREVIATIONS.items():
                line1 = line1.replace(word, short)
        elif r < 0.45:
            i = rng.randrange(len(line1) - 6, len(line1) - 1)
            line1 = line1[:i] + line1[i + 1] + line1[i] + line1[i + 2 :]
        elif r < 0.55:
            line1 = line1.upper()
        line2 = address["line2"]
        if line2 and rng.random() < 0.4:
            line2 = line2.replace("Apt ", rng.choice(["Apartment ", "#", "APT "]))
        postal = address["postal_code"]
        if address["country"] == "US" and rng.random() < 0.25:
            postal = f"{postal}-{rng.randrange(10000):04d}"
        return {**address, "line1": line1, "line2": line2, "postal_code": postal}

    def write_crm_notes(self) -> None:
        rng = self.rng
        authors = [*self.agents, self.staff[1]]
        for person in [self.casey, *self.people]:
            if person is not self.casey and rng.random() >= 0.03:
                continue
            body = (
                rng.choice(CRM_NOTES)
                if person is not self.casey
                else ("Buys on the web shop, Amazon, eBay and Instagram under different names; all merged.")
            )
            self.add(
                "crm_notes",
                {
                    "id": self.next_id("crm_notes"),
                    "customer_id": person.customer_id,
                    "author_id": rng.choice(authors)[0],
                    "body": body,
                    "pinned": person is self.casey or rng.random() < 0.2,
                    "created_at": self.ctx.ago(rng.uniform(1, 100)).replace(microsecond=0),
                },
            )


def write_admin_audit(
    ctx: SeedContext, staff: list[Staff], channels: dict[str, Channel], locations: dict[str, Location]
) -> None:
    """What the manager and the admin changed: a new agent, eBay's return window, a 3PL's priority."""
    manager, admin = staff[1], staff[2]
    ctx.audit(
        admin,
        "user.create",
        "user",
        staff[3][0],
        when=ctx.ago(390),
        after={"email": staff[3][1], "role": "agent"},
    )
    ctx.audit(
        manager,
        "channel.update",
        "channel",
        channels["ebay"].id,
        when=ctx.ago(200),
        before={"return_window_days": 30},
        after={"return_window_days": 14},
    )
    ctx.audit(
        admin,
        "location.update",
        "location",
        locations["3PL-CENTRAL"].id,
        when=ctx.ago(150),
        before={"priority": 40},
        after={"priority": 30},
    )
