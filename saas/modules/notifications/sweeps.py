"""Notifications that time causes: tasks due and overdue, contacts' birthdays, and the
daily digest. Periodic platform jobs fan out one tenant job each (``saas/schedule.py``).

Exactly once, however often a sweep runs: each notification has a key (the task and
its due time, the contact and the year), and the sweeps skip what already has one.

* **Task due**: an open task (activity of kind "task") whose due time has come, found
  within a day of it, notifies its owner once per due time (moving the due time is a
  new due time).
* **Task overdue**: still open after the end of its due day (the tenant's midnight),
  once per due day, found within a week of it.
* **Birthdays** (when the company turned "Remind owners of contacts' birthdays" on): at
  or after 07:00 on the day, in the tenant's time zone, the contact's owner is told, once
  a year; a 29 February birthday is on 28 February in other years.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete, exists, extract, func, or_, select
from sqlalchemy.dialects.postgresql import insert

from saas.db import session
from saas.jobs import enqueue_for_every_tenant, job
from saas.modules.activities.models import Activity
from saas.modules.customers.models import Contact
from saas.modules.notifications import digest
from saas.modules.notifications.models import Notification, NotificationSweep
from saas.modules.notifications.service import batched, notify
from saas.modules.records.registry import get

DUE_WINDOW = timedelta(days=1)  # a due time found later than this is old news
OVERDUE_DAYS = 7
LIMIT = 500  # per kind and run: the next run takes the rest
BIRTHDAY_HOUR = 7  # before the 08:00 digest, so a digest reader sees it the same day
KEEP_SWEEPS = timedelta(days=30)


def _settings() -> dict:
    from saas.modules.workspace.service import settings

    return settings()


def _now(at: str | None) -> datetime:
    return datetime.fromisoformat(at) if at else datetime.now(UTC)


# -- tasks -------------------------------------------------------------------------------------


@job(queue="notifications", timeout=600)
def notify_due_tasks(at: str | None = None) -> dict:
    """This tenant's tasks that became due or overdue (``at``: an ISO time, for tests)."""
    config = _settings()
    zone, lang = ZoneInfo(config.get("timezone", "UTC")), config.get("locale", "en")
    now = _now(at)
    return {"due": _due(now, zone, lang), "overdue": _overdue(now, zone, lang)}


@job(queue="default", tenant=False)
def sweep_due_tasks() -> int:
    """Periodic: one ``notify_due_tasks`` job per active tenant."""
    return enqueue_for_every_tenant(notify_due_tasks)


def _open_tasks():
    a = Activity
    return select(a).where(
        a.kind == "task", a.done.is_(False), a.deleted_at.is_(None), a.owner_id.is_not(None)
    )


def _not_notified(key):
    """No notification with ``key`` (an SQL expression) for the task's owner yet: the
    unique (user_id, key) index answers it."""
    return ~exists().where(Notification.user_id == Activity.owner_id, Notification.key == key)


def _due_key_sql():
    stamp = func.to_char(func.timezone("UTC", Activity.due_at), "YYYYMMDDHH24MI")
    return func.concat("task_due:", Activity.id, ":", stamp)


def _due_key(task: Activity) -> str:
    return f"task_due:{task.id}:{task.due_at.astimezone(UTC):%Y%m%d%H%M}"


def _overdue_key_sql(zone: ZoneInfo):
    day = func.to_char(func.timezone(zone.key, Activity.due_at), "YYYY-MM-DD")
    return func.concat("task_overdue:", Activity.id, ":", day)


def _overdue_key(task: Activity, zone: ZoneInfo) -> str:
    return f"task_overdue:{task.id}:{task.due_at.astimezone(zone).date().isoformat()}"


def _when(task: Activity, zone: ZoneInfo, lang: str) -> str:
    return format_datetime(task.due_at, "yyyy-MM-dd HH:mm", tzinfo=zone, locale=lang)


