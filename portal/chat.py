"""Portal chat routes: the assistant's panel (the widget on every page loads it; /support/chat is the
whole page, which a browser without JavaScript uses too), sending a message, and the polled message list."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from flask_login import current_user

from core.db import begin_write, utcnow
from core.errors import DomainError, NotFound
from core.security.guest import make_guest_token
from core.security.roles import Role
from core.support import chat as chat_services
from core.support.models import Conversation, Message
from core.support.queries import customer_thread
from portal.views import _guest_order_ids, _limited, _viewer_customer_id, bp, wants_fragment

CHAT_MESSAGES_PER_IP = 120  # in 15 minutes
URLS = chat_services.Urls(
    order="/orders/{number}",
    order_return="/orders/{number}/return",
    help_article="/help/{slug}",
    account="/account",
    password="/password/forgot",  # noqa: S106 (a page address, not a secret)
)


def _chat_ids() -> list[int]:
    return [cid for cid in session.get("chats", []) if isinstance(cid, int)]


def _staff_refused() -> None:
    """Staff accounts have no customer chat (403), as on the other customer pages."""
    if current_user.is_authenticated and current_user.role != Role.CUSTOMER:
        abort(403)


def _current_chat() -> Conversation | None:
    """This viewer's chat: a signed-in customer's latest, else the last one this browser started."""
    customer_id = _viewer_customer_id()
    if customer_id is not None:
        latest = chat_services.latest_chat(g.db, customer_id)
        if latest is not None:
            return latest
    for conversation_id in reversed(_chat_ids()):
        try:
            conversation = chat_services.chat_for_viewer(
                g.db, conversation_id, customer_id=customer_id, allowed_ids=_chat_ids()
            )
        except NotFound:
            continue
        if conversation.status != "closed":
            return conversation
    return None


def _panel(conversation: Conversation | None, *, error: str | None = None, body: str = "") -> dict[str, Any]:
    messages: list[Message] = customer_thread(g.db, conversation).messages if conversation is not None else []
    last = next((m for m in reversed(messages) if m.author_kind == "assistant"), None)
    return {
        "conversation": conversation,
        "messages": messages,
        "choices": (last.data or {}).get("choices", []) if last is not None and last is messages[-1] else [],
        "with_person": conversation is not None and chat_services.with_person(conversation),
        "error": error,
        "body": body,
    }


@bp.get("/support/chat")
def chat() -> Any:
    """The chat with the assistant: the widget's panel (htmx) or the whole page."""
    _staff_refused()
    context = _panel(_current_chat())
    if wants_fragment():
        return render_template("portal/chat/_panel.html", **context)
    return render_template("portal/chat/page.html", **context)


@bp.post("/support/chat")
def chat_send() -> Any:
    """The customer's message (or a choice they tapped); the assistant answers in the same response."""
    _staff_refused()
    body = request.form.get("body", "")  # the service refuses one over its limit, with the reason
    choice = request.form.get("choice", "")[:100]
    conversation = _current_chat()
    error, status = None, 200
    if _limited("chat-message", limit=CHAT_MESSAGES_PER_IP):
        error, status = "You've sent a lot of messages. Please wait 15 minutes and try again.", 429
    else:
        now = utcnow()
        viewer = chat_services.Viewer(
            customer_id=_viewer_customer_id(),
            guest_order_ids=_guest_order_ids(),
            ip_address=request.remote_addr,
        )
        try:
            begin_write(g.db)
            if conversation is None or conversation.status == "closed":
                conversation = chat_services.start_chat(g.db, customer_id=viewer.customer_id, now=now)
            turn = chat_services.handle_message(
                g.db,
                conversation,
                body,
                viewer=viewer,
                now=now,
                choice=choice,
                urls=URLS,
                secret=current_app.config["SECRET_KEY"],
            )
        except DomainError as exc:
            g.db.rollback()
            conversation = _current_chat()
            error, status = str(exc), 422
        else:
            g.db.commit()
            if viewer.customer_id is None:
                session["chats"] = [*_chat_ids()[-9:], conversation.id]
            if turn.proven_order_id is not None:
                token = make_guest_token(current_app.config["SECRET_KEY"], turn.proven_order_id)
                session["guest_orders"] = [*session.get("guest_orders", [])[-4:], token]
            body = ""
    if wants_fragment():
        return render_template(
            "portal/chat/_panel.html", **_panel(conversation, error=error, body=body)
        ), status
    if error is None:
        return redirect(url_for("portal.chat"), code=303)
    return render_template("portal/chat/page.html", **_panel(conversation, error=error, body=body)), status


@bp.get("/support/chat/<int:conversation_id>/messages")
def chat_messages(conversation_id: int) -> Any:
    """The chat's messages (the panel polls them: our team's replies appear without a reload)."""
    _staff_refused()
    try:
        conversation = chat_services.chat_for_viewer(
            g.db, conversation_id, customer_id=_viewer_customer_id(), allowed_ids=_chat_ids()
        )
    except NotFound:
        abort(404)
    return render_template("portal/chat/_messages.html", **_panel(conversation))
