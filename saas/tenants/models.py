"""Platform tables that describe tenants."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import Base, TenantRef

STATUSES = ("active", "suspended", "deleted")


def schema_name_for(tenant_id: uuid.UUID) -> str:
    """A tenant's schema is named from its stable id, never from user input."""
    return f"t_{tenant_id.hex}"


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (
        # Sign-up looks up slugs by prefix ("acme-%").
        Index("ix_tenants_slug_pattern", "slug", postgresql_ops={"slug": "varchar_pattern_ops"}),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    schema_name: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    plan: Mapped[str] = mapped_column(String(40), default="trial", server_default="trial")
    schema_version: Mapped[str | None] = mapped_column(String(64), index=True)
    migration_error: Mapped[str | None] = mapped_column(Text)
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    purge_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped with every change of the tenant's custom fields, layouts and rules: the
    # key of each process's cache of them (saas.modules.customization.meta).
    meta_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def ref(self) -> TenantRef:
        return TenantRef(
            id=str(self.id),
            slug=self.slug,
            schema_name=self.schema_name,
            name=self.name,
            status=self.status,
            plan=self.plan,
            meta_version=self.meta_version or 0,
        )


# Sign-up checks company names case-insensitively.
Index("ix_tenants_name_lower", func.lower(Tenant.name))


class PooledSchema(Base):
    """A tenant schema built ahead of time, claimed at sign-up."""

    __tablename__ = "schema_pool"

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    schema_name: Mapped[str] = mapped_column(String(63), unique=True)
    schema_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditLog(Base):
    """Platform audit log: who did what to which tenant, from where."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("public.tenants.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("public.users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(80))
    ip: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