def _due(now: datetime, zone: ZoneInfo, lang: str) -> int:
    stmt = (
        _open_tasks()
        .where(Activity.due_at <= now, Activity.due_at > now - DUE_WINDOW)
        .where(_not_notified(_due_key_sql()))
        .order_by(Activity.due_at)
        .limit(LIMIT)
    )
    count = 0
    for task in session().execute(stmt).scalars():
        with force_locale(lang):
            title = _("Task due: %(subject)s", subject=task.subject)
            body = _("Due %(when)s (%(zone)s)", when=_when(task, zone, lang), zone=zone.key)
        url = f"/{get('activity').slug}/{task.id}"
        count += notify(
            [task.owner_id], kind="task_due", title=title, body=body, url=url, key=_due_key(task)
        )
    return count


def _overdue(now: datetime, zone: ZoneInfo, lang: str) -> int:
    today = now.astimezone(zone).date()
    start = datetime.combine(today - timedelta(days=OVERDUE_DAYS), time(0), zone)
    end = datetime.combine(today, time(0), zone)  # the due day has ended
    stmt = (
        _open_tasks()
        .where(Activity.due_at >= start, Activity.due_at < end)
        .where(_not_notified(_overdue_key_sql(zone)))
        .order_by(Activity.due_at)
        .limit(LIMIT)
    )
    count = 0
    for task in session().execute(stmt).scalars():
        with force_locale(lang):
            title = _("Overdue: %(subject)s", subject=task.subject)
            body = _("Was due %(when)s (%(zone)s)", when=_when(task, zone, lang), zone=zone.key)
        url = f"/{get('activity').slug}/{task.id}"
        key = _overdue_key(task, zone)
        count += notify(
            [task.owner_id], kind="task_overdue", title=title, body=body, url=url, key=key
        )
    return count


# -- once a day: birthdays, then the digest ----------------------------------------------------


@job(queue="notifications", timeout=900)
def send_daily_notifications(at: str | None = None) -> dict:
    """Hourly per tenant: birthdays (once a day, from 07:00) and the digest (from 08:00)."""
    config = _settings()
    now = _now(at)
    local = now.astimezone(ZoneInfo(config.get("timezone", "UTC")))
    birthdays = 0
    if (
        config.get("birthday_reminders")
        and local.hour >= BIRTHDAY_HOUR
        and _claim("birthdays", local.date())
    ):
        birthdays = notify_birthdays(local.date(), config.get("locale", "en"))
    stale = local.date() - KEEP_SWEEPS
    session().execute(delete(NotificationSweep).where(NotificationSweep.day < stale))
    return {"birthdays": birthdays, "digests": digest.send_digests(now, config)}


@job(queue="default", tenant=False)
def sweep_daily_notifications() -> int:
    """Periodic (hourly): one ``send_daily_notifications`` job per active tenant."""
    return enqueue_for_every_tenant(send_daily_notifications)


def _claim(name: str, day: date) -> bool:
    """Whether this run is the first of ``day`` (a concurrent run waits on the row, then
    finds it taken); the claim commits or rolls back with what the run did."""
    stmt = (
        insert(NotificationSweep)
        .values(name=name, day=day)
        .on_conflict_do_nothing()
        .returning(NotificationSweep.name)
    )
    return session().execute(stmt).first() is not None


def birthday_days(today: date) -> list[tuple[int, int]]:
    """(month, day) of the birthdays celebrated ``today``."""
    days = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.append((2, 29))
    return days


def notify_birthdays(today: date, lang: str) -> int:
    """Each owner hears of their contacts' birthdays today (one summary for several)."""
    contact = get("contact")
    c = Contact
    on_the_day = [
        (extract("month", c.birthday) == month) & (extract("day", c.birthday) == day)
        for month, day in birthday_days(today)
    ]
    stmt = (
        select(c)
        .where(c.deleted_at.is_(None), c.owner_id.is_not(None), c.birthday.is_not(None))
        .where(or_(*on_the_day))
        .order_by(c.id)
    )
    count = 0
    with batched():
        for person in session().execute(stmt).scalars():
            with force_locale(lang):
                title = _("Birthday today: %(name)s", name=contact.title(person))
            notify(
                [person.owner_id],
                kind="birthday",
                title=title,
                url=f"/{contact.slug}/{person.id}",
                key=f"birthday:{person.id}:{today.year}",
            )
            count += 1
    return count
