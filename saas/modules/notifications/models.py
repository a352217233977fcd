"""Notifications of a tenant's users (tenant schema; user ids point at public.users)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Index, String, Text, func, text
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
        # What the daily digest still has to send: small, rows leave it once sent or read.
        Index(
            "ix_notifications_digest_pending",
            "user_id",
            "created_at",
            postgresql_where=text("channel = 'digest' AND emailed_at IS NULL AND read_at IS NULL"),
        ),
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
    # How it was delivered, chosen from the user's preference when it was created:
    # "email" (e-mailed at once), "digest" (in the next daily e-mail) or "in_app".
    channel: Mapped[str] = mapped_column(String(10), default="email", server_default="email")


class NotificationPreference(TenantBase):
    """How one user wants one kind of notification; no row means the default (e-mail)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        Index("uq_notification_preferences_user_id_kind", "user_id", "kind", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))


class NotificationSweep(TenantBase):
    """A daily sweep (birthdays) claimed for a day of the tenant: it runs once that day."""

    __tablename__ = "notification_sweeps"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
