"""The import's jobs, and the reconciler that puts stalled imports back on the queue.

Redis may lose a queued job (a restart without persistence, a flush) and a worker
may die mid-import; the import itself lives in PostgreSQL, with a heartbeat in
``public.tracked_jobs``. Every minute the reconciler looks for imports whose
heartbeat went quiet and whose job is no longer waiting in Redis, and enqueues
them again; the engine carries on from the last committed batch.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import select

from saas.db import db
from saas.extensions import redis
from saas.jobs import enqueue, job
from saas.modules.imports import engine, revert
from saas.modules.imports.models import TrackedJob

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # runs of one import the reconciler starts before it gives up
WAITING = {"queued", "scheduled", "deferred"}


@job(queue="imports", timeout=6 * 3600, retries=3)
def run_import(import_id: int) -> str:
    """Bring an import's file in (from where it stands)."""
    return engine.run(import_id)


@job(queue="imports", timeout=6 * 3600, retries=3)
def revert_import(import_id: int) -> str:
    """Undo an import (from where the undoing stands)."""
    return revert.run(import_id)


RUNNERS = {"import": run_import, "revert": revert_import}


def job_id(kind: str, ref_id: int) -> str:
    return f"{kind}-{ref_id}-{uuid.uuid4().hex[:12]}"


def _waiting(job_key: str | None) -> bool:
    if not job_key:
        return False
    try:
        status = Job.fetch(job_key, connection=redis()).get_status(refresh=True)
    except NoSuchJobError:
        return False
    return status is not None and str(getattr(status, "value", status)) in WAITING


@job(queue="default", tenant=False)
def reconcile_imports() -> int:
    """Periodic: enqueue again every stalled import or revert; returns how many."""
    from saas.tenants.models import Tenant

    stale = datetime.now(UTC) - timedelta(seconds=current_app.config["IMPORT_STALE_SECONDS"])
    with db.scope() as session:
        rows = session.execute(
            select(TrackedJob, Tenant)
            .join(Tenant, Tenant.id == TrackedJob.tenant_id)
            .where(TrackedJob.heartbeat_at < stale, Tenant.status == "active")
            .with_for_update(of=TrackedJob, skip_locked=True)
        ).all()
        plans = []
        for tracked, tenant in rows:
            if _waiting(tracked.job_id):
                continue  # still in the queue, behind other work
            tracked.attempts += 1
            tracked.heartbeat_at = datetime.now(UTC)
            tracked.job_id = (
                job_id(tracked.kind, tracked.ref_id) if tracked.attempts <= MAX_ATTEMPTS else None
            )
            plans.append((tenant.ref(), tracked.kind, tracked.ref_id, tracked.job_id))
    for tenant, kind, ref_id, key in plans:
        with db.scope(tenant):
            if key is None:
                imp = engine.locked(ref_id)
                if imp is not None and imp.status in {"queued", "running", "reverting"}:
                    imp.error = f"Stopped after {MAX_ATTEMPTS} attempts; the worker log says why."
                    engine.finish(imp, "failed")
                continue
            log.warning("re-enqueueing stalled %s %s of %s", kind, ref_id, tenant.slug)
            enqueue(RUNNERS[kind], ref_id, job_id=key)
    return len(plans)
