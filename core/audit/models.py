"""The audit log: every staff action (orders, customers, stock, returns, users, settings) and every sign-in,
with who, when, from where, on what, and the before/after. Append-only: the ORM refuses to change or delete an
entry and a database trigger refuses UPDATE and DELETE; each entry is chained to the one before by hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_entity", "entity_type", "entity_id"),
        Index("ix_audit_entries_action", "action"),
        Index("ix_audit_entries_actor_label", "actor_label"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column()
    after: Mapped[dict[str, Any] | None] = mapped_column()
    ip_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    prev_hash: Mapped[str] = mapped_column(String(64))  # the hash of the entry before (chain.GENESIS_HASH)
    hash: Mapped[str] = mapped_column(String(64))  # chain.entry_hash of this entry's fields and prev_hash


class AuditLogIsAppendOnly(Exception):
    """Code tried to change or delete an audit entry."""


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(*_args: Any) -> None:
    raise AuditLogIsAppendOnly("audit entries can't be changed")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(*_args: Any) -> None:
    raise AuditLogIsAppendOnly("audit entries can't be deleted")
