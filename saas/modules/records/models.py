"""What every CRM record has (owner, audit columns, soft delete, search document),
the timeline of changes and the saved list views."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase


class RecordMixin:
    """Columns of every CRM record. Users live in ``public.users``: owner and author
    ids are plain numbers, no foreign key leaves the tenant schema."""

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Words, prefixes and CJK bigrams of the searchable fields (see records.search).
    search: Mapped[str | None] = mapped_column(TSVECTOR, deferred=True)

    def __getattr__(self, name: str):
        # A tenant's custom column (cf_...) is not mapped: read on first use, or with the
        # rest of a page (customization.meta.attach), and kept on the instance.
        if name.startswith("cf_"):
            from saas.modules.customization.meta import custom_value

            return custom_value(self, name)
        raise AttributeError(name)


def record_indexes(table: str, *extra: Index) -> tuple:
    """The indexes every record table has, plus ``extra``."""
    return (
        Index(f"ix_{table}_owner_id", "owner_id"),
        Index(f"ix_{table}_updated_at", "updated_at"),
        Index(f"ix_{table}_created_at", "created_at"),
        Index(f"ix_{table}_search", "search", postgresql_using="gin"),
        Index(f"ix_{table}_deleted_at", "deleted_at", postgresql_where="deleted_at IS NOT NULL"),
        *extra,
    )


class TimelineEntry(TenantBase):
    """Something that happened to a record: created, a field changed, a stage move..."""

    __tablename__ = "timeline"
    __table_args__ = (Index("ix_timeline_record", "object", "record_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    object: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(30))
    # "changes": {field: [old, new]} (display strings), or what the kind needs.
    data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class SavedView(TenantBase):
    """A named list filter of one user, or shared with the whole company."""

    __tablename__ = "saved_views"
    __table_args__ = (Index("ix_saved_views_object_user_id", "object", "user_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    object: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(BigInteger)
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    query: Mapped[str] = mapped_column(String(2000), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
