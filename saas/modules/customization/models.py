"""What a tenant's admins shape without code: custom field definitions, the layout
of each object, and declarative validation rules (tenant schema).

A custom field's values live in a real column ``cf_<name>`` of the object's
table; the definition row here is created in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase


class CustomField(TenantBase):
    __tablename__ = "custom_fields"
    __table_args__ = (Index("ix_custom_fields_object_name", "object", "name", unique=True),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    object: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(63))  # the column: cf_...
    label: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    required: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    unique: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    indexed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # "none", "building" (a worker builds it without locking writes), "ready", "failed"
    index_state: Mapped[str] = mapped_column(String(20), default="none", server_default="none")
    help: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # A form value (string) parsed like any input; None for no default.
    default: Mapped[str | None] = mapped_column(String(500))
    # Type options: max_length, places, target (lookup), choices [[key, label], ...],
    # retired [key, ...].
    options: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Layout(TenantBase):
    """One object's record page (sections and field order) and list columns."""

    __tablename__ = "layouts"

    object: Mapped[str] = mapped_column(String(40), primary_key=True)
    # [[key, label], ...]: the record page's sections, in order
    sections: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    # [[field, section], ...]: every placed field in order; fields not named follow
    fields: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    # [field, ...]: the list view's columns, in order (empty: the object's defaults)
    columns: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")


class ValidationRule(TenantBase):
    """A condition every write of an object must meet, and what the user is told."""

    __tablename__ = "validation_rules"
    __table_args__ = (Index("ix_validation_rules_object", "object", "position"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    object: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # {"match": "all"|"any", "conditions": [{"field", "op", "value" | "other"}]}:
    # the record is refused when the condition holds (like Salesforce's error condition).
    condition: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    field: Mapped[str | None] = mapped_column(String(63))  # where the message is shown
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
