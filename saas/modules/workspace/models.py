"""Per-tenant settings and the tenant's own activity log (tenant schema)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase

DEFAULT_SETTINGS = {
    "currency": "USD",
    "locale": "en",
    "timezone": "UTC",
    "date_format": "YYYY-MM-DD",
    # Customer-care dates: contacts' owners are notified on their contacts' birthdays.
    "birthday_reminders": False,
}


class Setting(TenantBase):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[object] = mapped_column(JSONB)


class Event(TenantBase):
    """Something that happened in the tenant, shown to its admins."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
