"""Long tenant jobs that must finish even if Redis loses them or their worker dies.

Redis may lose a queued job (a restart without persistence, a flush) and a worker
may die mid-job; what the job works on lives in PostgreSQL (an import's file and
position, an export's request). Such a job is *tracked*: a row in
``public.tracked_jobs`` with its kind, the id it works on, the id of its RQ job
and a heartbeat the job moves on as it goes. Every minute :func:`reconcile`
looks for rows whose heartbeat went quiet and whose job is no longer waiting in
Redis, and enqueues the job again; the job itself carries on from what it
committed (or starts over, if that is what it does). After :data:`MAX_ATTEMPTS`
the kind's ``give_up`` marks the work failed.

    tracked.kind("import", run_import, give_up=fail_import)   # once, at import time
    tracked.start("import", imp.id)     # in the unit of work that queues the work
    tracked.beat("import", imp.id)      # in each unit of work that moves it on
    tracked.stop("import", imp.id)      # in the unit of work that finishes it
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, func, select
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import Base, current_tenant, db, session
from saas.extensions import redis
from saas.jobs import enqueue, job

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # runs the reconciler starts for one piece of work before it gives up
WAITING = {"queued", "scheduled", "deferred"}


class TrackedJob(Base):
    """A long job in flight, per tenant (public schema, so the reconciler finds stalled
    ones without visiting every tenant)."""

    __tablename__ = "tracked_jobs"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # "import", "export"...
    ref_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job_id: Mapped[str | None] = mapped_column(String(64))
    heartbeat_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


@dataclass(frozen=True)
class Kind:
    run: Callable  # the tenant job, taking the ref id
    give_up: Callable[[int, str], None]  # (ref id, reason), in the tenant's unit of work


KINDS: dict[str, Kind] = {}


def kind(name: str, run: Callable, *, give_up: Callable[[int, str], None]) -> None:
    KINDS[name] = Kind(run, give_up)


def _key(name: str, ref_id: int) -> str:
    return f"{name}-{ref_id}-{uuid.uuid4().hex[:12]}"


def _mine(name: str, ref_id: int):
    return (
        TrackedJob.tenant_id == uuid.UUID(current_tenant().id),
        TrackedJob.kind == name,
        TrackedJob.ref_id == ref_id,
    )


def start(name: str, ref_id: int) -> None:
    """Track the work and enqueue its job (after the commit)."""
    key = _key(name, ref_id)
    stmt = insert(TrackedJob).values(
        tenant_id=uuid.UUID(current_tenant().id), kind=name, ref_id=ref_id, job_id=key
    )
    session().execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "kind", "ref_id"],
            set_={"heartbeat_at": func.now(), "attempts": 0, "job_id": key},
        )
    )
    enqueue(KINDS[name].run, ref_id, job_id=key)


def beat(name: str, ref_id: int) -> None:
    """The work moved on (in the unit of work that moved it)."""
    session().execute(
        TrackedJob.__table__.update().where(*_mine(name, ref_id)).values(heartbeat_at=func.now())
    )


def stop(name: str, ref_id: int) -> None:
    """The work is over: no more watching."""
    session().execute(TrackedJob.__table__.delete().where(*_mine(name, ref_id)))


def _waiting(job_key: str | None) -> bool:
    if not job_key:
        return False
    try:
        status = Job.fetch(job_key, connection=redis()).get_status(refresh=True)
    except NoSuchJobError:
        return False
    return status is not None and str(getattr(status, "value", status)) in WAITING


@job(queue="default", tenant=False)
def reconcile() -> int:
    """Periodic: enqueue again every stalled tracked job; returns how many were handled."""
    from saas.tenants.models import Tenant

    quiet = timedelta(seconds=current_app.config["TRACKED_STALE_SECONDS"])
    with db.scope() as s:
        rows = s.execute(
            select(TrackedJob, Tenant)
            .join(Tenant, Tenant.id == TrackedJob.tenant_id)
            .where(
                TrackedJob.heartbeat_at < datetime.now(UTC) - quiet,
                TrackedJob.kind.in_(list(KINDS)),
                Tenant.status == "active",
            )
            .with_for_update(of=TrackedJob, skip_locked=True)
        ).all()
        plans = []
        for row, tenant in rows:
            if _waiting(row.job_id):
                continue  # still in the queue, behind other work
            row.attempts += 1
            row.heartbeat_at = datetime.now(UTC)
            row.job_id = _key(row.kind, row.ref_id) if row.attempts <= MAX_ATTEMPTS else None
            plans.append((tenant.ref(), row.kind, row.ref_id, row.job_id))
    for tenant, name, ref_id, key in plans:
        with db.scope(tenant):
            if key is None:
                stop(name, ref_id)
                KINDS[name].give_up(ref_id, f"stopped after {MAX_ATTEMPTS} attempts")
                continue
            log.warning("re-enqueueing stalled %s %s of %s", name, ref_id, tenant.slug)
            enqueue(KINDS[name].run, ref_id, job_id=key)
    return len(plans)
