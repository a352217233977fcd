"""Pipelines, stages, deals and their stage history (tenant schema)."""

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
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase
from saas.modules.records.models import RecordMixin, record_indexes

STAGE_KINDS = ("open", "won", "lost")


class Pipeline(TenantBase):
    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class Stage(TenantBase):
    __tablename__ = "stages"
    __table_args__ = (Index("ix_stages_pipeline_id_position", "pipeline_id", "position"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("pipelines.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    probability: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    kind: Mapped[str] = mapped_column(String(10), default="open", server_default="open")


class Deal(RecordMixin, TenantBase):
    __tablename__ = "deals"
    __table_args__ = record_indexes(
        "deals",
        Index("ix_deals_stage_id_updated_at", "stage_id", "updated_at"),
        Index("ix_deals_pipeline_id", "pipeline_id"),
        Index("ix_deals_account_id", "account_id"),
        Index("ix_deals_contact_id", "contact_id"),
        Index("ix_deals_close_date", "close_date"),
    )

    name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    pipeline_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("pipelines.id"))
    stage_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("stages.id"))
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    probability: Mapped[int | None] = mapped_column(Integer)
    close_date: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lost_reason: Mapped[str | None] = mapped_column(String(40))
    competitors: Mapped[list[str]] = mapped_column(
        ARRAY(String(100)), default=list, server_default="{}"
    )
    source: Mapped[str | None] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    stage_entered_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class StageChange(TenantBase):
    """A deal's move from one stage to another: when, by whom, how long it sat."""

    __tablename__ = "deal_stage_changes"
    __table_args__ = (Index("ix_deal_stage_changes_deal_id", "deal_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    deal_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("deals.id", ondelete="CASCADE"))
    from_stage_id: Mapped[int | None] = mapped_column(BigInteger)
    to_stage_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    days_in_stage: Mapped[int | None] = mapped_column(Integer)


class DealTotal(TenantBase):
    """Live deals summed per stage, owner and currency, kept by database triggers on
    ``deals`` (see ``deals/totals.py``) so a board of 200,000 deals reads a few rows."""

    __tablename__ = "deal_totals"
    __table_args__ = (Index("ix_deal_totals_pipeline_id", "pipeline_id"),)

    stage_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    owner_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # 0: no owner
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(BigInteger)
    deals: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 2), default=0, server_default="0")
    weighted: Mapped[Decimal] = mapped_column(Numeric(24, 4), default=0, server_default="0")
