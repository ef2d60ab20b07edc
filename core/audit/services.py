"""Writing the audit log. The service that performs a staff action (on an order, customer, return, stock,
shipment, user, setting...) calls `record_audit` itself, so the action is audited whoever calls it: console,
portal, API, CLI or job. Routes never write audit entries.

Each entry is chained to the one before (chain.py). Writers serialise on the chain's head so that two
transactions never chain to the same entry: on PostgreSQL a transaction-scoped advisory lock, held until
commit or rollback; SQLite has one writer at a time already (flushing the action's own writes takes the
write lock before the head is read)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from core.audit.chain import GENESIS_HASH, entry_hash, jsonable
from core.audit.models import AuditEntry
from core.security.roles import Actor

# pg_advisory_xact_lock key of the audit chain's head ("audit" in ASCII).
CHAIN_LOCK_KEY = 0x6175646974


def lock_chain_head(session: Session | Connection) -> str:
    """Take the chain's write lock for this transaction and return the hash of its last entry."""
    bind = session.get_bind() if isinstance(session, Session) else session
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    head = session.execute(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).scalar()
    return head or GENESIS_HASH


def chain_entries(session: Session | Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chain audit rows about to be inserted in bulk (seeding, identity back-fill): each gets its prev_hash
    and hash, in id order when the rows carry ids (the order the chain is read back in), else in the order
    given, after the chain's current head, whose lock is taken for the transaction. Returns the rows."""
    if any("id" in row for row in rows):
        rows.sort(key=lambda row: row["id"])
    prev_hash = lock_chain_head(session)
    for row in rows:
        row["before"], row["after"] = jsonable(row.get("before")), jsonable(row.get("after"))
        row["entity_id"] = str(row["entity_id"])
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = entry_hash(row, prev_hash)
    return rows


def record_audit(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: int | str,
    *,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit entry (in the caller's transaction, so it lands only if the action does): who (the
    actor and their IP), when, what (action, entity type and id) and the state before and after."""
    fields: dict[str, Any] = {
        "actor_id": actor.user_id,
        "actor_label": actor.label[:200],
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "before": jsonable(before),
        "after": jsonable(after),
        "ip_address": actor.ip_address,
        "created_at": now,
    }
    session.flush()  # the action's own writes first: on SQLite that takes the write lock
    prev_hash = lock_chain_head(session)
    entry = AuditEntry(**fields, prev_hash=prev_hash, hash=entry_hash(fields, prev_hash))
    session.add(entry)
    session.flush()
    return entry
