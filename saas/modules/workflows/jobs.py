"""Workflow jobs: notifications and webhooks of a run (after its commit), and the
hourly timers that fire "date" and "schedule" rules in each tenant."""

from __future__ import annotations

import logging
import time as clock
from datetime import UTC, datetime, time, timedelta
from urllib.error import HTTPError, URLError
from urllib.request import Request
from zoneinfo import ZoneInfo

from rq import get_current_job
from sqlalchemy import Date, and_, cast, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm.attributes import flag_modified

from saas.db import current_tenant, db, session
from saas.jobs import enqueue_for_every_tenant, job
from saas.modules.customization import meta
from saas.modules.records import access
from saas.modules.records import service as records
from saas.modules.records.registry import get
from saas.modules.workflows import engine
from saas.modules.workflows.definition import tz
from saas.modules.workflows.matching import Compiled
from saas.modules.workflows.models import WorkflowFiring, WorkflowRule, WorkflowRun
from saas.outbound import blocked as _blocked
from saas.outbound import opener as _opener
from saas.outbound import signature

log = logging.getLogger(__name__)
WEBHOOK_RETRIES = 5  # after the first attempt; RQ waits 10 s, 1 min, 5 min, 15 min, 1 h
BATCH = 500
MAX_DATE_FIRINGS = 2_000  # per rule and run: the next hourly run takes the rest
MAX_SCHEDULED = 10_000  # records per run of a "schedule" rule
LATE_DAYS = 30  # a date passed longer ago is history: a new rule does not fire on it
KEEP_RUNS = timedelta(days=180)


# -- notifications ---------------------------------------------------------------------------


@job(queue="notifications", timeout=120)
def send_notifications(
    run_id: int, index: int, user_ids: list[int], title: str, body: str, url: str
) -> int:
    """In-app notifications and e-mails of one notify action of a run: once per person,
    however often the job runs (the key is the run, the action and the person)."""
    from saas.modules.notifications.service import notify

    return sum(
        notify(
            [uid],
            kind="workflow",
            title=title,
            body=body,
            url=url,
            key=f"wf:{run_id}:{index}:{uid}",
        )
        for uid in user_ids
    )


# -- webhooks ----------------------------------------------------------------------------------


class WebhookFailed(RuntimeError):
    """A delivery did not get a 2xx answer: RQ tries again later."""


def _post(url: str, secret: str, body: str, event_id: str) -> dict:
    stamp = int(clock.time())
    request = Request(
        url,
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "CRM-Webhooks/1",
            "X-CRM-Event": event_id,
            "X-CRM-Signature": signature(secret, stamp, body),
        },
    )
    reason = _blocked(url)
    if reason:
        return {"error": reason, "final": True}
    try:
        with _opener.open(request, timeout=10) as response:
            return {"status": response.status}
    except HTTPError as exc:
        return {"status": exc.code, "error": f"HTTP {exc.code}"}
    except (URLError, OSError, ValueError) as exc:
        return {"error": str(getattr(exc, "reason", exc))[:300]}


@job(queue="webhooks", timeout=60, retries=WEBHOOK_RETRIES)
def deliver_webhook(run_id: int, index: int, body: str) -> int | None:
    """POST a run's webhook, signed with the rule's secret; the outcome goes to the run."""
    run = session().get(WorkflowRun, run_id)
    rule = session().get(WorkflowRule, run.rule_id) if run is not None else None
    action = rule.actions[index] if rule is not None and index < len(rule.actions) else None
    current = get_current_job()
    left = getattr(current, "retries_left", None) or 0
    attempt = WEBHOOK_RETRIES - left + 1 if current is not None else 1
    if action is None or action.get("kind") != "webhook":
        outcome = {"error": "not sent: the rule was deleted or changed", "final": True}
    else:
        outcome = _post(action["url"], action["secret"], body, f"{run_id}.{index}")
    failed = "error" in outcome
    final = outcome.pop("final", False) or not left
    if run is not None:
        _record(run_id, index, outcome, attempt, retry=failed and not final)
    if failed and not final:
        raise WebhookFailed(f"run {run_id} webhook {index}: {outcome['error']}")
    return outcome.get("status")


def _record(run_id: int, index: int, outcome: dict, attempt: int, retry: bool) -> None:
    """Note the attempt on the run, committed at once (a failure raises afterwards)."""
    with db.scope(current_tenant()) as s:
        run = s.execute(
            select(WorkflowRun).where(WorkflowRun.id == run_id).with_for_update()
        ).scalar_one()
        detail = dict(run.detail)
        actions = [dict(a) for a in detail.get("actions", [])]
        if index < len(actions):
            action = actions[index]
            attempt_row = {"at": datetime.now(UTC).isoformat(), "attempt": attempt, **outcome}
            if retry:
                attempt_row["retry"] = True
            action["deliveries"] = [*action.get("deliveries", []), attempt_row]
            if "error" in outcome:
                action["error"] = outcome["error"]
            else:
                action.pop("error", None)
        detail["actions"] = actions
        run.detail = detail
        flag_modified(run, "detail")
        failed = any("error" in a for a in actions) or "error" in detail
        run.status = "stopped" if run.status == "stopped" else ("error" if failed else "ok")


