"""Reminder e-mails: a delayed job per reminder, and a periodic sweep as a safety net.

The delayed job can be lost (Redis flushed) or run twice (a retry); both paths
lock the activity and stamp ``reminded_at``, so each reminder goes out once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from saas.db import current_tenant, session
from saas.jobs import enqueue_for_every_tenant, job
from saas.mail import queue_email
from saas.modules.activities import service
from saas.modules.activities.models import Activity
from saas.modules.records import service as records
from saas.modules.records.registry import get
from saas.modules.workspace.service import member_address

# A reminder found more than this late by the sweep is dropped: by then it is noise.
STALE = timedelta(days=2)


@job(queue="notifications")
def send_reminder(activity_id: int, remind_at: str | None = None) -> str:
    """The delayed job of one reminder; does nothing if the reminder was moved or settled."""
    activity = _locked(activity_id)
    if activity is None:
        return "gone"
    if remind_at is not None and activity.remind_at != datetime.fromisoformat(remind_at):
        return "moved"  # a newer job, scheduled for the new time, will send it
    return _remind(activity)


@job(queue="notifications", timeout=600)
def send_due_reminders() -> int:
    """This tenant's reminders whose time has come but whose job never ran."""
    sent = 0
    for activity_id in service.due_reminders(stale=STALE):
        activity = _locked(activity_id)
        if activity is not None and _remind(activity) == "sent":
            sent += 1
    return sent


@job(queue="default", tenant=False)
def sweep_reminders() -> int:
    """Periodic: one ``send_due_reminders`` job per active tenant."""
    return enqueue_for_every_tenant(send_due_reminders)


def _locked(activity_id: int) -> Activity | None:
    """The activity, locked and freshly read: a concurrent run waits, then sees the stamp."""
    stmt = (
        select(Activity)
        .where(Activity.id == activity_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session().execute(stmt).scalar_one_or_none()


def _remind(activity: Activity) -> str:
    if activity.deleted_at is not None or activity.done:
        return "settled"
    if activity.remind_at is None or activity.reminded_at is not None:
        return "not due"
    owner = member_address(activity.owner_id)
    records.update(get("activity"), activity, {"reminded_at": service.now()}, trusted=True)
    if owner is None:
        return "no one to tell"
    email, name = owner
    queue_email(email, *_message(activity, name))
    return "sent"


def _message(activity: Activity, name: str) -> tuple[str, str]:
    """Subject and body, in the tenant's language, times in the tenant's time zone."""
    from saas.modules.workspace.service import settings

    config = settings()
    zone, lang = ZoneInfo(config.get("timezone", "UTC")), config.get("locale", "en")
    tenant = current_tenant()
    link = "{}/app/{}/{}/{}".format(
        current_app.config["BASE_URL"].rstrip("/"), tenant.slug, get("activity").slug, activity.id
    )
    with force_locale(lang):
        subject = _("Reminder: %(subject)s", subject=activity.subject)
        lines = [_("Hello %(name)s,", name=name), "", activity.subject]
        if activity.due_at is not None:
            due = format_datetime(activity.due_at, "yyyy-MM-dd HH:mm", tzinfo=zone, locale=lang)
            lines.append(_("Due: %(when)s (%(zone)s)", when=due, zone=zone.key))
        lines += ["", _("Open it in the CRM:"), link]
    return subject, "\n".join(lines)
