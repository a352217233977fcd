"""Workflow rules, their run history and the firings of time-based rules (tenant schema)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Index, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase


class WorkflowRule(TenantBase):
    """When (trigger) and if (conditions) a record of ``object`` gets what (actions).

    The JSON columns hold canonical values (stage ids, choice keys, ISO dates), so a
    rule survives a stage or choice being renamed; see ``workflows.definition``.
    """

    __tablename__ = "workflow_rules"
    __table_args__ = (Index("ix_workflow_rules_object_position", "object", "position"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    object: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # run order
    # {"kind": "created" | "updated" | "field_changed" | "deleted" | "date" | "schedule", ...}
    trigger: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    match: Mapped[str] = mapped_column(String(3), default="all", server_default="all")
    # [{"field", "op", "value"}, ...]
    conditions: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    # [{"kind": "update" | "task" | "assign" | "notify" | "webhook", ...}, ...], in order
    actions: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # A "schedule" rule's last run: the next one is due at the next slot after it.
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WorkflowRun(TenantBase):
    """One rule that matched one record (or errored, or was stopped by the depth limit).

    Written only when a rule matched: evaluations that do not match leave no row.
    ``detail``: why it matched, what each action changed or sent, errors.
    """

    __tablename__ = "workflow_runs"
    __table_args__ = (
        Index("ix_workflow_runs_rule_id_id", "rule_id", "id"),
        Index("ix_workflow_runs_object_record_id_id", "object", "record_id", "id"),
        Index("ix_workflow_runs_at", "at"),  # the retention sweep
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rule_id: Mapped[int] = mapped_column(BigInteger)  # no foreign key: history outlives a rule
    object: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    event: Mapped[str] = mapped_column(String(20))  # created, updated, deleted, date, schedule
    status: Mapped[str] = mapped_column(String(10))  # ok, error, stopped, dry
    detail: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class WorkflowFiring(TenantBase):
    """A "date" rule fired for a record and a due date: never again for that pair."""

    __tablename__ = "workflow_firings"

    rule_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    record_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    due_on: Mapped[date] = mapped_column(Date, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
