"""The worker's leader lease and heartbeat, kept in the database so several workers can coordinate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class WorkerLease(Base):
    """Who runs the scheduled jobs now (`holder`), until when, and when it last beat."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
