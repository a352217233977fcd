"""The daily digest: one e-mail a day per user listing the notifications they chose to
receive that way ("digest"), sent at or after 08:00 in the tenant's time zone.

Exactly once per notification: a run stamps ``emailed_at`` on the rows it lists with
one ``UPDATE … RETURNING`` (which locks them; a concurrent run waits, then finds them
stamped) in the transaction that queues the e-mail. A notification read in the app
before the digest goes out is left out: the user has seen it. What arrives after 08:00
waits for the next day's digest, so nobody gets two digests in one day.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from saas.db import current_tenant, session
from saas.mail import queue_email
from saas.modules.notifications.models import Notification
from saas.modules.notifications.service import link
from saas.modules.workspace.service import member_address

DIGEST_HOUR = 8
LISTED = 50  # items written out in one e-mail; the rest are counted and linked


def _pending(cutoff: datetime):
    n = Notification
    return (
        n.channel == "digest",
        n.emailed_at.is_(None),
        n.read_at.is_(None),
        n.created_at < cutoff,
    )


def send_digests(now: datetime, settings: dict) -> int:
    """Send today's digests if it is 08:00 or later here; returns how many were sent."""
    zone = ZoneInfo(settings.get("timezone", "UTC"))
    local = now.astimezone(zone)
    if local.hour < DIGEST_HOUR:
        return 0
    cutoff = datetime.combine(local.date(), time(DIGEST_HOUR), zone)
    users = session().execute(
        select(Notification.user_id).where(*_pending(cutoff)).distinct().order_by("user_id")
    )
    sent = 0
    for user_id in list(users.scalars()):
        n = Notification
        rows = list(
            session()
            .execute(
                update(n)
                .where(n.user_id == user_id, *_pending(cutoff))
                .values(emailed_at=func.now())
                .returning(n)
                .execution_options(synchronize_session=False)
            )
            .scalars()
        )
        address = member_address(user_id)
        if not rows or address is None:
            continue  # stamped all the same: someone who left gets nothing, now or later
        rows.sort(key=lambda r: r.id)
        queue_email(address[0], *_message(rows, address[1], settings.get("locale", "en")))
        sent += 1
    return sent


def _message(rows: list[Notification], name: str, lang: str) -> tuple[str, str]:
    tenant = current_tenant()
    base = current_app.config["BASE_URL"].rstrip("/")
    home = f"{base}/app/{tenant.slug}"
    company = tenant.name or tenant.slug
    with force_locale(lang):
        subject = ngettext(
            "%(num)d new notification in %(company)s",
            "%(num)d new notifications in %(company)s",
            len(rows),
            company=company,
        )
        lines = [_("Hello %(name)s,", name=name), "", _("Your daily summary:"), ""]
        for row in rows[:LISTED]:
            lines.append(f"- {row.title}")
            if row.body:
                lines.append("  " + row.body.splitlines()[0])
            target = link(row)
            if target:
                lines.append(f"  {base}{target}")
        if len(rows) > LISTED:
            lines += ["", _("… and %(n)d more.", n=len(rows) - LISTED)]
        lines += [
            "",
            _("All your notifications:") + f" {home}/notifications/",
            _("Choose what you receive, and how:") + f" {home}/notifications/preferences",
        ]
    return subject, "\n".join(lines)
