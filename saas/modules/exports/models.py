"""Exports, their files and the daily scheduled exports (tenant schema).

A file is kept in PostgreSQL (``export_chunks``, about 1 MB a row) rather than on a
disk: any web process can then serve it, whichever worker wrote it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase

# queued -> running -> finished -> expired (file purged); or failed, or cancelled.
ACTIVE = ("queued", "running")


class Export(TenantBase):
    """One file of one object's records: a list as someone saw it, or a scheduled run's."""

    __tablename__ = "exports"
    __table_args__ = (
        Index("ix_exports_user_id_id", "user_id", "id"),
        Index("ix_exports_expires_at", "expires_at"),  # the hourly purge
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)  # who asked (public.users id)
    object: Mapped[str] = mapped_column(String(40))
    # The list's query string ("me" already replaced by the user's id), "" for everything.
    query: Mapped[str] = mapped_column(String(2000), default="", server_default="")
    # Field names of a scheduled export; None: every field, as the list has them.
    fields: Mapped[list | None] = mapped_column(JSONB)
    format: Mapped[str] = mapped_column(String(4))  # csv, xlsx
    locale: Mapped[str] = mapped_column(String(10), default="en", server_default="en")
    status: Mapped[str] = mapped_column(String(10), default="queued", server_default="queued")
    total: Mapped[int | None] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    size: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    schedule_run_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ExportChunk(TenantBase):
    """A piece of an export's file, in order of ``seq``."""

    __tablename__ = "export_chunks"

    export_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("exports.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ExportSchedule(TenantBase):
    """A daily export of chosen objects and fields, POSTed to a URL or kept for download."""

    __tablename__ = "export_schedules"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # {"contact": ["first_name", "cf_tier", ...], ...}: objects and their columns, in order.
    objects: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    format: Mapped[str] = mapped_column(String(4), default="csv", server_default="csv")
    hour: Mapped[int] = mapped_column(Integer, default=6, server_default="6")  # tenant time
    delivery: Mapped[str] = mapped_column(String(10), default="download", server_default="download")
    url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    secret: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ExportRun(TenantBase):
    """One day's run of a schedule: at most one per schedule and day (a unique index)."""

    __tablename__ = "export_runs"
    __table_args__ = (
        Index("ix_export_runs_schedule_id_run_on", "schedule_id", "run_on", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("export_schedules.id", ondelete="CASCADE")
    )
    run_on: Mapped[date] = mapped_column(Date)  # the tenant's date it ran for
    status: Mapped[str] = mapped_column(String(10), default="queued", server_default="queued")
    rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    http_status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    # {"<object>": {"rows": n, "status": 200, "export_id": id, "error": "..."}, ...}
    detail: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
