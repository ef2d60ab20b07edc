"""A customer with something of everything a customer owns (orders, a return, a conversation with an
attachment, a chat), built through the real services, so the security tests can ask for each of its URLs.
The text fields can carry a hostile payload (`text`) to check it is escaped wherever it is shown."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.channels.models import Channel
from core.customers.models import Customer
from core.inventory.models import Location
from core.orders.models import Order
from core.returns.models import ReturnRequest
from core.returns.services import request_return
from core.security.models import User
from core.security.roles import Actor
from core.support.models import Conversation, Message, MessageAttachment
from core.support.services import NewAttachment, open_conversation
from tests.factories import NOW, make_sku, make_user
from tests.returns_factories import make_delivered_order, make_shop

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Owned:
    """What one customer owns, and the URLs of it."""

    user: User
    order: Order
    rma: ReturnRequest
    conversation: Conversation
    attachment_id: int
    chat: Conversation

    def get_urls(self) -> list[str]:
        """Every customer-facing GET URL that shows one of this customer's things."""
        number, rma, cid = self.order.number, self.rma.rma_number, self.conversation.id
        return [
            f"/orders/{number}",
            f"/orders/{number}/status",
            f"/orders/{number}/return",
            f"/returns/{rma}",
            f"/returns/{rma}/slip",
            f"/support/{cid}",
            f"/support/{cid}/attachments/{self.attachment_id}",
            f"/support/chat/{self.chat.id}/messages",
        ]

    def post_urls(self) -> list[tuple[str, dict[str, str]]]:
        """Every customer-facing POST that acts on one of this customer's things, with a valid form."""
        number, cid = self.order.number, self.conversation.id
        return [
            (f"/orders/{number}/cancel", {"reason": "changed my mind"}),
            (f"/orders/{number}/return", {"reason": "wrong_size", "resolution": "refund"}),
            (f"/support/{cid}/messages", {"body": "hello from someone else"}),
        ]


def make_shop_for_people(session: Session) -> tuple[Channel, Location]:
    return make_shop(session, name="Web shop", return_window_days=30)


def make_owner(
    session: Session, shop: tuple[Channel, Location], *, text: str = "", email: str | None = None
) -> Owned:
    """A signed-up customer with a delivered order (returned in part), a conversation about it with a PNG
    attachment. `text` is put into every field the customer or the channel controls."""
    channel, location = shop
    overrides = {"email": email} if email else {}
    user = make_user(session, "customer", name=f"Ada {text}".strip(), **overrides)
    session.get(Customer, user.customer_id).name = f"Ada {text}".strip()
    sku = make_sku(session, title=f"Blue shirt {text}".strip(), code=f"SHIRT-{user.id}")
    order = make_delivered_order(
        session,
        channel,
        location,
        [(sku, 2)],
        customer_id=user.customer_id,
        buyer_name=f"Ada {text}".strip(),
        note=f"leave at the door {text}".strip(),
        shipping_address={
            "name": f"Ada {text}".strip(),
            "line1": f"1 Main St {text}".strip(),
            "city": f"Springfield {text}".strip(),
            "postal_code": "12345",
            "country": "US",
        },
    )
    for line in order.lines:
        line.title = f"Blue shirt {text}".strip()
        line.channel_sku = f"CH-{user.id}{text}"
    session.flush()
    actor = Actor(label=f"customer:{user.customer_id}", role="customer")
    rma = request_return(
        session,
        order,
        [(order.lines[0].id, 1)],
        reason="other",
        reason_text=f"too small {text}".strip(),
        actor=actor,
        now=NOW,
    )
    conversation = open_conversation(
        session,
        customer_id=user.customer_id,
        order=order,
        subject=f"Where is it {text}".strip(),
        body=f"My parcel has not come {text}".strip(),
        source="portal",
        now=NOW,
        attachments=[NewAttachment(f"photo{text}.png", "image/png", PNG)],
    )
    session.flush()
    attachment_id = session.scalar(
        select(MessageAttachment.id).join(Message).where(Message.conversation_id == conversation.id)
    )
    chat = open_conversation(
        session,
        customer_id=user.customer_id,
        order=None,
        subject=f"Chat {text}".strip(),
        body=f"Hi there {text}".strip(),
        source="chat",
        now=NOW,
    )
    return Owned(user, order, rma, conversation, attachment_id, chat)
