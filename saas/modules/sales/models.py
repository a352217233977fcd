"""Products, price lists, quotes, orders and returns (tenant schema).

Money is ``Numeric``: line and document totals are computed with ``Decimal``
in :mod:`saas.modules.sales.totals` and stored, so lists and exports read them
without recomputing.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase
from saas.modules.records.models import RecordMixin, record_indexes

MONEY = Numeric(14, 2)
QTY = Numeric(12, 3)
RATE = Numeric(6, 3)


class Product(RecordMixin, TenantBase):
    __tablename__ = "products"
    __table_args__ = record_indexes(
        "products",
        Index("uq_products_code", "code", unique=True, postgresql_where="deleted_at IS NULL"),
    )

    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(60))
    category: Mapped[str | None] = mapped_column(String(100))
    unit: Mapped[str | None] = mapped_column(String(20))
    unit_price: Mapped[Decimal] = mapped_column(MONEY, default=0, server_default="0")
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    tax_rate: Mapped[Decimal] = mapped_column(RATE, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    description: Mapped[str | None] = mapped_column(Text)


class PriceList(TenantBase):
    __tablename__ = "price_lists"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")


class PriceListItem(TenantBase):
    __tablename__ = "price_list_items"
    __table_args__ = (UniqueConstraint("price_list_id", "product_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    price_list_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("price_lists.id", ondelete="CASCADE")
    )
    product_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    price: Mapped[Decimal] = mapped_column(MONEY)


class DocumentMixin(RecordMixin):
    """What quotes and orders share: a number, the customer, currency and totals."""

    number: Mapped[str | None] = mapped_column(String(30))
    subject: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    subtotal: Mapped[Decimal] = mapped_column(MONEY, default=0, server_default="0")
    discount_total: Mapped[Decimal] = mapped_column(MONEY, default=0, server_default="0")
    tax_total: Mapped[Decimal] = mapped_column(MONEY, default=0, server_default="0")
    total: Mapped[Decimal] = mapped_column(MONEY, default=0, server_default="0")
    notes: Mapped[str | None] = mapped_column(Text)


class LineMixin:
    """A line of a quote or an order."""

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(QTY, default=1, server_default="1")
    unit_price: Mapped[Decimal] = mapped_column(MONEY, default=0, server_default="0")
    discount_pct: Mapped[Decimal] = mapped_column(RATE, default=0, server_default="0")
    tax_pct: Mapped[Decimal] = mapped_column(RATE, default=0, server_default="0")
    net: Mapped[Decimal] = mapped_column(MONEY, default=0, server_default="0")
    tax: Mapped[Decimal] = mapped_column(MONEY, default=0, server_default="0")
    total: Mapped[Decimal] = mapped_column(MONEY, default=0, server_default="0")


class Quote(DocumentMixin, TenantBase):
    __tablename__ = "quotes"
    __table_args__ = record_indexes(
        "quotes",
        Index("ix_quotes_account_id", "account_id"),
        Index("ix_quotes_contact_id", "contact_id"),
        Index("ix_quotes_deal_id", "deal_id"),
    )

    account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    deal_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("deals.id", ondelete="SET NULL")
    )
    price_list_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("price_lists.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(12), default="draft", server_default="draft")
    valid_until: Mapped[date | None] = mapped_column(Date)
    order_id: Mapped[int | None] = mapped_column(BigInteger)


class QuoteLine(LineMixin, TenantBase):
    __tablename__ = "quote_lines"
    __table_args__ = (Index("ix_quote_lines_quote_id", "quote_id", "position"),)

    quote_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("quotes.id", ondelete="CASCADE"))
    product_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("products.id", ondelete="SET NULL")
    )


class Order(DocumentMixin, TenantBase):
    __tablename__ = "orders"
    __table_args__ = record_indexes(
        "orders",
        Index("ix_orders_account_id", "account_id"),
        Index("ix_orders_status", "status"),
    )

    account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    quote_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("quotes.id", ondelete="SET NULL")
    )
    deal_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("deals.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft")
    ordered_on: Mapped[date | None] = mapped_column(Date)
    shipped_on: Mapped[date | None] = mapped_column(Date)
    delivered_on: Mapped[date | None] = mapped_column(Date)
    refunded_total: Mapped[Decimal] = mapped_column(MONEY, default=0, server_default="0")


class OrderLine(LineMixin, TenantBase):
    __tablename__ = "order_lines"
    __table_args__ = (Index("ix_order_lines_order_id", "order_id", "position"),)

    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id", ondelete="CASCADE"))
    product_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("products.id", ondelete="SET NULL")
    )
    returned_quantity: Mapped[Decimal] = mapped_column(QTY, default=0, server_default="0")


class OrderReturn(TenantBase):
    """Goods sent back against one order line, with the refund."""

    __tablename__ = "order_returns"
    __table_args__ = (Index("ix_order_returns_order_id", "order_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id", ondelete="CASCADE"))
    order_line_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("order_lines.id", ondelete="CASCADE")
    )
    quantity: Mapped[Decimal] = mapped_column(QTY)
    refund: Mapped[Decimal] = mapped_column(MONEY, default=0, server_default="0")
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(BigInteger)
