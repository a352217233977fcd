"""Scheduled daily exports: which are due, and one run.

A run exists once per schedule and day (a unique index on the tenant's date), so
however often the hourly tick comes, each schedule runs once a day. A run writes one
file per object (every record: a schedule feeds another system, and only admins set
one up) and either keeps it for download or POSTs it to the schedule's URL:

    POST <url>
    Content-Type: text/csv; charset=utf-8  (or the XLSX type)
    X-CRM-Export: <schedule id>.<date>.<object>   (the same on every retry: dedupe by it)
    X-CRM-Object: contact
    X-CRM-Rows: 1234
    X-CRM-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body, with the secret>

A failed delivery is retried with backoff (objects already delivered are not sent
again); every attempt is kept in the run's history.
"""

from __future__ import annotations

import tempfile
import time as clock
from datetime import UTC, datetime
from urllib.error import HTTPError, URLError
from urllib.request import Request
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from saas import tracked
from saas.db import current_tenant, db, session
from saas.modules.exports import files
from saas.modules.exports.models import Export, ExportRun, ExportSchedule
from saas.modules.records import service as records
from saas.modules.records.access import SYSTEM
from saas.modules.records.registry import get
from saas.modules.workspace.service import settings
from saas.outbound import blocked, opener, signature

RETRIES = 5  # after the first attempt; RQ waits 10 s, 1 min, 5 min, 15 min, 1 h
TIMEOUT = 60


class DeliveryFailed(RuntimeError):
    """Some files were not delivered: RQ tries the run again later."""


def due_runs(now: datetime | None = None) -> list[int]:
    """Create today's run of every active schedule whose hour has come; returns their ids."""
    zone = ZoneInfo(settings().get("timezone", "UTC"))
    now = (now or datetime.now(UTC)).astimezone(zone)
    created = []
    schedules = session().execute(select(ExportSchedule).where(ExportSchedule.active.is_(True)))
    for schedule in schedules.scalars():
        slot = now.replace(hour=schedule.hour, minute=0, second=0, microsecond=0)
        if now < slot or schedule.created_at > slot:
            continue  # not yet today, or made after today's time: from tomorrow on
        run_id = (
            session()
            .execute(
                insert(ExportRun)
                .values(schedule_id=schedule.id, run_on=now.date())
                .on_conflict_do_nothing(index_elements=["schedule_id", "run_on"])
                .returning(ExportRun.id)
            )
            .scalar()
        )
        if run_id is not None:
            created.append(run_id)
    return created


def _start(run_id: int) -> tuple[dict, dict] | None:
    """(the schedule as plain values, the run's detail so far), counting the attempt."""
    with db.scope(current_tenant()) as s:
        run = s.get(ExportRun, run_id)
        schedule = s.get(ExportSchedule, run.schedule_id) if run is not None else None
        if schedule is None or run.status in {"ok", "error"}:
            tracked.stop("export_run", run_id)
            return None
        run.status, run.attempts = "running", run.attempts + 1
        tracked.beat("export_run", run_id)
        plan = {
            "id": schedule.id,
            "objects": dict(schedule.objects),
            "format": schedule.format,
            "delivery": schedule.delivery,
            "url": schedule.url,
            "secret": schedule.secret,
            "owner": schedule.created_by,
            "run_on": run.run_on.isoformat(),
            "attempt": run.attempts,
        }
        return plan, dict(run.detail or {})


def run(run_id: int, retries_left: int) -> str:
    """Write and deliver the files of a run; raise DeliveryFailed to be tried again."""
    started = _start(run_id)
    if started is None:
        return "nothing to do"
    plan, detail = started
    tenant_settings = settings()
    zone = ZoneInfo(tenant_settings.get("timezone", "UTC"))
    began = clock.monotonic()
    outcomes = dict(detail.get("objects") or {})
    with force_locale(tenant_settings.get("locale", "en")):
        for name, field_names in plan["objects"].items():
            if outcomes.get(name, {}).get("ok"):
                continue  # delivered on an earlier attempt
            try:
                outcomes[name] = _object(plan, run_id, name, field_names, zone)
            except Exception as exc:  # kept in the history, and the run tried again
                session().rollback()
                outcomes[name] = {"ok": False, "error": str(exc)[:300]}
    failed = {n: o for n, o in outcomes.items() if not o["ok"]}
    final = not failed or not retries_left or all(o.get("final") for o in failed.values())
    _record(run_id, plan, outcomes, failed, final, int((clock.monotonic() - began) * 1000))
    if failed and not final:
        raise DeliveryFailed(f"export run {run_id}: " + "; ".join(failed))
    return "error" if failed else "ok"


