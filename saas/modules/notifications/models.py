"""Notifications of a tenant's users (tenant schema; user ids point at public.users)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase


class Notification(TenantBase):
    """Something one user should know about, shown under the bell and possibly e-mailed."""

    __tablename__ = "notifications"
    __table_args__ = (
        # Exactly once: the same event (key) never notifies the same user twice.
        Index(
            "uq_notifications_user_id_key",
            "user_id",
            "key",
            unique=True,
            postgresql_where=text("key IS NOT NULL"),
        ),
        # The bell's unread count and the newest-first list.
        Index("ix_notifications_user_id_read_at_id", "user_id", "read_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    # A path inside the tenant app, relative to /app/<slug> (e.g. "/deals/42"), or "".
    url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
