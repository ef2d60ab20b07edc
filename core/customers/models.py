"""Unified customers, the per-channel identities that make them up, merges, and CRM notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow


class Customer(Base):
    """The one person behind orders on several channels."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(
        String(254), index=True
    )  # lower-case; the person's real address
    phone: Mapped[str | None] = mapped_column(String(40), index=True)  # E.164 where known
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    marketing_opt_out: Mapped[bool] = mapped_column(default=False)
    notification_prefs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    deletion_requested_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    identities: Mapped[list[Identity]] = relationship(back_populates="customer", order_by="Identity.id")


class Identity(Base):
    """How one channel knows a customer: its buyer id, name, email, phone and address as given."""

    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    external_id: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(40), index=True)
    address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    matched_by: Mapped[str] = mapped_column(String(32), default="new")  # new, email, phone, fuzzy, manual
    match_score: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="identities")


class CustomerMerge(Base):
    """A recorded merge of one customer into another; undone by moving the listed identities back."""

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    target_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    identity_ids: Mapped[list[Any]] = mapped_column(default=list)
    # Rows moved from source to target besides identities, by table: {"orders": [ids], ...}; for the undo.
    moved_rows: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str] = mapped_column(String(300), default="")
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None]


class CrmNote(Base):
    """A staff note on a customer, shown beside every conversation with them; pinned notes come first.
    An edit keeps the text it replaces as a CrmNoteVersion."""

    __tablename__ = "crm_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_label: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]
    edited_by: Mapped[str | None] = mapped_column(String(200))

    versions: Mapped[list[CrmNoteVersion]] = relationship(
        order_by="CrmNoteVersion.id.desc()", cascade="all, delete-orphan"
    )


class CrmNoteVersion(Base):
    """A note's text as it was before an edit: who wrote that text and when, and when it was replaced."""

    __tablename__ = "crm_note_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("crm_notes.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    written_by: Mapped[str] = mapped_column(String(200), default="")
    written_at: Mapped[datetime]
    replaced_at: Mapped[datetime]


class IdentityMatchKey(Base):
    """One blocking key of an identity (see core.customers.matching.blocking_keys): candidates for fuzzy
    matching are the identities sharing a key, found through this table's index."""

    __tablename__ = "identity_match_keys"

    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(160), primary_key=True)

    __table_args__ = (Index("ix_identity_match_keys_key", "key"),)


class CustomerMatchSuggestion(Base):
    """Two customers who may be one person, for staff to merge or dismiss; a dismissed pair is never
    suggested again. The pair is stored lower id first."""

    __tablename__ = "customer_match_suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    other_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    score: Mapped[float]
    reasons: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open, merged, dismissed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("customer_id", "other_customer_id"),)
