"""The merchant's own wording of the customer emails: per notification kind, a subject and a paragraph before
and after the shipped text. A kind without a row, or a blank field, keeps the shipped default."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class EmailText(Base):
    """The editable texts of one email kind (templates/emails/<kind>.*)."""

    __tablename__ = "email_texts"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    intro: Mapped[str] = mapped_column(Text, default="")
    outro: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
