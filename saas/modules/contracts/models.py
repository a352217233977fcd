"""Contracts and licences (tenant schema)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase
from saas.modules.records.models import RecordMixin, record_indexes


class Contract(RecordMixin, TenantBase):
    __tablename__ = "contracts"
    __table_args__ = record_indexes(
        "contracts",
        Index("ix_contracts_account_id", "account_id"),
        Index("ix_contracts_end_date", "end_date"),
    )

    number: Mapped[str | None] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    order_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(12), default="draft", server_default="draft")
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    renewal_notice_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    renewal_reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    terms: Mapped[str | None] = mapped_column(Text)


class Licence(RecordMixin, TenantBase):
    """A licence key for one customer and one product, with seats and an expiry."""

    __tablename__ = "licences"
    __table_args__ = record_indexes(
        "licences",
        Index("uq_licences_key", "key", unique=True),
        Index(
            "uq_licences_account_id_product_id",
            "account_id",
            "product_id",
            unique=True,
            postgresql_where="deleted_at IS NULL",
        ),
        Index("ix_licences_contract_id", "contract_id"),
        Index("ix_licences_expires_on", "expires_on"),
    )

    key: Mapped[str] = mapped_column(String(64))
    contract_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("contracts.id", ondelete="SET NULL")
    )
    account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="SET NULL")
    )
    product_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("products.id", ondelete="SET NULL")
    )
    seats: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    expires_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="active", server_default="active")
    notes: Mapped[str | None] = mapped_column(Text)
