"""Webhook subscriptions, their outbox of deliveries and each delivery's attempts (tenant
schema).

A delivery row is written in the transaction of the change it reports (the outbox), so
a change that rolls back sends nothing and one that commits is never lost: the worker
and the periodic sweep send what PostgreSQL says is due, whatever Redis remembers.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase

# pending (due at next_attempt_at, or retrying) -> delivered | failed (gave up after 24 h)
STATUSES = ("pending", "delivered", "failed")


class WebhookSubscription(TenantBase):
    """An endpoint of the tenant's and the events it wants."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200), default="", server_default="")
    secret: Mapped[str] = mapped_column(String(80))
    # After a rotation the old secret signs too, until previous_until (receivers switch).
    previous_secret: Mapped[str | None] = mapped_column(String(80))
    previous_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Event names ("contact.created"), "*.created" for every object's, or "*" for all.
    events: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    # Object names the events are limited to; empty: every object.
    objects: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # The first failed attempt since the last success: a day of only failures disables.
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class WebhookDelivery(TenantBase):
    """One event for one subscription; its id orders the events of a record."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_subscription_id_id", "subscription_id", "id"),
        # What is due, and what an event of the same record waits for.
        Index(
            "ix_webhook_deliveries_pending",
            "subscription_id",
            "object",
            "record_id",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_deliveries_created_at", "created_at"),  # the 30-day purge
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(String(80))
    object: Mapped[str | None] = mapped_column(String(40))
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)  # the JSON sent, the same on every attempt
    status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # Retries end 24 hours after this (the first attempt, or a redelivery).
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set while a worker sends it (next_attempt_at is then the lease's end).
    lease: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttempt(TenantBase):
    """One POST of a delivery: when, the answer and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status_code: Mapped[int | None] = mapped_column(Integer)
    ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
