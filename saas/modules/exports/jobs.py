"""Export jobs: write a file (progress and cancelling through the ``exports`` row), the
hourly tick per tenant (purge expired files, start the day's scheduled exports) and a
scheduled run.

The file is written to a temporary file and kept in PostgreSQL in one transaction at
the end, so a worker killed half-way leaves no half file: the retry starts over.
Progress and the final state are committed in short units of work of their own, so
the browser sees them while the job's own transaction reads the records.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from rq import get_current_job
from sqlalchemy import select, update

from saas import tracked
from saas.db import current_tenant, db, session
from saas.jobs import enqueue_for_every_tenant, job
from saas.modules.exports import delivery, files, service
from saas.modules.exports.models import ACTIVE, Export
from saas.modules.records.registry import get
from saas.modules.workspace.service import settings

EXPORT_RETRIES = 2


def _retries_left() -> int:
    current = get_current_job()
    return (getattr(current, "retries_left", None) or 0) if current is not None else 0


def _set(export_id: int, **values) -> bool:
    """Update a running export at once; False if it is no longer running (cancelled)."""
    with db.scope(current_tenant()) as s:
        stmt = (
            update(Export)
            .where(Export.id == export_id, Export.status == "running")
            .values(**values)
            .returning(Export.id)
        )
        running = s.execute(stmt).first() is not None
        if values.get("status") in {"failed", "cancelled"} or not running:
            tracked.stop("export", export_id)  # over: nothing to put back on the queue
        else:
            tracked.beat("export", export_id)
        return running


def _claim(export_id: int) -> Export | None:
    """Mark the export running from the start (a retry writes the file again)."""
    with db.scope(current_tenant()) as s:
        export = s.execute(
            select(Export).where(Export.id == export_id, Export.status.in_(ACTIVE))
        ).scalar_one_or_none()
        if export is None:
            return None
        files.drop(export.id)
        export.status, export.done, export.total, export.error = "running", 0, None, None
        export.attempts += 1
        export.started_at = datetime.now(UTC)
        s.flush()
        return export


@job(queue="bulk", timeout=3600, retries=EXPORT_RETRIES)
def run_export(export_id: int) -> str:
    """Write an export's file, a batch at a time, and keep it for download."""
    export = _claim(export_id)
    if export is None:
        with db.scope(current_tenant()):
            tracked.stop("export", export_id)
        return "nothing to do"  # finished, cancelled, or not this tenant's
    # A fresh app context: nothing cached for another tenant's job (settings, locale).
    with current_app.app_context(), force_locale(export.locale):
        try:
            return _write(export)
        except files.Stopped:
            return "cancelled"
        except Exception as exc:
            left = _retries_left()
            _set(export_id, status="queued" if left else "failed", error=str(exc)[:500])
            raise


def _write(export: Export) -> str:
    viewer = service.viewer_of(export.user_id)
    try:
        otype = get(export.object)
    except KeyError:
        otype = None
    if viewer is None or otype is None:
        reason = (
            _("the person who asked for it is no longer a member")
            if viewer is None
            else _("this kind of record no longer exists")
        )
        _set(export.id, status="failed", error=reason, finished_at=datetime.now(UTC))
        return "failed"
    tz = settings().get("timezone", "UTC")
    stmt = service.statement(export, otype, viewer, tz)
    if not _set(export.id, total=files.count(otype, stmt)):
        return "cancelled"
    fields = files.columns(otype, export.fields)
    with tempfile.TemporaryFile() as out:
        rows = files.write(
            otype,
            stmt,
            fields,
            export.format,
            out,
            ZoneInfo(tz),
            progress=lambda done: _set(export.id, done=done),
        )
        return _finish(export.id, otype, out, rows)


def _finish(export_id: int, otype, out, rows: int) -> str:
    from saas.modules.notifications.service import notify

    with db.scope(current_tenant()) as s:
        export = s.execute(
            select(Export).where(Export.id == export_id, Export.status == "running")
        ).scalar_one_or_none()
        if export is None:
            return "cancelled"
        now = datetime.now(UTC)
        tracked.stop("export", export.id)
        export.size = files.store(export.id, out)
        export.status, export.done, export.total = "finished", rows, rows
        export.finished_at, export.expires_at = now, now + service.EXPIRY
        notify(
            [export.user_id],
            kind="export_finished",
            title=_("Your export of %(objects)s is ready", objects=str(otype.plural).lower()),
            body=ngettext(
                "%(num)s row. Download it within %(hours)s hours.",
                "%(num)s rows. Download it within %(hours)s hours.",
                rows,
                hours=int(service.EXPIRY.total_seconds() // 3600),
            ),
            url="/exports/",
            key=f"export:{export.id}",
        )
    return "finished"


# -- periodic --------------------------------------------------------------------------------


@job(queue="default", tenant=False)
def sweep_exports() -> int:
    """Hourly: one ``exports_tick`` per active tenant."""
    return enqueue_for_every_tenant(exports_tick)


@job(queue="default", timeout=600)
def exports_tick() -> dict:
    """Delete expired files and start the scheduled exports whose time has come today."""
    purged = service.purge_expired()
    runs = delivery.due_runs()
    for run_id in runs:
        tracked.start("export_run", run_id)
    return {"purged": purged, "runs": len(runs)}


@job(queue="bulk", timeout=3600, retries=delivery.RETRIES)
def run_schedule(run_id: int) -> str:
    """One day's run of a schedule; a failed delivery raises, and RQ tries again later."""
    with current_app.app_context():
        return delivery.run(run_id, _retries_left())


def _give_up_export(export_id: int, reason: str) -> None:
    """The reconciler tried too often: the export has failed."""
    export = session().get(Export, export_id)
    if export is not None and export.status in ACTIVE:
        export.status, export.error = "failed", reason
        export.finished_at = datetime.now(UTC)
        files.drop(export.id)


tracked.kind("export", run_export, give_up=_give_up_export)
tracked.kind("export_run", run_schedule, give_up=delivery.give_up)
