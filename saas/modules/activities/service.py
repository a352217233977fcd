"""Activities: completion, reminders and the calendar's query. Flushes, never commits.

Every write still goes through ``records.service``; the hooks below keep the
completion time and the reminder schedule in step with what was written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from saas.db import session
from saas.modules.activities.models import Activity
from saas.modules.records import service
from saas.modules.records.registry import ObjectType, get

CALENDAR_LIMIT = 1000  # items on one calendar page; a month of a busy team fits


def now() -> datetime:
    return datetime.now(UTC)


def before_write(record: Activity, values: dict, is_new: bool) -> None:
    """Stamp ``done_at`` when an activity is completed (clear it when reopened), and
    re-arm the reminder when its time changes."""
    if "done" in values and "done_at" not in values:
        done = bool(values["done"])
        if done and not record.done:
            values["done_at"] = now()
        elif not done and (record.done or is_new):
            values["done_at"] = None
    moved = values.get("remind_at", record.remind_at)
    if moved != record.remind_at and (moved is None or moved > now()):
        # A new reminder time ahead is a new reminder, even if the old one was sent; one
        # moved into the past (or a form rounding it to the minute) does not re-send it.
        record.reminded_at = None


def after_write(record: Activity, changes: dict, is_new: bool, actor: int | None) -> None:
    """Schedule the reminder e-mail when the reminder time is set or moved."""
    if "remind_at" in changes and not record.done:
        schedule_reminder(record)


def schedule_reminder(record: Activity) -> None:
    """A delayed job at ``remind_at`` (after commit); it re-checks everything when it runs."""
    from saas.jobs import enqueue
    from saas.modules.activities.jobs import send_reminder

    if record.remind_at is None or record.reminded_at is not None:
        return
    delay = record.remind_at - now()
    if delay <= timedelta(0):
        return  # already due: the periodic sweep sends it within minutes
    enqueue(send_reminder, record.id, record.remind_at.isoformat(), delay=delay)


def set_done(otype: ObjectType, activity: Activity, done: bool, actor: int | None) -> bool:
    """Complete or reopen an activity (on its timeline); False if nothing changed."""
    return bool(service.update(otype, activity, {"done": done}, actor=actor, trusted=True))


def related_record(activity: Activity):
    """(object type, record) the activity is about, if it exists and the viewer may see it."""
    if not activity.related_object or not activity.related_id:
        return None
    try:
        otype = get(activity.related_object)
    except KeyError:
        return None
    record = service.get_record(otype, activity.related_id)
    return (otype, record) if record is not None else None


# -- calendar ------------------------------------------------------------------------


def day_bounds(first: date, last: date, tz: str) -> tuple[datetime, datetime]:
    """From midnight starting ``first`` to midnight ending ``last``, in the time zone ``tz``."""
    zone = ZoneInfo(tz)
    return (
        datetime.combine(first, time(), zone),
        datetime.combine(last + timedelta(days=1), time(), zone),
    )


def in_range(start: datetime, end: datetime, owner_id: int | None) -> list[Activity]:
    """Visible activities due in [start, end), of ``owner_id`` (everyone's if None)."""
    stmt = service.select_records(get("activity")).where(
        Activity.due_at >= start, Activity.due_at < end
    )
    if owner_id is not None:
        stmt = stmt.where(Activity.owner_id == owner_id)
    stmt = stmt.order_by(Activity.due_at, Activity.id).limit(CALENDAR_LIMIT)
    return list(session().execute(stmt).scalars())


# -- reminders -----------------------------------------------------------------------


def due_reminders(stale: timedelta, limit: int = 500) -> list[int]:
    """Ids of activities whose reminder time has come (less than ``stale`` ago) and
    whose assignee has not been told yet."""
    moment = now()
    stmt = (
        select(Activity.id)
        .where(
            Activity.remind_at <= moment,
            Activity.remind_at > moment - stale,
            Activity.reminded_at.is_(None),
            Activity.done.is_(False),
            Activity.deleted_at.is_(None),
        )
        .order_by(Activity.remind_at)
        .limit(limit)
    )
    return list(session().execute(stmt).scalars())
