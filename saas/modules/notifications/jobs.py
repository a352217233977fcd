"""The e-mail copy of a notification, sent once however often its job runs."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from saas.db import current_tenant, session
from saas.jobs import job
from saas.mail import queue_email
from saas.modules.notifications.models import Notification
from saas.modules.workspace.service import member_address, settings


@job(queue="notifications")
def send_notification_email(notification_id: int) -> str:
    """E-mail one notification to its user, unless it was e-mailed (or read) already."""
    # Locked and freshly read: a concurrent run of this job waits, then sees the stamp.
    stmt = (
        select(Notification)
        .where(Notification.id == notification_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    notification = session().execute(stmt).scalar_one_or_none()
    if notification is None:
        return "gone"
    if notification.emailed_at is not None:
        return "already sent"
    if notification.read_at is not None:
        return "read in the app already"
    address = member_address(notification.user_id)
    if address is None:
        return "no one to tell"
    email, name = address
    notification.emailed_at = datetime.now(UTC)
    # Sent by its own job after this commit: the stamp and the e-mail go together.
    queue_email(email, *_message(notification, name))
    return "sent"


def _message(notification: Notification, name: str) -> tuple[str, str]:
    """Subject and body in the tenant's language, with a link to the page it is about."""
    base = "{}/app/{}".format(current_app.config["BASE_URL"].rstrip("/"), current_tenant().slug)
    link = base + (notification.url or "/notifications/")
    with force_locale(settings().get("locale", "en")):
        lines = [_("Hello %(name)s,", name=name), "", notification.title]
        if notification.body:
            lines += ["", notification.body]
        lines += ["", _("Open it in the CRM:"), link]
    return notification.title, "\n".join(lines)
