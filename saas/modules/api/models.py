"""API keys (public schema): the tenant of an API request is the tenant of its key."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import Base


class ApiKey(Base):
    """A key is shown once; only the SHA-256 of the whole token is kept. The prefix
    (``crm_<prefix>_…``) finds the row and tells keys apart in the admin list."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("public.tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    # {"*": "read" | "write"} or per object {"contact": "write", "deal": "read"}.
    scopes: Mapped[dict] = mapped_column(JSONB, default=dict)
    # A key bound to a user sees and does only what that user may (None: the whole tenant).
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("public.users.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("public.users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Rotation: the key this one replaced (kept working until its grace period ends).
    replaces_id: Mapped[int | None] = mapped_column(
        ForeignKey("public.api_keys.id", ondelete="SET NULL")
    )
