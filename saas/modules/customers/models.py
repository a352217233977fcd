"""Accounts and contacts (tenant schema)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase
from saas.modules.records.models import RecordMixin, record_indexes


class Account(RecordMixin, TenantBase):
    """A customer company."""

    __tablename__ = "accounts"
    __table_args__ = record_indexes(
        "accounts",
        Index("ix_accounts_name", text("lower(name)")),
        Index("ix_accounts_domain", "domain"),
        Index("ix_accounts_parent_id", "parent_id"),
    )

    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(40))
    size: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(100))
    website: Mapped[str | None] = mapped_column(String(200))
    # The website's host without "www.": how leads and imports find their account.
    domain: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    street: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(100))
    lifecycle_stage: Mapped[str | None] = mapped_column(String(20))
    key_account: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    parent_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="SET NULL")
    )
    description: Mapped[str | None] = mapped_column(Text)


class Contact(RecordMixin, TenantBase):
    __tablename__ = "contacts"
    __table_args__ = record_indexes(
        "contacts",
        Index("ix_contacts_email", "email"),
        Index("ix_contacts_account_id", "account_id"),
        Index("ix_contacts_last_name", "last_name", "first_name", "id"),
        # Live rows only: "my contacts" sorted by name, and their count (capped at
        # 10,001) as an index-only scan instead of reading 10,001 rows of the table.
        Index(
            "ix_contacts_owner_id_last_name",
            "owner_id",
            "last_name",
            "first_name",
            "id",
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="SET NULL")
    )
    title: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    mobile: Mapped[str | None] = mapped_column(String(50))
    birthday: Mapped[date | None] = mapped_column(Date)
    customer_since: Mapped[date | None] = mapped_column(Date)
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)

    @property
    def full_name(self) -> str:
        return f"{self.first_name or ''} {self.last_name}".strip()