def _object(plan: dict, run_id: int, name: str, field_names: list, zone: ZoneInfo) -> dict:
    try:
        otype = get(name)
    except KeyError:
        return {"ok": False, "error": _("this kind of record no longer exists"), "final": True}
    fields = files.columns(otype, field_names)
    stmt = records.select_records(otype, viewer=SYSTEM).order_by(otype.model.id)
    with tempfile.TemporaryFile() as out:
        rows = files.write(otype, stmt, fields, plan["format"], out, zone)
        if plan["delivery"] == "url":
            out.seek(0)
            outcome = _post(plan, name, out.read(), rows)
        else:
            outcome = {"export_id": _keep(plan, run_id, name, [f.name for f in fields], out, rows)}
    return {"rows": rows, "ok": "error" not in outcome, **outcome}


def _keep(plan: dict, run_id: int, name: str, field_names: list, out, rows: int) -> int:
    """The file as a finished export of the schedule's author, on the exports page."""
    from saas.modules.exports.service import EXPIRY

    now = datetime.now(UTC)
    with db.scope(current_tenant()) as s:
        export = Export(
            user_id=plan["owner"],
            object=name,
            fields=field_names,
            format=plan["format"],
            status="finished",
            done=rows,
            total=rows,
            schedule_run_id=run_id,
            started_at=now,
            finished_at=now,
            expires_at=now + EXPIRY,
        )
        s.add(export)
        s.flush()
        export.size = files.store(export.id, out)
        return export.id


def _post(plan: dict, name: str, body: bytes, rows: int) -> dict:
    url = plan["url"]
    reason = blocked(url)
    if reason:
        return {"error": reason, "final": True}
    stamp = int(clock.time())
    extension = plan["format"]
    request = Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": files.FORMATS[plan["format"]],
            "Content-Disposition": f'attachment; filename="{name}-{plan["run_on"]}.{extension}"',
            "User-Agent": "CRM-Exports/1",
            "X-CRM-Export": f"{plan['id']}.{plan['run_on']}.{name}",
            "X-CRM-Object": name,
            "X-CRM-Rows": str(rows),
            "X-CRM-Signature": signature(plan["secret"], stamp, body),
        },
    )
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            return {"status": response.status}
    except HTTPError as exc:
        return {"status": exc.code, "error": f"HTTP {exc.code}"}
    except (URLError, OSError, ValueError) as exc:
        return {"error": str(getattr(exc, "reason", exc))[:300]}


def _record(run_id: int, plan: dict, outcomes: dict, failed: dict, final: bool, ms: int) -> None:
    """The attempt in the run's history, committed at once (a failure raises afterwards)."""
    statuses = [o["status"] for o in outcomes.values() if o.get("status") is not None]
    error = "; ".join(f"{name}: {o['error']}" for name, o in failed.items()) or None
    attempt = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "attempt": plan["attempt"],
        "ms": ms,
        "objects": {n: {k: v for k, v in o.items() if k != "ok"} for n, o in outcomes.items()},
    }
    with db.scope(current_tenant()) as s:
        run = s.get(ExportRun, run_id)
        if run is None:
            return  # the schedule was deleted meanwhile
        run.detail = {
            "objects": outcomes,
            "attempts": [*(run.detail or {}).get("attempts", []), attempt],
        }
        run.rows = sum(o.get("rows", 0) for o in outcomes.values())
        # The answer that matters: a failing one if any failed, else the last success.
        failing = [o["status"] for o in failed.values() if o.get("status") is not None]
        run.http_status = (failing or statuses or [None])[-1]
        run.duration_ms = ms
        run.error = error
        run.status = "ok" if not failed else ("error" if final else "retrying")
        if final:
            run.finished_at = datetime.now(UTC)
            tracked.stop("export_run", run_id)
        else:
            tracked.beat("export_run", run_id)  # RQ holds the retry; it is not lost


def give_up(run_id: int, reason: str) -> None:
    """The reconciler tried too often: the day's run has failed."""
    run = session().get(ExportRun, run_id)
    if run is not None and run.status not in {"ok", "error"}:
        run.status, run.error, run.finished_at = "error", reason, datetime.now(UTC)
