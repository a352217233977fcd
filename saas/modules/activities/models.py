"""Activities (tenant schema). The owner is the assignee."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase
from saas.modules.records.models import RecordMixin, record_indexes


class Activity(RecordMixin, TenantBase):
    __tablename__ = "activities"
    __table_args__ = record_indexes(
        "activities",
        Index("ix_activities_related", "related_object", "related_id"),
        Index("ix_activities_due_at", "due_at"),
        Index("ix_activities_remind_at", "remind_at", postgresql_where="reminded_at IS NULL"),
    )

    kind: Mapped[str] = mapped_column(String(10), default="task", server_default="task")
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    priority: Mapped[str | None] = mapped_column(String(10))
    remind_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The record it is about: an object name ("deal") and that record's id.
    related_object: Mapped[str | None] = mapped_column(String(40))
    related_id: Mapped[int | None] = mapped_column(BigInteger)
