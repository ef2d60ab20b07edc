"""Writing the audit log. The service that performs a staff action (on an order, customer, return, stock,
shipment, outbox message...) calls `record_audit` itself, so the action is audited whoever calls it: console,
portal, API, CLI or job. Routes never write audit entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.security.roles import Actor


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
    """Append one audit entry (in the caller's transaction, so it lands only if the action does)."""
    entry = AuditEntry(
        actor_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
        ip_address=actor.ip_address,
        created_at=now,
    )
    session.add(entry)
    return entry