# -- timers ---------------------------------------------------------------------------------------


@job(queue="default", tenant=False)
def sweep_workflow_timers() -> int:
    """Periodic: one ``fire_timers`` job per active tenant."""
    return enqueue_for_every_tenant(fire_timers)


@job(queue="default", timeout=1800)
def fire_timers() -> dict:
    """This tenant's "date" rules whose date has come and "schedule" rules whose hour has."""
    zone = ZoneInfo(tz())
    now = datetime.now(zone)
    counts = {"date": 0, "schedule": 0}
    for found in engine.rules().values():
        for rule in found.timed:
            if rule.kind == "date":
                counts["date"] += _fire_dates(rule, now.date(), zone)
            else:
                counts["schedule"] += _fire_schedule(rule, now)
    session().execute(delete(WorkflowRun).where(WorkflowRun.at < now - KEEP_RUNS))
    # A due date this old is outside every window: its firing can never be asked about.
    stale = now.date() - timedelta(days=LATE_DAYS + 1)
    session().execute(delete(WorkflowFiring).where(WorkflowFiring.due_on < stale))
    return counts


def _due_window(rule: Compiled, today, zone):
    """(WHERE clause of records due, SQL due date, due date of a record in Python)."""
    otype = get(rule.object)
    f = rule.trigger_field
    offset = int(rule.trigger.get("offset") or 0)
    col = otype.column(f.name)
    last = today - timedelta(days=offset)  # the latest date that is due today
    first = last - timedelta(days=LATE_DAYS)
    if f.type == "date":
        return (
            and_(col >= first, col <= last),
            col + offset,
            lambda v: v + timedelta(days=offset),
        )
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last + timedelta(days=1), time(0), zone)
    return (
        and_(col >= start, col < end),
        cast(func.timezone(str(zone), col), Date) + offset,
        lambda v: v.astimezone(zone).date() + timedelta(days=offset),
    )


def _fire_dates(rule: Compiled, today, zone) -> int:
    """Fire once per record and due date: the firing row is written with the run."""
    otype = get(rule.object)
    model = otype.model
    window, due_sql, due_of = _due_window(rule, today, zone)
    fired = exists().where(
        WorkflowFiring.rule_id == rule.id,
        WorkflowFiring.record_id == model.id,
        WorkflowFiring.due_on == due_sql,
    )
    stmt = (
        records.select_records(otype, viewer=access.SYSTEM)
        .where(window, rule.where(otype), ~fired)
        .order_by(model.id)
        .limit(BATCH)
    )
    count = 0
    while count < MAX_DATE_FIRINGS:
        batch = list(session().execute(stmt).scalars())
        meta.attach(otype, batch)
        for record in batch:
            if not rule.matches(record, {}):  # what the SQL could not test (patterns)
                continue
            due_on = due_of(getattr(record, rule.trigger_field.name))
            claimed = (
                session()
                .execute(
                    insert(WorkflowFiring)
                    .values(rule_id=rule.id, record_id=record.id, due_on=due_on)
                    .on_conflict_do_nothing()
                    .returning(WorkflowFiring.rule_id)
                )
                .first()
            )
            if claimed is not None:
                engine.fire(rule, otype, record, "date")
                count += 1
        if len(batch) < BATCH:
            break
    return count


def slot(trigger: dict, now: datetime) -> datetime:
    """The latest time at or before ``now`` (tenant time) the schedule names."""
    if trigger.get("every") == "hourly":
        return now.replace(minute=0, second=0, microsecond=0)
    at = now.replace(hour=int(trigger.get("hour") or 0), minute=0, second=0, microsecond=0)
    return at if at <= now else at - timedelta(days=1)


def _fire_schedule(rule: Compiled, now: datetime) -> int:
    row = (
        session()
        .execute(
            select(WorkflowRule)
            .where(WorkflowRule.id == rule.id, WorkflowRule.active.is_(True))
            .with_for_update(skip_locked=True)
        )
        .scalar_one_or_none()
    )
    if row is None:
        return 0  # deactivated, or another worker runs it right now
    if (row.last_run_at or row.created_at) >= slot(rule.trigger, now):
        return 0
    row.last_run_at = now
    otype = get(rule.object)
    model = otype.model
    base = records.select_records(otype, viewer=access.SYSTEM).where(rule.where(otype))
    count, after = 0, 0
    while count < MAX_SCHEDULED:
        batch = list(
            session()
            .execute(
                base.where(model.id > after)
                .order_by(model.id)
                .limit(min(BATCH, MAX_SCHEDULED - count))
            )
            .scalars()
        )
        meta.attach(otype, batch)
        for record in batch:
            after = record.id
            if not rule.matches(record, {}):  # what the SQL could not test (patterns)
                continue
            engine.fire(rule, otype, record, "schedule")
            count += 1
        if len(batch) < BATCH:
            break
    return count
